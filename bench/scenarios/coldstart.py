"""Cold start: what importing the handler costs beyond the libraries it cannot do without.

Fresh interpreters, alternating (a) and (b), each timing only its import statement with
``time.perf_counter`` (interpreter start-up excluded, nothing imported before it):

- (a) libraries: Powertools ``Logger``, ``Metrics``, ``APIGatewayHttpResolver``, httpx,
  aiohttp: the floor any handler built on them pays;
- (b) ``import fanout.handler``: whatever the handler module imports today.

Goal: median(b) - median(a) <= 50 ms. Two diagnostics split the difference: (a') is (a)
plus ``APIGatewayHttpResolver(enable_validation=True)`` (the request validation issue 4
requires: it imports pydantic and Powertools' OpenAPI models), (a+) is (a') plus the
other third-party packages the handler imports (pydantic, httpx_aiohttp). One more
interpreter, with ``-X importtime``, imports (a) then the handler and lists what the
handler adds: the heaviest packages and modules, and whether modules the API path does
not use (aioboto3, botocore, the X-Ray SDK) were imported at init.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import defaultdict
from typing import Any

from bench.common import ROOT, Row, ScenarioResult, Target, child_env, median
from bench.config import BenchConfig

GOAL_MS = 50.0
LIBS = (
    "from aws_lambda_powertools import Logger, Metrics\n"
    "from aws_lambda_powertools.event_handler import APIGatewayHttpResolver\n"
    "import httpx\n"
    "import aiohttp\n"
)
HANDLER = "import fanout.handler\n"
# Diagnostics: (a) with the resolver's validation on (issue 4), and (a) plus the other
# third-party packages the handler needs (what is left is fanout's).
LIBS_VALIDATION = LIBS + "APIGatewayHttpResolver(enable_validation=True)\n"
LIBS_PLUS = LIBS_VALIDATION + "import pydantic\nimport httpx_aiohttp\n"
MUST_NOT_IMPORT = ("aioboto3", "aiobotocore", "boto3", "botocore.client", "aws_xray_sdk.core")
MARKER = "@@bench-handler@@"

_TIMED = """\
import time
_t0 = time.perf_counter()
{body}_t1 = time.perf_counter()
import json, sys
print(json.dumps({{"import_ms": (_t1 - _t0) * 1000, "modules": len(sys.modules),
    "forbidden": [m for m in {forbidden!r} if m in sys.modules]}}))
