"""Every file of the site, by path: the pages, ``style.css``, ``status.json``, each monitor's JSON
and the badges (per monitor and per URL: SVG and Shields endpoint JSON). A monitor run renders
part of it (``render_part``): the index and ``status.json`` from every monitor's status, and the
files of the monitors it read again; the other monitors' files stay as an earlier render left them."""

from __future__ import annotations

import gc
from collections.abc import Sequence
from dataclasses import dataclass

from fanout.status.badges import badge_files, url_badge_inputs
from fanout.status.html import Fragments, index_page, monitor_page
from fanout.status.model import MonitorData, MonitorStatus, StatusDocument, document_of, monitor_statuses
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
    """The whole site from the monitors' data (monitors marked not public are left off)."""
    return render_part(monitors, (), now, title=title)


def render_part(
    fresh: Sequence[MonitorData], kept: Sequence[MonitorStatus], now: float, *, title: str = "Status"
) -> Site:
    """The index, ``status.json`` and the files of the ``fresh`` monitors; the ``kept`` ones (their
    statuses from an earlier render) are on the index only. The render makes many small objects
    and frees none before it ends, so the cyclic collector (which would walk them all again and
    again) is paused while it runs."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        statuses = monitor_statuses(fresh, now)
        doc = document_of([*statuses, *kept], now)
        fragments = Fragments()
        files = index_files(doc, fragments, title)
        for m in statuses:
            files |= monitor_files(m, doc.generated_at, fragments, title)
        return Site(doc, files)
    finally:
        if was_on:
            gc.enable()


def index_files(doc: StatusDocument, fragments: Fragments, title: str) -> dict[str, bytes]:
    return {
        "index.html": index_page(doc, fragments, title).encode(),
        "style.css": STYLE_CSS.encode(),
        "favicon.svg": FAVICON_SVG.encode(),
        "status.json": doc.summary().to_bytes(),
    }


def monitor_files(m: MonitorStatus, generated_at: str, fragments: Fragments, title: str) -> dict[str, bytes]:
    """A monitor's page, its JSON and its badges (the monitor's and each URL's)."""
    files = {
        f"monitors/{m.name}.html": monitor_page(m, generated_at, fragments, title).encode(),
        f"monitors/{m.name}.json": m.to_bytes(),
    }
    u = m.uptime
    p95s = [url.p95_ms_today for url in m.urls if url.p95_ms_today is not None]
    periods = {"24h": u.last_24h, "7d": u.last_7d, "30d": u.last_30d}
    files |= badge_files(f"badges/{m.name}", m.state, periods, max(p95s, default=None))
    for url in m.urls:
        files |= badge_files(f"badges/{m.name}/{url.id}", *url_badge_inputs(url))
    return files
