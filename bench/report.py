"""The outputs: a table on stdout, ``results.json`` (every raw figure) and its Markdown table;
``results.png`` is drawn by ``bench.plot``. The Lambda cost rows are priced here too."""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import sys
from dataclasses import asdict
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.common import ROOT, Row, ScenarioResult
from bench.config import BenchConfig

LIBRARIES = (
    "aiohttp",
    "httpx",
    "httpcore",
    "httpx-aiohttp",
    "h11",
    "uvloop",
    "aws-lambda-powertools",
    "pydantic",
)


def _fmt(value: float | None, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if unit == "x":
        return f"{value:.2f}x"
    if unit in ("", "MB") or unit.startswith("/"):
        return f"{value:.0f}{' ' + unit if unit == 'MB' else unit}"
    if unit == "s":
        return f"{value:.3f} s"
    if unit == "USD":
        return f"${value:,.2f}" if abs(value) >= 1 else f"${value:.4f}"
    if unit == "ms":
        return f"{value:.3f} ms" if abs(value) < 1 else f"{value:.1f} ms"
    return f"{value:g} {unit}"


HEADER = ("scenario", "variant", "metric", "median", "vs ideal", "vs anchor", "goal", "result")


def _cells(row: Any, passed: str = "PASS", failed: str = "FAIL") -> tuple[str, ...]:
    """One row's cells, in ``HEADER`` order."""
    verdict = "" if row.passed is None else (passed if row.passed else failed)
    return (
        row.scenario,
        row.variant,
        row.metric,
        _fmt(row.value, row.unit),
        _fmt(row.vs_ideal, "x"),
        _fmt(row.vs_anchor, "x"),
        row.goal,
        verdict,
    )


def table(results: list[ScenarioResult]) -> str:
    """A fixed-width table: one line per row, PASS/FAIL where a goal applies."""
    header = HEADER
    lines: list[tuple[str, ...]] = []
    for res in results:
        for row in res.rows:
            lines.append(_cells(row))
        for error in res.errors:
            lines.append((res.name, "ERROR", error.splitlines()[0][:60], "", "", "", "", "FAIL"))
    widths = [
        max(len(h), *(len(line[i]) for line in lines)) if lines else len(h) for i, h in enumerate(header)
    ]
    out = [
        "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)),
        "  ".join("-" * w for w in widths),
    ]
    previous = ""
    for line in lines:
        if previous and line[0] != previous:
            out.append("")
        previous = line[0]
        out.append("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())
    return "\n".join(out)


def markdown(results: list[ScenarioResult], *, diagnostics: bool = False) -> str:
    """The table as Markdown (README "Benchmarks"); diagnostic rows only when asked."""
    header = HEADER
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for res in results:
        for row in res.rows:
            if not diagnostics and "(diag)" in row.variant:
                continue
            cells = _cells(row, "**PASS**", "**FAIL**")
            out.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        for error in res.errors:
            out.append(f"| {res.name} | ERROR | {error.splitlines()[0][:60]} | | | | | **FAIL** |")
    return "\n".join(out)


def results_from_json(doc: dict[str, Any]) -> list[ScenarioResult]:
    """A saved run's rows and errors by scenario (its raw figures left out)."""
    return [
        ScenarioResult(name, rows=[Row(**r) for r in scen["rows"]], errors=scen["errors"])
        for name, scen in doc["scenarios"].items()
    ]


def markdown_from_json(json_path: Path) -> str:
    """``markdown`` of a saved run, with its date, machine and load average."""
    doc = json.loads(json_path.read_text())
    machine, load = doc["machine"], doc["load_average"]
    summary = doc["summary"]
    return (
        markdown(results_from_json(doc))
        + f"\n\n{machine['date'][:10]}, Python {machine['python']}, {machine['cpu_count']} CPUs "
        f"({machine['cpu_model'] or 'unknown CPU'}), load average {load['before']} -> {load['after']}; "
        f"goals: {summary['goals_passed']} pass, {summary['goals_failed']} fail."
    )


def machine_info() -> dict[str, Any]:
    versions: dict[str, str | None] = {}
    for lib in LIBRARIES:
        try:
            versions[lib] = metadata.version(lib)
        except metadata.PackageNotFoundError:
            versions[lib] = None
    cpu_model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass

    def git(*args: str) -> str:
        try:
            return subprocess.run(
                ["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10, check=False
            ).stdout.strip()
        except OSError:
            return ""

    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu_model,
        "libraries": versions,
        "git_commit": git("rev-parse", "--short", "HEAD"),
        "git_dirty_src": git("status", "--short", "--", "src").splitlines(),
    }


def passed_failed(results: list[ScenarioResult]) -> tuple[int, int]:
    rows = [r for res in results for r in res.rows if r.passed is not None]
    failed = sum(1 for r in rows if not r.passed) + sum(len(res.errors) for res in results)
    return len(rows) - sum(1 for r in rows if not r.passed), failed


def subtitle(machine: dict[str, Any], load: dict[str, Any], passed: int, failed: int, *, quick: bool) -> str:
    return (
        f"{machine['date']}  Python {machine['python']}  {machine['cpu_count']} CPUs  "
        f"load {load['before']} -> {load['after']}  goals: {passed} pass, {failed} fail"
        + ("  (quick)" if quick else "")
    )


def write_json(
    path: Path, results: list[ScenarioResult], cfg: BenchConfig, machine: dict[str, Any], load: dict[str, Any]
) -> None:
    passed, failed = passed_failed(results)
    doc = {
        "machine": machine,
        "load_average": load,
        "config": asdict(cfg),
        "summary": {"goals_passed": passed, "goals_failed": failed},
        "notes": {
            "vs_anchor": "throughput: median over repetitions of the paired ratio variant/aiohttp in the "
            "same repetition; cold start: handler / libraries; deadline: p99 / aiohttp's p99",
            "cpu": "client process CPU (time.process_time) of the measured run, per request",
        },
        "scenarios": {
            res.name: {
                "seconds": round(res.seconds, 1),
                "rows": [r.to_dict() for r in res.rows],
                "errors": res.errors,
                "raw": res.raw,
            }
            for res in results
        },
    }
    path.write_text(json.dumps(doc, indent=1, default=str) + "\n")


# --- Lambda cost (issue 14, goal 6) -------------------------------------------------------

# AWS Lambda's published prices (https://aws.amazon.com/lambda/pricing/, us-east-1, Arm/Graviton,
# first tier: up to 7.5 billion GB-s a month), as listed on 2026-12-01; unchanged since 2021.
LAMBDA_ARM64_USD_PER_GB_S = 0.0000133334
LAMBDA_USD_PER_REQUEST = 0.20 / 1_000_000
LAMBDA_MEMORY_MB = 1_024
# CPU scales with memory: one full vCPU at 1,769 MB (Lambda's documentation), ~0.58 at 1,024 MB.
LAMBDA_VCPU = LAMBDA_MEMORY_MB / 1_769


def lambda_cost(measured_s: float, cpu_s: float, *, urls_per_invocation: int) -> dict[str, float]:
    """One invocation's billed duration on Lambda (arm64, 1,024 MB) and the cost of 1M URLs.

    The duration is the measured one (the emulator's), or the measured CPU time stretched to
    Lambda's vCPU share when that is longer (CPU measured here on a full core), rounded up to 1 ms.
    """
    duration_s = max(measured_s, cpu_s / LAMBDA_VCPU if cpu_s == cpu_s else 0.0)
    billed_s = math.ceil(duration_s * 1000) / 1000
    per_invocation = billed_s * LAMBDA_MEMORY_MB / 1024 * LAMBDA_ARM64_USD_PER_GB_S + LAMBDA_USD_PER_REQUEST
    invocations = 1_000_000 / urls_per_invocation
    return {
        "billed_ms": billed_s * 1000,
        "invocations": invocations,
        "usd_per_million_urls": per_invocation * invocations,
        "requests_usd": LAMBDA_USD_PER_REQUEST * invocations,
    }


def cost_rows(scenario: str, n: int, batched: dict[str, float], per_url: dict[str, float]) -> list[Row]:
    """The batched service beside one invocation per URL, priced alike."""

    def note(cost: dict[str, float]) -> str:
        return (
            f"{cost['invocations']:,.0f} invocations billed {cost['billed_ms']:,.0f} ms each; "
            f"requests ${cost['requests_usd']:,.2f}"
        )

    ratio = batched["usd_per_million_urls"] / per_url["usd_per_million_urls"]
    return [
        Row(
            scenario,
            f"service, {n} URLs/invocation",
            "cost",
            batched["usd_per_million_urls"],
            "USD",
            vs_anchor=ratio,
            goal="< per-URL design",
            passed=ratio < 1,
            note=note(batched) + f"; arm64 {LAMBDA_MEMORY_MB} MB, ${LAMBDA_ARM64_USD_PER_GB_S}/GB-s",
        ),
        Row(
            scenario,
            "one invocation per URL",
            "cost",
            per_url["usd_per_million_urls"],
            "USD",
            note=note(per_url),
        ),
    ]
