"""Inline SVG for the pages: the day bars (one segment per day, coloured by its uptime, each with a
title giving date, uptime and incidents) and the response-time chart (p50/p95 per day, with
labelled axes). Colours are classes (``style.css``), so light and dark themes recolour them.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from html import escape

from fanout.status.model import DayFigures

BAR_W, BAR_GAP, BAR_H = 3, 1, 28


def percent(ratio: float | None, digits: int = 2) -> str:
    if ratio is None:
        return "no data"
    return "100%" if ratio >= 1 else f"{ratio * 100:.{digits}f}%"


def day_class(day: DayFigures) -> str:
    if day.checks == 0:
        return "d-none" if day.maintenance_ms == 0 else "d-maint"
    uptime = day.uptime or 0.0
    if day.maintenance_ms and uptime >= 0.999:
        return "d-maint"
    return "d-up" if uptime >= 0.999 else "d-warn" if uptime >= 0.95 else "d-down"


def day_text(day: DayFigures) -> str:
    parts = [day.day, percent(day.uptime) + (" uptime" if day.checks else "")]
    parts.append(f"{day.incidents} incident{'s' if day.incidents != 1 else ''}")
    if day.maintenance_ms:
        parts.append(f"{day.maintenance_ms // 60_000} min maintenance")
    return ", ".join(parts)


@functools.lru_cache(maxsize=1 << 16)
def _rect(i: int, day: str, uptime: float | None, checks: int, incidents: int, maintenance_ms: int) -> str:
    """One day's segment: most days of most URLs look alike (a day at 100 %), so each is made once."""
    d = DayFigures(day, uptime, checks, 0, maintenance_ms, None, None, incidents)
    return (
        f'<rect x="{i * (BAR_W + BAR_GAP)}" width="{BAR_W}" height="{BAR_H}" class="{day_class(d)}">'
        f"<title>{day_text(d)}</title></rect>"
    )


def bars(days: Sequence[DayFigures], label: str) -> str:
    """The day bars, as wide as the page allows (``viewBox``), each segment titled."""
    width = len(days) * (BAR_W + BAR_GAP) - BAR_GAP
    rects = "".join(
        _rect(i, d.day, d.uptime, d.checks, d.incidents, d.maintenance_ms) for i, d in enumerate(days)
    )
    return (
        f'<svg class="bars" viewBox="0 0 {width} {BAR_H}" preserveAspectRatio="none" role="group" '
        f'aria-label="{escape(label)}">{rects}</svg>'
    )


def _ticks(top: float) -> list[float]:
    steps = (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1_000, 2_000, 5_000, 10_000, 30_000)
    step = next((s for s in steps if top / s <= 4), 60_000)
    return [step * k for k in range(int(top // step) + 2)]


@functools.cache
def _xs(count: int, left: int, step: float) -> tuple[str, ...]:
    return tuple(f"{left + i * step:.1f}" for i in range(count))


def latency_chart(days: Sequence[DayFigures], label: str) -> str:
    """p50 and p95 per day as two lines over a labelled grid (ms on the left, dates below)."""
    width, height, left, bottom, top_pad = 640, 180, 52, 24, 8
    plot_w, plot_h = width - left - 8, height - bottom - top_pad
    values = [v for d in days for v in (d.p50_ms, d.p95_ms) if v is not None]
    if not values:
        return f'<p class="muted">{escape(label)}: no response times measured yet.</p>'
    ticks = _ticks(max(values) * 1.2)  # headroom: the top line stays clear of the legend
    top = ticks[-1] or 1.0
    step_x = plot_w / max(1, len(days) - 1)
    xs, scale, base = _xs(len(days), left, step_x), plot_h / top, top_pad + plot_h

    def y(value: float) -> float:
        return round(base - value * scale, 1)

    grid = "".join(
        f'<line x1="{left}" x2="{width - 8}" y1="{y(t)}" y2="{y(t)}" class="grid"/>'
        f'<text x="{left - 6}" y="{y(t) + 4}" text-anchor="end">{t:g} ms</text>'
        for t in ticks
    )
    marks = sorted({0, len(days) // 2, len(days) - 1})
    anchor = {0: "start", len(days) - 1: "end"}
    dates = "".join(
        f'<text x="{xs[i]}" y="{height - 6}" text-anchor="{anchor.get(i, "middle")}">{days[i].day[5:]}</text>'
        for i in marks
    )
    lines = ""
    for name, pick in (("p50", "p50_ms"), ("p95", "p95_ms")):
        points = " ".join(
            f"{xs[i]},{base - v * scale:.1f}"
            for i, d in enumerate(days)
            if (v := getattr(d, pick)) is not None
        )
        lines += f'<polyline class="l-{name}" points="{points}"/>'
    legend = (
        f'<text x="{left + 8}" y="{top_pad + 12}" class="k-p50">p50</text>'
        f'<text x="{left + 44}" y="{top_pad + 12}" class="k-p95">p95</text>'
    )
    return (
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(label)}">'
        f"{grid}{dates}{lines}{legend}</svg>"
    )
