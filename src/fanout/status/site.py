"""Every file of the site, by path: the pages, ``style.css``, ``status.json``, each monitor's JSON
and the badges (per monitor and per URL: SVG and Shields endpoint JSON)."""

from __future__ import annotations

import gc
from collections.abc import Sequence
from dataclasses import dataclass

from fanout.status.badges import badge_files, url_badge_inputs
from fanout.status.html import Fragments, index_page, monitor_page
from fanout.status.model import MonitorData, StatusDocument, status_document
from fanout.status.style import STYLE_CSS

FAVICON_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16">'
    '<circle cx="8" cy="8" r="7" fill="#2e7d32"/></svg>'
)
CONTENT_TYPES = {
    "html": "text/html; charset=utf-8", "css": "text/css; charset=utf-8",
    "json": "application/json", "svg": "image/svg+xml",
}  # fmt: skip


def content_type(path: str) -> str:
    return CONTENT_TYPES[path.rsplit(".", 1)[1]]


@dataclass(frozen=True, slots=True)
class Site:
    document: StatusDocument
    files: dict[str, bytes]


def render_site(monitors: Sequence[MonitorData], now: float, *, title: str = "Status") -> Site:
    """The whole site from the monitors' data (monitors marked not public are left off). The
    render makes many small objects and frees none before it ends, so the cyclic collector
    (which would walk them all again and again) is paused while it runs."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        return _render(monitors, now, title)
    finally:
        if was_on:
            gc.enable()


def _render(monitors: Sequence[MonitorData], now: float, title: str) -> Site:
    doc = status_document(monitors, now)
    fragments = Fragments()
    files = {
        "index.html": index_page(doc, fragments, title).encode(),
        "style.css": STYLE_CSS.encode(),
        "favicon.svg": FAVICON_SVG.encode(),
        "status.json": doc.summary().to_bytes(),
    }
    for m in doc.monitors:
        files[f"monitors/{m.name}.html"] = monitor_page(m, doc.generated_at, fragments, title).encode()
        files[f"monitors/{m.name}.json"] = m.to_bytes()
        u = m.uptime
        p95s = [url.p95_ms_today for url in m.urls if url.p95_ms_today is not None]
        periods = {"24h": u.last_24h, "7d": u.last_7d, "30d": u.last_30d}
        files |= badge_files(f"badges/{m.name}", m.state, periods, max(p95s, default=None))
        for url in m.urls:
            files |= badge_files(f"badges/{m.name}/{url.id}", *url_badge_inputs(url))
    return Site(doc, files)
