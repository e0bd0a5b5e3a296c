"""``docs/openapi.json``: the HTTP API's OpenAPI 3.1 document, generated from the code.

Powertools' resolver emits it from the same models it validates requests with
(``fanout.core.requests``); the answers' schemas are generated from the msgspec models that build
them (``fanout.entry.schemas.ANSWERS``, ``fanout.core.model.schemas``). This adds the security
schemes the template configures (SigV4, or a JWT authorizer by ``ApiAuth``) and drops Powertools'
own validation-error schemas, which this API never answers with (it answers RFC 9457
problems instead).

    python -m devtools.openapi            print it
    python -m devtools.openapi --write    write docs/openapi.json (``make openapi``)
    python -m devtools.openapi --check    exit 1 when docs/openapi.json is out of date
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DOCUMENT = ROOT / "docs" / "openapi.json"
SECURITY_SCHEMES = {
    "sigv4": {
        "type": "apiKey",
        "name": "Authorization",
        "in": "header",
        "description": "AWS Signature Version 4 (ApiAuth=IAM, the default): sign for service execute-api.",
    },
    "jwt": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "A JWT from the stack's issuer, for its audience (ApiAuth=JWT).",
    },
}
POWERTOOLS_SCHEMAS = ("HTTPValidationError", "ValidationError", "ResponseValidationError")


ALERT_WEBHOOKS = {
    "monitorAlert": {
        "post": {
            "summary": "A monitor's alert, as its webhook routes, the SNS topic and the bus get it",
            "description": "Signed (Standard Webhooks) when the route has a secret: docs/monitors.md#alerts",
            "requestBody": {
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/AlertMessage"}}}
            },
            "responses": {"2XX": {"description": "Taken; a 410 stops the route"}},
        }
    }
}


def _referenced(document: Any) -> set[str]:
    text = json.dumps(document)
    return set(re.findall(r'"#/components/schemas/([^"]+)"', text))


def build() -> dict[str, Any]:
    from fanout.core.alerts import AlertMessage
    from fanout.core.model import schemas as document_schemas
    from fanout.entry.api import app
    from fanout.entry.schemas import ANSWERS

    spec: dict[str, Any] = json.loads(
        app.get_openapi_json_schema(
            title="fanout",
            version="1.0.0",
            openapi_version="3.1.0",
            summary="Fetch many URLs concurrently from AWS Lambda, within the invocation's deadline.",
            description="The HTTP API of fanout (docs/contract.md, docs/checks.md, docs/monitors.md).",
        )
    )
    spec["servers"] = [{"url": "https://{api_id}.execute-api.{region}.amazonaws.com", "variables": {
        "api_id": {"default": "abc123"}, "region": {"default": "us-east-1"}}}]  # fmt: skip
    components = spec.setdefault("components", {})
    components["securitySchemes"] = SECURITY_SCHEMES
    spec["security"] = [{"sigv4": []}, {"jwt": []}]
    schemas = components.setdefault("schemas", {})
    answers = document_schemas([*sorted(ANSWERS, key=lambda m: m.__name__), AlertMessage])
    spec["webhooks"] = ALERT_WEBHOOKS
    clashes = set(answers) & set(schemas)
    if clashes:
        raise SystemExit(f"answer and request schemas share names: {sorted(clashes)}")
    schemas |= answers
    for name in POWERTOOLS_SCHEMAS:
        schemas.pop(name, None)
    unused = (
        set(schemas)
        - _referenced({k: v for k, v in spec.items() if k != "components"})
        - _referenced(schemas)
    )
    for name in unused:
        schemas.pop(name)
    return spec


def render(spec: dict[str, Any]) -> str:
    return json.dumps(spec, indent=2, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write", action="store_true")
    group.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    text = render(build())
    if args.write:
        DOCUMENT.write_text(text)
        print(f"wrote {DOCUMENT.relative_to(ROOT)}")
    elif args.check:
        if not DOCUMENT.is_file() or DOCUMENT.read_text() != text:
            print(f"{DOCUMENT.relative_to(ROOT)} is out of date: run make openapi", file=sys.stderr)
            return 1
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
