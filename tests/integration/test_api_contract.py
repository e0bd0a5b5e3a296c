"""The HTTP API against its OpenAPI document (``docs/openapi.json``): the document is what the code
generates, and schemathesis fuzzes the API with it.

schemathesis calls the real handler in-process, through ``devtools.local_api.wsgi_app`` (the same
HTTP API v2 events API Gateway sends): hundreds of requests in seconds, where ``sam local
start-api`` starts a container per request worker and answers in ~100 ms each (its routes are
proven by tests/e2e/test_sam_local_api.py). Stores are on moto, so the read routes answer 200 and
404 as well as problems, and every feature is on (sharded runs, monitors, idempotency): a
deployment's 501 for a feature it has off is tested where that feature is. Generated URLs are
pointed at a closed port on 127.0.0.1 (and retries kept low) before a request is sent: nothing
leaves this machine, and every run ends in milliseconds.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks

from devtools import openapi
from devtools.local_api import wsgi_app
from tests.support import ROOT, free_port

SPEC = json.loads((ROOT / "docs" / "openapi.json").read_text())
CLOSED = f"127.0.0.1:{free_port()}"

schema = schemathesis.openapi.from_dict(SPEC)
schema.app = wsgi_app
# Every feature on, for every test here (sharded runs, monitors, idempotency).
pytestmark = [
    pytest.mark.deployment("reports", "runs", "idempotency", "shards", "monitors"),
    pytest.mark.usefixtures("deployed"),
]


def test_the_openapi_document_is_what_the_code_generates() -> None:
    assert openapi.render(openapi.build()) == (ROOT / "docs" / "openapi.json").read_text(), (
        "docs/openapi.json is out of date: run make openapi"
    )


def test_every_error_answer_is_a_documented_problem() -> None:
    for path, methods in SPEC["paths"].items():
        for method, operation in methods.items():
            for status, response in operation["responses"].items():
                if status.startswith("2"):
                    assert set(response["content"]) == {"application/json"}, (method, path, status)
                    continue
                content = response["content"]
                assert set(content) == {"application/problem+json"}, (method, path, status)
                problem = {"$ref": "#/components/schemas/Problem"}
                assert content["application/problem+json"]["schema"] == problem
            assert {"422"} <= set(operation["responses"]), (method, path)


def _loopback(url: Any) -> Any:
    """A generated http(s) URL, pointed at a closed port on this machine (others stay as they are)."""
    if not isinstance(url, str):
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return url
    return urlunsplit(("http", CLOSED, parts.path, parts.query, parts.fragment))


def _contained(body: Any) -> Any:
    """The generated request, unable to reach beyond 127.0.0.1 or to run long."""
    if not isinstance(body, dict):
        return body
    urls = body.get("urls")
    if isinstance(urls, list):
        body["urls"] = [
            (e | {"url": _loopback(e.get("url"))}) if isinstance(e, dict) else _loopback(e) for e in urls
        ]
    options = body.get("options")
    if isinstance(options, dict) and isinstance(options.get("retries"), int) and options["retries"] > 1:
        options["retries"] = 1
    return body


@schema.parametrize()
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_the_api_answers_as_its_openapi_document_says(case: schemathesis.Case) -> None:
    """Stateless checks: no server error, status codes, content types, headers and bodies as
    documented, for generated valid and invalid requests."""
    if case.body is not None:
        case.body = _contained(case.body)
    case.call_and_validate(checks=CHECKS)


# The stateless checks. Not ``positive_data_acceptance``: the contract validates more than JSON
# Schema can say (a regex that compiles, a JSON Pointer's escapes, a range low to high, hosts), so a
# schema-valid request may rightly be a 422. Not ``ignored_auth``: API Gateway authorizes, before
# the function (tests/e2e/test_template.py checks every route's authorizer).
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
    checks.negative_data_rejection,
]
