"""The outputs: a table on stdout, ``results.json`` (every raw figure) and ``results.png``."""

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


def markdown_from_json(json_path: Path) -> str:
    """``markdown`` of a saved run, with its date, machine and load average."""
    doc = json.loads(json_path.read_text())
    results = [
        ScenarioResult(name, rows=[Row(**r) for r in scen["rows"]], errors=scen["errors"])
        for name, scen in doc["scenarios"].items()
    ]
    machine, load = doc["machine"], doc["load_average"]
    summary = doc["summary"]
    return (
        markdown(results)
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


# --- the plot ------------------------------------------------------------------------------


def _rows(results: list[ScenarioResult], scenario_prefix: str) -> list[Row]:
    return [r for res in results for r in res.rows if r.scenario.startswith(scenario_prefix)]


def _bar_labels(ax: Any, bars: Any, fmt: str) -> None:
    for bar in bars:
        height = bar.get_height()
        if not math.isnan(height):  # zeros too: "0 leaked" is the figure that matters
            ax.annotate(
                fmt.format(height),
                (bar.get_x() + bar.get_width() / 2, height),
                ha="center",
                va="bottom",
                fontsize=7,
                xytext=(0, 1),
                textcoords="offset points",
            )


COLORS = {
    "ideal": "#9e9e9e",
    "aiohttp": "#1f77b4",
    "service": "#d62728",
    "service-httpcore": "#ff7f0e",
    "aiohttp+engine (diag)": "#8fbbd9",
    "httpx-client (diag)": "#c5a3d9",
}


def _series(rows: list[Any], groups: list[str], variants: list[str], metric: str) -> dict[str, list[float]]:
    """One value per group for each variant (NaN where a variant has no such row)."""

    def value(group: str, variant: str) -> float:
        found = (r.value for r in rows if r.scenario == group and r.variant == variant and r.metric == metric)
        return float(next(found, math.nan))

    return {v: [value(g, v) for g in groups] for v in variants}


def _grouped(ax: Any, groups: list[str], series: dict[str, list[float]], fmt: str) -> None:
    import numpy as np

    x = np.arange(len(groups))
    width = 0.8 / max(1, len(series))
    for i, (name, values) in enumerate(series.items()):
        bars = ax.bar(
            x + (i - (len(series) - 1) / 2) * width, values, width, label=name, color=COLORS.get(name)
        )
        _bar_labels(ax, bars, fmt)
    ax.set_xticks(x, groups)


def replot(json_path: Path, png_path: Path) -> None:
    """Draw ``png_path`` again from the rows saved in ``json_path``."""
    doc = json.loads(json_path.read_text())
    results = [
        ScenarioResult(name, rows=[Row(**r) for r in scen["rows"]], errors=scen["errors"])
        for name, scen in doc["scenarios"].items()
    ]
    machine, load = doc["machine"], doc["load_average"]
    passed, failed = doc["summary"]["goals_passed"], doc["summary"]["goals_failed"]
    plot(png_path, results, subtitle(machine, load, passed, failed, quick=False))


def subtitle(machine: dict[str, Any], load: dict[str, Any], passed: int, failed: int, *, quick: bool) -> str:
    return (
        f"{machine['date']}  Python {machine['python']}  {machine['cpu_count']} CPUs  "
        f"load {load['before']} -> {load['after']}  goals: {passed} pass, {failed} fail"
        + ("  (quick)" if quick else "")
    )


def _log_axis(ax: Any, series: dict[str, list[float]]) -> None:
    """Log scale with a fixed floor, so bars of very different sizes stay comparable."""
    from matplotlib.ticker import FuncFormatter

    values = [v for vs in series.values() for v in vs if v and not math.isnan(v)]
    ax.set_yscale("log")
    if values:
        ax.set_ylim(min(values) / 3, max(values) * 2.5)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: f"{y:g}"))


def plot(path: Path, results: list[ScenarioResult], subtitle: str) -> None:
    """Six panels: throughput time and CPU, cancellation, deadline lateness, cold start, memory."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(17, 9.5))
    fig.suptitle(f"fanout benchmarks: service vs anchors vs ideal\n{subtitle}", fontsize=11)
    thr = _rows(results, "throughput")
    _plot_throughput_wall(axes[0][0], thr)
    _plot_throughput_cpu(axes[0][1], thr)
    _plot_cancellation(axes[0][2], _rows(results, "cancellation"))
    _plot_deadline(axes[1][0], _rows(results, "deadline"))
    _plot_cold_start(axes[1][1], _rows(results, "cold start"))
    _plot_memory(axes[1][2], _rows(results, "memory"))
    for ax in axes.flat:
        ax.tick_params(labelsize=8)
        ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _throughput_groups(thr: list[Row]) -> tuple[list[str], list[str]]:
    """The throughput scenarios by N, and the variants measured (in ``COLORS`` order)."""
    groups = sorted({r.scenario for r in thr}, key=lambda s: int(s.split("=")[1]))
    return groups, [v for v in COLORS if any(r.variant == v for r in thr)]


def _goal_marks(ax: Any, groups: list[str], anchors: list[float | None], factor: float, label: str) -> None:
    """A dashed goal line over each group, at ``factor`` times its anchor's figure."""
    for i, anchor in enumerate(anchors):
        if anchor:
            ax.hlines(factor * anchor, i - 0.45, i + 0.45, colors="k", linestyles="dashed", linewidth=1)
    ax.plot([], [], "k--", linewidth=1, label=label)
    ax.legend(fontsize=7)


