"""The pages: the index (monitors by group, open incidents first, a 90-day bar and uptime figures
per URL) and one page per monitor (bars, the response-time chart, incidents, maintenance).

Plain HTML: one same-origin stylesheet (the CSP allows nothing else), no script, no font, no
request anywhere else; every figure is text, the bars' segments carry their figures as titles.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape

from fanout.status.model import (
    IncidentFigures,
    MonitorStatus,
    RegionDayFigures,
    State,
    StatusDocument,
    UrlStatus,
)
from fanout.status.svg import bars, latency_chart, percent
from fanout.status.windows import MaintenanceFigures, WindowFigures

STATE_TEXT = {
    State.OPERATIONAL: "Operational", State.DEGRADED: "Degraded", State.DOWN: "Down",
    State.MAINTENANCE: "Maintenance", State.UNKNOWN: "No data yet",
}  # fmt: skip
PERIODS = (
    ("24 h", "last_24h"),
    ("7 d", "last_7d"),
    ("30 d", "last_30d"),
    ("90 d", "last_90d"),
    ("1 y", "last_1y"),
)


def _page(title: str, body: str, root: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f'<meta name="color-scheme" content="light dark"><title>{escape(title)}</title>'
        f'<link rel="icon" href="{root}favicon.svg" type="image/svg+xml">'
        f'<link rel="stylesheet" href="{root}style.css"></head><body>'
        f"<main>{body}</main>"
        "<footer><p>Rendered by fanout from its monitors. Uptime: the share of checks that passed."
        f' Data: <a href="{root}status.json">status.json</a>.</p></footer></body></html>'
    )


def pill(state: State) -> str:
    return f'<span class="pill s-{state.value}">{STATE_TEXT[state]}</span>'


def uptime_list(figures: object) -> str:
    items = "".join(
        f"<div><dt>{label}</dt><dd>{percent(getattr(figures, pick))}</dd></div>" for label, pick in PERIODS
    )
    return f'<dl class="uptime">{items}</dl>'


class Fragments:
    """Each URL's head, bars and figures, rendered once for both pages it shows on."""

    def __init__(self) -> None:
        self._done: dict[int, str] = {}

    def url_block(self, url: UrlStatus) -> str:
        block = self._done.get(id(url))
        if block is None:
            label = f"{url.name}: the last {len(url.days)} days, one bar per day"
            block = self._done[id(url)] = (
                f'<div class="url-head"><span class="url-name">{escape(url.name)}</span>'
                f"{pill(url.state)}</div>"
                f'{bars(url.days, label)}<div class="scale"><span>{len(url.days)} days ago</span>'
                f"<span>today</span></div>{uptime_list(url.uptime)}"
            )
        return block


def _url_row(url: UrlStatus, fragments: Fragments, *, chart: bool) -> str:
    parts = [fragments.url_block(url)]
    if chart:
        parts.append(latency_chart(url.days, f"{url.name}: response time per day, p50 and p95, milliseconds"))
        parts.append(_maintenance(url))
        parts.append(_regions(url))
        parts.append(_incidents(url.incidents))
    return f'<li class="url" id="u-{url.id}">{"".join(parts)}</li>'


def _maintenance(url: UrlStatus) -> str:
    if url.state is State.MAINTENANCE:
        return '<p class="maint">Under maintenance now.</p>'
    if url.maintenance_ms_90d:
        days = [d for d in url.days if d.maintenance_ms]
        listed = ", ".join(f"{d.day} ({d.maintenance_ms // 60_000} min)" for d in days[-10:])
        return f'<p class="maint">Maintenance over 90 days: {listed}.</p>'
    return ""


REGION_DAYS_SHOWN = 7


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f}"


def _region_days(days: Sequence[RegionDayFigures]) -> str:
    """Each day's figures kept on one line (the list wraps between days, never inside one)."""
    return ", ".join(
        f'<span class="rday">{escape(d.day[5:])}: {_ms(d.p50_ms)} / {_ms(d.p95_ms)}</span>'
        for d in days[-REGION_DAYS_SHOWN:]
    )


def _regions(url: UrlStatus) -> str:
    """A regional monitor's URL, region by region: its last check and its days' p50/p95. Narrower
    than the table, its wrapper scrolls sideways, so it takes the keyboard's focus (a labelled
    region) for a person without a mouse to scroll it."""
    if not url.regions:
        return ""
    rows = "".join(
        f"<tr><th scope=row>{escape(r.region)}</th>"
        f"<td>{escape(r.outcome)} at {r.checked_at[11:16]} UTC</td>"
        f"<td>{_ms(r.latency_ms)}{'' if r.latency_ms is None else ' ms'}</td>"
        f"<td>{_region_days(r.days)}</td></tr>"
        for r in url.regions
    )
    head = "".join(
        f"<th scope=col>{h}</th>" for h in ("Region", "Last check", "Latency", "p50 / p95 per day, ms")
    )
    caption = f"rc-{url.id}"
    return (
        f'<div class="scroll" tabindex="0" role="region" aria-labelledby="{caption}">'
        f'<table class="regions"><caption id="{caption}">{escape(url.name)} by region</caption>'
        f"<tr>{head}</tr>{rows}</table></div>"
    )


