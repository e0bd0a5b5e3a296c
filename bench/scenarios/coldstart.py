"""Cold start: what importing the handler costs beyond the libraries it cannot do without.

Fresh interpreters, alternating (a) and (b), each timing only its import statement (interpreter
start-up excluded, nothing imported before it) in CPU time (``time.process_time``: on a
shared machine wall time mostly measures the other processes; the wall time is kept in the
raw figures):

- (a) libraries: Powertools ``Logger``, ``Metrics``, ``APIGatewayHttpResolver``, httpx,
  aiohttp, pydantic (``BaseModel``: requests are validated by pydantic models), httpx_aiohttp:
  the floor any handler built on them pays;
- (b) ``import fanout.handler``: whatever the handler module imports today.

Goal: median(b) - median(a) <= 50 ms: fanout's own modules. Diagnostics: (a-) is (a) without
pydantic and httpx_aiohttp (the floor as first defined), (a') is (a) plus
``APIGatewayHttpResolver(enable_validation=True)`` (Powertools' OpenAPI validation): what the
first HTTP API event adds, the ``api`` front door being built on first use. One more
interpreter, with ``-X importtime``, imports (a) then the handler and lists what the
handler adds: the heaviest packages and modules, and whether modules the API path does
not use (aioboto3, botocore, the X-Ray SDK) were imported at init.

Bytecode: every interpreter reads and writes ``.pyc`` files under ``bench/.work/pycache``
(``PYTHONPYCACHEPREFIX``, whatever ``PYTHONDONTWRITEBYTECODE`` says), warmed first, so (a) and
(b) time executing modules, not compiling them. ``sam build`` strips ``*.pyc`` from the code it
packages (the dependencies keep the ones pip wrote): the diagnostic (b'') imports the handler
with the dependencies' bytecode only, compiling fanout's own modules, as a Lambda cold start
does with that package. The HTTP API's resolver is built on the first API event (not timed).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench.common import ROOT, WORK_DIR, Row, ScenarioResult, Target, child_env, median
from bench.config import BenchConfig

GOAL_MS = 50.0
LIBS_BARE = (
    "from aws_lambda_powertools import Logger, Metrics\n"
    "from aws_lambda_powertools.event_handler import APIGatewayHttpResolver\n"
    "import httpx\n"
    "import aiohttp\n"
)
# The other third-party packages the handler imports, by the names it imports from them; the
# handler run checks it did import each (LIB_MODULES), so (a) never counts one it does not.
LIBS = LIBS_BARE + (
    "from pydantic import AfterValidator, BaseModel, ConfigDict, Discriminator, Field, Tag\n"
    "from pydantic import ValidationError, field_validator, model_serializer\n"
    "from pydantic_core import PydanticCustomError\n"
    "import httpx_aiohttp\n"
    "import regex\n"
    "import jsonpointer\n"
    "import msgspec\n"
)
LIB_MODULES = ("pydantic.main", "httpx_aiohttp", "regex", "jsonpointer", "msgspec")
HANDLER = "import fanout.handler\n"
# Diagnostic: (a) with the resolver's validation on (issue 4): the first API event's extra.
LIBS_VALIDATION = LIBS + "APIGatewayHttpResolver(enable_validation=True)\n"
MUST_NOT_IMPORT = ("aioboto3", "aiobotocore", "boto3", "botocore.client", "aws_xray_sdk.core")
MARKER = "@@bench-handler@@"
PYCACHE = WORK_DIR / "pycache"
PYCACHE_NO_SRC = WORK_DIR / "pycache-no-src"  # the same, without fanout's own bytecode


def _env(pycache: Path = PYCACHE, *, write: bool = True) -> dict[str, str]:
    env = child_env({"PYTHONPYCACHEPREFIX": str(pycache)})
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if not write:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _without_src_bytecode() -> None:
    """``PYCACHE_NO_SRC``: the warmed cache minus fanout's modules (what ``sam build`` ships)."""
    shutil.rmtree(PYCACHE_NO_SRC, ignore_errors=True)
    shutil.copytree(PYCACHE, PYCACHE_NO_SRC)
    shutil.rmtree(PYCACHE_NO_SRC / (ROOT / "src").relative_to("/"), ignore_errors=True)


_TIMED = """\
import time
_t0, _c0 = time.perf_counter(), time.process_time()
{body}_t1, _c1 = time.perf_counter(), time.process_time()
import json, sys
print(json.dumps({{"import_ms": (_c1 - _c0) * 1000, "wall_ms": (_t1 - _t0) * 1000,
    "modules": len(sys.modules),
    "forbidden": [m for m in {forbidden!r} if m in sys.modules],
    "libs_missing": [m for m in {libs!r} if m not in sys.modules]}}))
"""