def _plot_throughput_wall(ax: Any, thr: list[Row]) -> None:
    groups, variants = _throughput_groups(thr)
    if groups:
        series = _series(thr, groups, variants, "wall")
        _grouped(ax, [g.replace("throughput ", "") for g in groups], series, "{:.2f}")
        _log_axis(ax, series)
        ideals = [
            next((r.value for r in thr if r.scenario == g and r.variant == "ideal"), None) for g in groups
        ]
        _goal_marks(ax, groups, ideals, 1.15, "goal: 1.15x ideal")
    ax.set_title("Throughput: wall time (s, log scale), 50 ms latency, 100 in flight", fontsize=9)


def _plot_throughput_cpu(ax: Any, thr: list[Row]) -> None:
    groups, variants = _throughput_groups(thr)
    if groups:
        series = _series(thr, groups, [v for v in variants if v != "ideal"], "CPU/request")
        _grouped(ax, [g.replace("throughput ", "") for g in groups], series, "{:.2f}")
        _log_axis(ax, series)
        anchors = [
            next(
                (r.value for r in thr if (r.scenario, r.variant, r.metric) == (g, "aiohttp", "CPU/request")),
                None,
            )
            for g in groups
        ]
        _goal_marks(ax, groups, anchors, 1.5, "goal: 1.5x aiohttp")
    ax.set_title("Throughput: client CPU per request (ms, log scale)", fontsize=9)


def _figure(rows: list[Row], variant: str, metric: str) -> float:
    return next(r.value for r in rows if r.variant == variant and r.metric == metric)


def _plot_cancellation(ax: Any, canc: list[Row]) -> None:
    names = [v for v in ("service", "service-httpcore") if any(r.variant == v for r in canc)]
    if not names:
        ax.set_title("Cancellation", fontsize=9)
        return
    leaked = [_figure(canc, v, "leaked slots") for v in names]
    ok = [_figure(canc, v, "follow-ups ok") for v in names]
    _grouped(ax, names, {"leaked pool slots": leaked, "follow-ups ok": ok}, "{:.0f}")
    ax.legend(fontsize=7)
    total = next((r.unit.lstrip("/") for r in canc if r.metric == "follow-ups ok"), "")
    ax.set_title(
        f"Cancellation ({canc[0].scenario.split()[-1]} cycles): leaks (goal 0), follow-ups ok (goal {total})",
        fontsize=9,
    )


def _plot_deadline(ax: Any, dl: list[Row]) -> None:
    names = [v for v in ("service", "aiohttp", "service-httpcore") if any(r.variant == v for r in dl)]
    if not names:
        ax.set_title("Deadline lateness", fontsize=9)
        return
    p50 = [_figure(dl, v, "lateness p50") for v in names]
    p99 = [_figure(dl, v, "lateness p99") for v in names]
    _grouped(ax, names, {"lateness p50": p50, "lateness p99": p99}, "{:.0f}")
    ax.axhline(25, color="k", linestyle="--", linewidth=1, label="goal: p99 <= 25 ms")
    ax.legend(fontsize=7)
    ax.set_title(f"Deadline: return - (Lambda deadline - margin), ms\n{dl[0].scenario}", fontsize=9)


def _plot_cold_start(ax: Any, cold: list[Row]) -> None:
    if cold:
        a = next((r.value for r in cold if r.variant == "(a) libraries"), math.nan)
        b = next((r.value for r in cold if r.variant == "(b) fanout.handler"), math.nan)
        bars = ax.bar(["(a) libraries", "(b) fanout.handler"], [a, b], color=["#1f77b4", "#d62728"])
        _bar_labels(ax, bars, "{:.0f}")
        ax.axhline(a + 50, color="k", linestyle="--", linewidth=1, label="goal: (a) + 50 ms")
        ax.legend(fontsize=7)
    ax.set_title("Cold start: import time (ms, median, fresh interpreters)", fontsize=9)


def _plot_memory(ax: Any, mem: list[Row]) -> None:
    names = [v for v in ("aiohttp", "service", "service+expect") if any(r.variant == v for r in mem)]
    if not mem:
        ax.set_title("Memory", fontsize=9)
        return
    base = [_figure(mem, v, "RSS after imports") for v in names]
    peak = [_figure(mem, v, "peak RSS (VmHWM)") for v in names]
    _grouped(ax, names, {"RSS after imports": base, "peak RSS": peak}, "{:.0f}")
    ax.axhline(100, color="k", linestyle="--", linewidth=1, label="goal: peak <= 100 MB (service)")
    ax.legend(fontsize=7)
    ax.set_title(f"Memory: {mem[0].scenario} (MB)", fontsize=9)