def _duration(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 1:
        return f"{seconds:.0f} s"
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    return " ".join(f"{n} {u}" for n, u in ((days, "d"), (hours, "h"), (minutes, "min")) if n) or "0 min"


def _cause(i: IncidentFigures) -> str:
    parts = [i.outcome]
    if i.status_code is not None:
        parts.append(f"HTTP {i.status_code}")
    if i.checks_failed:
        parts.append("failed " + ", ".join(i.checks_failed))
    if i.error:
        parts.append(i.error)
    if i.regions:
        parts.append("in " + ", ".join(i.regions))
    return escape("; ".join(parts))


def _incidents(incidents: Iterable[IncidentFigures]) -> str:
    rows = "".join(
        f"<tr><td>{i.start[:16].replace('T', ' ')} UTC</td>"
        f"<td>{'ongoing' if i.end is None else i.end[:16].replace('T', ' ') + ' UTC'}</td>"
        f"<td>{_duration(i.duration_s)}</td><td>{_cause(i)}</td></tr>"
        for i in incidents
    )
    if not rows:
        return '<p class="muted">No incidents in the last 400 days.</p>'
    head = "".join(f"<th scope=col>{h}</th>" for h in ("Down since", "Back up", "Lasted", "Cause"))
    head = f"<tr>{head}</tr>"
    return (
        f'<div class="scroll"><table class="incidents"><caption>Incidents</caption>{head}{rows}</table></div>'
    )


def _utc(iso: str) -> str:
    return f"{iso[:16].replace('T', ' ')} UTC"


def _which(w: WindowFigures) -> str:
    if w.cron is None:
        return "one-off"
    return f"every <code>{escape(w.cron)}</code> ({escape(w.timezone or 'UTC')})"


def _under_way(maintenance: MaintenanceFigures) -> str:
    w = maintenance.active
    if w is None:
        return ""
    return f'<p class="maint">Maintenance under way until {_utc(w.end)} (since {_utc(w.start)}).</p>'


def _window_table(caption: str, windows: Iterable[WindowFigures]) -> str:
    rows = "".join(
        f"<tr><td>{_utc(w.start)}</td><td>{_utc(w.end)}</td><td>{_duration(w.duration_s)}</td>"
        f"<td>{_which(w)}</td></tr>"
        for w in windows
    )
    if not rows:
        return f'<p class="muted">{caption}: none.</p>'
    head = "".join(f"<th scope=col>{h}</th>" for h in ("Starts", "Ends", "Lasts", "Window"))
    return (
        f'<div class="scroll"><table class="windows"><caption>{caption}</caption>'
        f"<tr>{head}</tr>{rows}</table></div>"
    )


def _windows(maintenance: MaintenanceFigures) -> str:
    """The monitor page's maintenance section: the window under way, upcoming and past ones."""
    m = maintenance
    if m.active is None and not m.upcoming and not m.past:
        body = '<p class="muted">No maintenance windows.</p>'
    else:
        body = "" if m.active is None else _window_table("Under way", [m.active])
        body += _window_table("Upcoming maintenance", m.upcoming) + _window_table("Past maintenance", m.past)
    return f'<section class="windows"><h3>Maintenance</h3>{body}</section>'


def _monitor_card(m: MonitorStatus, fragments: Fragments, *, link: bool) -> str:
    level = 3 if link else 2
    name = f'<a href="monitors/{m.name}.html">{escape(m.name)}</a>' if link else escape(m.name)
    down = (
        f'<p class="open">{m.open_incidents} URL{"s" if m.open_incidents != 1 else ""} down now</p>'
        if m.open_incidents
        else ""
    )
    urls = "".join(_url_row(u, fragments, chart=not link) for u in m.urls)
    badge = (
        f'<img class="badge" src="{"" if link else "../"}badges/{m.name}/status.svg"'
        f' alt="status badge: {m.state.value}" height="20">'
    )
    return (
        f'<section class="monitor" id="m-{m.name}">'
        f'<div class="m-head"><h{level}>{name}</h{level}>{pill(m.state)}</div>'
        f"{down}{_under_way(m.maintenance)}{uptime_list(m.uptime)}{badge if not link else ''}"
        f'<ul class="urls">{urls}</ul>{"" if link else _windows(m.maintenance)}</section>'
    )


def index_page(doc: StatusDocument, fragments: Fragments, title: str = "Status") -> str:
    groups: dict[str, list[MonitorStatus]] = {}
    for m in doc.monitors:
        groups.setdefault(m.group or "Other", []).append(m)
    sections = "".join(
        f'<section class="group"><h2>{escape(g)}</h2>'
        f"{''.join(_monitor_card(m, fragments, link=True) for m in ms)}</section>"
        for g, ms in groups.items()
    )
    head = (
        f'<header><h1>{escape(title)}</h1><p class="overall">{pill(doc.state)} '
        f'<span class="muted">updated {doc.generated_at[:16].replace("T", " ")} UTC</span></p></header>'
    )
    empty = "" if doc.monitors else '<p class="muted">No public monitors yet.</p>'
    return _page(title, head + empty + sections, "")


def monitor_page(m: MonitorStatus, generated_at: str, fragments: Fragments, title: str = "Status") -> str:
    head = (
        f'<header><p><a href="../index.html">&larr; {escape(title)}</a></p><h1>{escape(m.name)}</h1>'
        f'<p class="muted">{escape(m.group or "")} · updated {generated_at[:16].replace("T", " ")} UTC'
        f' · data: <a href="{m.name}.json">{m.name}.json</a></p></header>'
    )
    body = _monitor_card(m, fragments, link=False)
    return _page(f"{m.name} · {title}", head + body, "../")