def _timed(body: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    code = _TIMED.format(body=body, forbidden=MUST_NOT_IMPORT, libs=LIB_MODULES)
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env or _env(),
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
        env=_env(),
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


# The code each fresh interpreter times, by the name of its runs (``_timed_runs``).
BODIES = {
    "libs": LIBS,
    "handler": HANDLER,
    "libs_validation": LIBS_VALIDATION,
    "libs_bare": LIBS_BARE,
    "handler_no_pyc": HANDLER,
}


def run(cfg: BenchConfig, target: Target | None = None) -> ScenarioResult:
    result = ScenarioResult("coldstart")
    runs = _timed_runs(cfg)
    libs, handler = runs["libs"], runs["handler"]
    extras = handler_extras()
    ms = {name: median(r["import_ms"] for r in timed) for name, timed in runs.items()}
    a, b = ms["libs"], ms["handler"]
    forbidden = sorted({m for r in handler for m in r["forbidden"]})
    not_imported = sorted({m for r in handler for m in r["libs_missing"]})
    print(
        f"  coldstart libs {a:.0f} ms, handler {b:.0f} ms, difference {b - a:.0f} ms; "
        f"not-at-init modules imported: {forbidden or 'none'}",
        flush=True,
    )
    result.raw = {
        "libs": libs,
        "handler": handler,
        "libs_validation": runs["libs_validation"],
        "libs_without_pydantic_httpx_aiohttp": runs["libs_bare"],
        "handler_without_fanout_pyc": runs["handler_no_pyc"],
        "handler_extras": extras,
        "must_not_import": MUST_NOT_IMPORT,
    }
    result.rows = _import_rows(ms, len(libs)) + _goal_rows(ms, extras, forbidden, not_imported)
    return result


def _timed_runs(cfg: BenchConfig) -> dict[str, list[dict[str, Any]]]:
    """``cold_runs`` rounds of every body in a fresh interpreter, the order reversed every other round."""
    _timed(LIBS_VALIDATION + HANDLER)  # warm the page cache and write the .pyc files first
    _without_src_bytecode()
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in BODIES}
    no_pyc = _env(PYCACHE_NO_SRC, write=False)
    for i in range(cfg.cold_runs):
        order = list(BODIES) if i % 2 == 0 else list(BODIES)[::-1]
        for name in order:
            runs[name].append(_timed(BODIES[name], no_pyc if name == "handler_no_pyc" else None))
    return runs


def _import_rows(ms: dict[str, float], n_runs: int) -> list[Row]:
    """Each body's median import time, against (a)'s."""
    a, b = ms["libs"], ms["handler"]
    a_bare, a_valid, b_no_pyc = ms["libs_bare"], ms["libs_validation"], ms["handler_no_pyc"]
    return [
        Row("cold start (import)", "(a) libraries", "import", a, "ms", note=f"{n_runs} runs; median"),
        Row(
            "cold start (import)",
            "(a-) without pydantic, httpx_aiohttp (diag)",
            "import",
            a_bare,
            "ms",
            vs_anchor=a_bare / a if a else None,
            note=f"(b) - (a-) = {b - a_bare:.0f} ms: the goal's measure with pydantic counted as fanout's",
        ),
        Row(
            "cold start (import)",
            "(a') + resolver validation (diag)",
            "import",
            a_valid,
            "ms",
            vs_anchor=a_valid / a if a else None,
            note=f"APIGatewayHttpResolver(enable_validation=True): +{a_valid - a:.0f} ms, paid by the "
            "first HTTP API event (the api front door is built then)",
        ),
        Row("cold start (import)", "(b) fanout.handler", "import", b, "ms", vs_anchor=b / a if a else None),
        Row(
            "cold start (import)",
            "(b'') fanout.handler, no fanout .pyc (diag)",
            "import",
            b_no_pyc,
            "ms",
            vs_anchor=b_no_pyc / a if a else None,
            note=f"as sam build packages it (no *.pyc of its own): +{b_no_pyc - b:.0f} ms compiling fanout",
        ),
    ]


def _goal_rows(
    ms: dict[str, float], extras: dict[str, Any], forbidden: list[str], not_imported: list[str]
) -> list[Row]:
    """The goals: the handler's extra over (a), and no module the API path does not use at init."""
    a, b = ms["libs"], ms["handler"]
    top = ", ".join(f"{k} {v:.0f}" for k, v in list(extras["packages_self_ms"].items())[:4])
    return [
        Row(
            "cold start (import)",
            "(b) - (a)",
            "handler's extra",
            b - a,
            "ms",
            goal=f"<= {GOAL_MS:g} ms",
            passed=(b - a) <= GOAL_MS and not not_imported,
            note=f"extra ms by package (importtime self): {top}"
            + (
                f"; (a) counts {', '.join(not_imported)}, which the handler no longer imports"
                if not_imported
                else ""
            ),
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
