"""Badges in the flat shields.io style (a grey label, a coloured message), as SVG and as Shields
endpoint JSON (``{"schemaVersion": 1, "label", "message", "color"}``) for img.shields.io/endpoint.

Text widths are estimated per character (Verdana 11 px, as shields measures); an estimate off by
a pixel or two only widens a side's padding.
"""

from __future__ import annotations

from html import escape

from fanout.core.model import encode
from fanout.status.model import State, UrlStatus
from fanout.status.svg import percent

_NARROW, _WIDE = set("fijlrtI1.:,;'| "), set("mwMW%@")
COLORS = {
    State.OPERATIONAL: "#2e7d32", State.DEGRADED: "#b26a00", State.DOWN: "#c62828",
    State.MAINTENANCE: "#1565c0", State.UNKNOWN: "#616161",
}  # fmt: skip


def text_width(text: str) -> int:
    return round(sum(4.0 if c in _NARROW else 10.0 if c in _WIDE else 7.0 for c in text))


def badge_svg(label: str, message: str, color: str) -> str:
    """A flat badge: dark enough colours that white text reads on them (WCAG AA)."""
    lw, mw = text_width(label) + 10, text_width(message) + 10
    width, text = lw + mw, escape(f"{label}: {message}")
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="20" role="img" aria-label="{text}">'
        f"<title>{text}</title>"
        '<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/>'
        '<stop offset="1" stop-opacity=".1"/></linearGradient>'
        f'<clipPath id="r"><rect width="{width}" height="20" rx="3" fill="#fff"/></clipPath>'
        f'<g clip-path="url(#r)"><rect width="{lw}" height="20" fill="#555"/>'
        f'<rect x="{lw}" width="{mw}" height="20" fill="{color}"/>'
        f'<rect width="{width}" height="20" fill="url(#s)"/></g>'
        '<g fill="#fff" text-anchor="middle" font-size="11"'
        ' font-family="Verdana,Geneva,DejaVu Sans,sans-serif">'
        f'<text x="{lw / 2}" y="14">{escape(label)}</text>'
        f'<text x="{lw + mw / 2}" y="14">{escape(message)}</text></g></svg>'
    )


def uptime_color(ratio: float | None) -> str:
    if ratio is None:
        return COLORS[State.UNKNOWN]
    return (
        "#2e7d32"
        if ratio >= 0.999
        else "#4c7a00"
        if ratio >= 0.99
        else "#b26a00"
        if ratio >= 0.95
        else "#c62828"
    )


def badges(
    state: State, uptime: dict[str, float | None], p95_ms: float | None
) -> dict[str, tuple[str, str, str]]:
    """Each badge's (label, message, colour), by file stem."""
    found = {"status": ("status", state.value, COLORS[state])}
    for period, ratio in uptime.items():
        found[f"uptime-{period}"] = (f"uptime {period}", percent(ratio), uptime_color(ratio))
    p95 = "no data" if p95_ms is None else f"{p95_ms:.0f} ms"
    found["p95"] = ("p95", p95, COLORS[State.UNKNOWN] if p95_ms is None else "#1565c0")
    return found


def badge_files(
    prefix: str, state: State, uptime: dict[str, float | None], p95_ms: float | None
) -> dict[str, bytes]:
    """``<prefix>/<badge>.svg`` and its endpoint JSON ``<prefix>/<badge>.json``."""
    files = {}
    for stem, (label, message, color) in badges(state, uptime, p95_ms).items():
        files[f"{prefix}/{stem}.svg"] = badge_svg(label, message, color).encode()
        endpoint = {"schemaVersion": 1, "label": label, "message": message, "color": color.lstrip("#")}
        files[f"{prefix}/{stem}.json"] = encode(endpoint)
    return files


def url_badge_inputs(url: UrlStatus) -> tuple[State, dict[str, float | None], float | None]:
    u = url.uptime
    return url.state, {"24h": u.last_24h, "7d": u.last_7d, "30d": u.last_30d}, url.p95_ms_today
