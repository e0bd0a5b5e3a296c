"""``docs/monitors.schema.json``: the JSON Schema of a monitors file, generated from its models
(``fanout.core.fleet``, which reuse the request's), so editors validate a file with
``# yaml-language-server: $schema=<url of this file>``.

    python -m devtools.monitors_schema            print it
    python -m devtools.monitors_schema --write    write docs/monitors.schema.json (``make monitors-schema``)
    python -m devtools.monitors_schema --check    exit 1 when the file is out of date
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DOCUMENT = ROOT / "docs" / "monitors.schema.json"


def build() -> dict[str, Any]:
    from fanout.core.fleet import MonitorsFile

    schema = MonitorsFile.model_json_schema(mode="validation")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    text = render(build())
    if args.write:
        DOCUMENT.write_text(text)
    elif args.check:
        if DOCUMENT.read_text() != text:
            print(f"{DOCUMENT} is out of date: run make monitors-schema", file=sys.stderr)
            return 1
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