"""


def _timed(body: str) -> dict[str, Any]:
    code = _TIMED.format(body=body, forbidden=MUST_NOT_IMPORT)
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


_LINE = re.compile(r"^import time:\s+(\d+)\s+\|\s+(\d+)\s+\|(\s*)(\S+)\s*$")


def handler_extras(top: int = 12) -> dict[str, Any]:
    """What ``import fanout.handler`` imports beyond (a), from ``-X importtime``."""
    code = LIBS + f"import sys\nsys.stderr.write({MARKER!r} + '\\n')\nsys.stderr.flush()\n" + HANDLER
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        cwd=ROOT,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    after = out.stderr.split(MARKER, 1)[1] if MARKER in out.stderr else ""
    modules: list[dict[str, Any]] = []
    by_package: dict[str, float] = defaultdict(float)
    for line in after.splitlines():
        match = _LINE.match(line)
        if not match:
            continue
        self_us, cumulative_us, indent, name = match.groups()
        depth = (len(indent) - 1) // 2
        modules.append({"module": name, "self_ms": int(self_us) / 1000, "cum_ms": int(cumulative_us) / 1000})
        modules[-1]["depth"] = depth
        by_package[name.split(".")[0]] += int(self_us) / 1000
    chains = {}
    for i, m in enumerate(modules):
        if m["module"] in MUST_NOT_IMPORT or (m["self_ms"] >= 10 and not m["module"].startswith("fanout")):
            chains[m["module"]] = _import_chain(modules, i)
    heaviest = sorted(
        (m for m in modules if not m["module"].startswith("fanout")), key=lambda m: -m["cum_ms"]
    )
    return {
        "n_modules": len(modules),
        "total_self_ms": round(sum(m["self_ms"] for m in modules), 1),
        "packages_self_ms": dict(
            sorted(((k, round(v, 1)) for k, v in by_package.items()), key=lambda kv: -kv[1])[:top]
        ),
        "heaviest_modules": [{k: m[k] for k in ("module", "self_ms", "cum_ms")} for m in heaviest[:top]],
        "imported_via": chains,
        "fanout_modules_cum_ms": {
            m["module"]: m["cum_ms"] for m in modules if m["module"].startswith("fanout")
        },
    }


def _import_chain(modules: list[dict[str, Any]], index: int) -> list[str]:
    """Who imported ``modules[index]``: importtime lists children before their parent."""
    chain = [modules[index]["module"]]
    depth = modules[index]["depth"]
    for m in modules[index + 1 :]:
        if m["depth"] < depth:
            chain.append(m["module"])
            depth = m["depth"]
    return chain[::-1]


def run(cfg: BenchConfig, target: Target | None = None) -> ScenarioResult:
    result = ScenarioResult("coldstart")
    _timed(LIBS + HANDLER)  # warm the page cache and write the .pyc files first
    runs: dict[str, list[dict[str, Any]]] = {
        "libs": [],
        "handler": [],
        "libs_validation": [],
        "libs_plus": [],
    }
    bodies = {"libs": LIBS, "handler": HANDLER, "libs_validation": LIBS_VALIDATION, "libs_plus": LIBS_PLUS}
    for i in range(cfg.cold_runs):
        order = list(bodies) if i % 2 == 0 else list(bodies)[::-1]
        for name in order:
            runs[name].append(_timed(bodies[name]))
    libs, handler = runs["libs"], runs["handler"]
    extras = handler_extras()
    a = median(r["import_ms"] for r in libs)
    b = median(r["import_ms"] for r in handler)
    a_plus = median(r["import_ms"] for r in runs["libs_plus"])
    a_valid = median(r["import_ms"] for r in runs["libs_validation"])
    forbidden = sorted({m for r in handler for m in r["forbidden"]})
    print(
        f"  coldstart libs {a:.0f} ms, handler {b:.0f} ms, difference {b - a:.0f} ms; "
        f"not-at-init modules imported: {forbidden or 'none'}",
        flush=True,
    )
    result.raw = {
        "libs": libs,
        "handler": handler,
        "libs_validation": runs["libs_validation"],
        "libs_validation_plus_pydantic_httpx_aiohttp": runs["libs_plus"],
        "handler_extras": extras,
        "must_not_import": MUST_NOT_IMPORT,
    }
    top = ", ".join(f"{k} {v:.0f}" for k, v in list(extras["packages_self_ms"].items())[:4])
    result.rows = [
        Row("cold start (import)", "(a) libraries", "import", a, "ms", note=f"{len(libs)} runs; median"),
        Row(
            "cold start (import)",
            "(a') + resolver validation (diag)",
            "import",
            a_valid,
            "ms",
            vs_anchor=a_valid / a if a else None,
            note=f"APIGatewayHttpResolver(enable_validation=True): {a_valid - a:.0f} ms; (b) - (a') = "
            f"{b - a_valid:.0f} ms",
        ),
        Row(
            "cold start (import)",
            "(a+) + pydantic, httpx_aiohttp (diag)",
            "import",
            a_plus,
            "ms",
            vs_anchor=a_plus / a if a else None,
            note=f"(b) - (a+) = {b - a_plus:.0f} ms: fanout's own modules (pydantic models, ...)",
        ),
        Row("cold start (import)", "(b) fanout.handler", "import", b, "ms", vs_anchor=b / a if a else None),
        Row(
            "cold start (import)",
            "(b) - (a)",
            "handler's extra",
            b - a,
            "ms",
            goal=f"<= {GOAL_MS:g} ms",
            passed=(b - a) <= GOAL_MS,
            note=f"extra ms by package (importtime self): {top}",
        ),
        Row(
            "cold start (import)",
            "fanout.handler",
            "unused-at-init modules",
            len(forbidden),
            "",
            goal="0",
            passed=not forbidden,
            note="; ".join(f"{m} via {' > '.join(extras['imported_via'].get(m, [])[:3])}" for m in forbidden)
            or f"none of {', '.join(MUST_NOT_IMPORT)}",
        ),
    ]
    return result
