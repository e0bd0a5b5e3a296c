"""One measurement in a fresh interpreter: ``python -m bench.worker SCENARIO.VARIANT SPEC OUT``.

A fresh process per measurement keeps CPU time, memory and import state of one variant
from leaking into another's; the result is written as JSON to OUT (stdout belongs to
the service's logger).
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path


def main() -> None:
    task, spec, out = sys.argv[1:4]
    scenario, variant = task.split(".", 1)
    module = importlib.import_module(f"bench.scenarios.{scenario}")
    result = module.work(variant, json.loads(spec))
    Path(out).write_text(json.dumps(result))


if __name__ == "__main__":
    main()
