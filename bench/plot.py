"""``results.png``: six panels of the rows (throughput time and CPU, cancellation, deadline
lateness, cold start, memory), drawn after a run or again from a saved ``results.json``."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from bench import report
from bench.common import Row, ScenarioResult


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
    machine, load = doc["machine"], doc["load_average"]
    passed, failed = doc["summary"]["goals_passed"], doc["summary"]["goals_failed"]
    plot(png_path, report.results_from_json(doc), report.subtitle(machine, load, passed, failed, quick=False))


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
