"""``status.json`` and each monitor's JSON: one documented model, built from what the monitors table
holds (a summary, URL states, month records), which the HTML pages are rendered from too.

A monitor ``public: false`` is left out before anything is built; a URL is shown by its display
name, else without its query string and fragment (a query may hold a token).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlsplit, urlunsplit

import msgspec
from msgspec import Meta

from fanout.core.history import DailyAggregate, Incident, LongHistory, MonthRecord
from fanout.core.ids import iso_from_epoch
from fanout.core.model import Document
from fanout.core.monitors import Health, SubjectState, subject_id
from fanout.core.rounds import RegionFacts
from fanout.core.uptime import day_of
from fanout.status.windows import MaintenanceFigures, windows_of

BAR_DAYS = 90
INCIDENTS_LISTED = 50
_Ratio = Annotated[float | None, Meta(description="The share of checks that passed; null: no checks")]
_Ms = Annotated[float | None, Meta(description="Milliseconds; null: no latency measured")]


class State(enum.StrEnum):
    OPERATIONAL = "operational"
    DEGRADED = "degraded"
    DOWN = "down"
    MAINTENANCE = "maintenance"
    UNKNOWN = "unknown"


class UptimeFigures(Document, frozen=True, omit_defaults=False):
    """Uptime over 24 hours, 7, 30 and 90 days and a year (365 days)."""

    last_24h: _Ratio = msgspec.field(name="24h")
    last_7d: _Ratio = msgspec.field(name="7d")
    last_30d: _Ratio = msgspec.field(name="30d")
    last_90d: _Ratio = msgspec.field(name="90d")
    last_1y: _Ratio = msgspec.field(name="1y")


class DayFigures(Document, frozen=True, omit_defaults=False):
    """One UTC day of a URL (null figures: no checks that day)."""

    day: Annotated[str, Meta(description="YYYY-MM-DD (UTC)")]
    uptime: _Ratio
    checks: Annotated[int, Meta(description="Checks that day")]
    failures: Annotated[int, Meta(description="Failed checks that day")]
    maintenance_ms: Annotated[int, Meta(description="Time under maintenance that day, ms")]
    p50_ms: _Ms
    p95_ms: _Ms
    incidents: Annotated[int, Meta(description="Incidents that started that day")]


class IncidentFigures(Document, frozen=True, omit_defaults=False):
    """A DOWN..UP interval and its cause."""

    start: Annotated[str, Meta(description="When the URL went down, ISO 8601 UTC")]
    end: Annotated[str | None, Meta(description="When it came back; null: still down")]
    duration_s: Annotated[float, Meta(description="Seconds down (until now while open)")]
    outcome: Annotated[str, Meta(description="The failing check's outcome (docs/contract.md)")]
    status_code: Annotated[int | None, Meta(description="Its status code")]
    checks_failed: Annotated[tuple[str, ...], Meta(description="The checks it failed")]
    error: Annotated[str | None, Meta(description="Its error's type")]
    regions: Annotated[tuple[str, ...], Meta(description="Where it failed, when known")]

    @classmethod
    def of(cls, i: Incident, now: float) -> IncidentFigures:
        end = None if i.end is None else iso_from_epoch(i.end)
        return cls(
            iso_from_epoch(i.start), end, round(i.duration_s(now), 1), i.outcome or "unknown",
            i.status_code, i.checks_failed, i.error, i.regions,
        )  # fmt: skip


class RegionDayFigures(Document, frozen=True, omit_defaults=False):
    """One day of a URL as one region saw it: its latency percentiles."""

    day: Annotated[str, Meta(description="YYYY-MM-DD (UTC)")]
    p50_ms: _Ms
    p95_ms: _Ms


class RegionFigures(Document, frozen=True, omit_defaults=False):
    """A regional monitor's URL as one region saw it (docs/monitors.md#regions)."""

    region: Annotated[str, Meta(description="The region")]
    outcome: Annotated[str, Meta(description="Its last check's outcome")]
    passed: Annotated[bool | None, Meta(description="Its last check passed (null: neither)")]
    latency_ms: _Ms
    checked_at: Annotated[str, Meta(description="When, ISO 8601 UTC")]
    days: Annotated[tuple[RegionDayFigures, ...], Meta(description="Its last days' p50/p95, oldest first")]

    @classmethod
    def of(cls, facts: RegionFacts) -> RegionFigures:
        last = facts.last
        days = tuple(RegionDayFigures(d.day, *d.latency) for d in facts.days)
        latency = None if last.latency_ms is None else round(last.latency_ms, 1)
        return cls(facts.region, last.outcome, last.passed, latency, iso_from_epoch(last.at), days)


class UrlStatus(Document, frozen=True, omit_defaults=False):
    """One URL on the page."""

    id: Annotated[str, Meta(description="A stable short id (badges' file names)")]
    name: Annotated[str, Meta(description="Its display name, or the URL without its query")]
    state: State
    since: Annotated[str | None, Meta(description="Since when, ISO 8601 UTC")]
    uptime: UptimeFigures
    p95_ms_today: _Ms
    maintenance_ms_90d: Annotated[int, Meta(description="Time under maintenance over 90 days, ms")]
    days: Annotated[tuple[DayFigures, ...], Meta(description="The last days, oldest first")]
    incidents: Annotated[tuple[IncidentFigures, ...], Meta(description="Its incidents, newest first")]
    regions: Annotated[
        tuple[RegionFigures, ...], Meta(description="A regional monitor's URL: each region's figures")
    ] = ()


class MonitorStatus(Document, frozen=True, omit_defaults=False):
    """One monitor on the page."""

    name: Annotated[str, Meta(description="The monitor")]
    group: Annotated[str | None, Meta(description="Its group")]
    state: State
    open_incidents: Annotated[int, Meta(description="Its URLs down now")]
    last_run_at: Annotated[str | None, Meta(description="Its last run, ISO 8601 UTC")]
    uptime: UptimeFigures
    urls: tuple[UrlStatus, ...]
    maintenance: Annotated[MaintenanceFigures, Meta(description="Its maintenance windows")] = msgspec.field(
        default_factory=MaintenanceFigures
    )


class StatusDocument(Document, frozen=True, omit_defaults=False):
    """``status.json``: every public monitor, open incidents first, then by group and name. Its URLs'
    ``days`` and ``incidents`` are in each monitor's own JSON (``monitors/<name>.json``), which
    keeps this one small whatever the history."""

    generated_at: Annotated[str, Meta(description="When the page was rendered, ISO 8601 UTC")]
    state: Annotated[State, Meta(description="The worst state of any monitor")]
    monitors: tuple[MonitorStatus, ...]

    def summary(self) -> StatusDocument:
        """This document without its URLs' days and incidents: ``status.json``."""
        return self.replaced(
            monitors=tuple(
                m.replaced(urls=tuple(u.replaced(days=(), incidents=(), regions=()) for u in m.urls))
                for m in self.monitors
            )
        )


@dataclass(frozen=True, slots=True)
class MonitorData:
    """What the monitors table holds of one monitor."""

    summary: Mapping[str, Any]
    states: Sequence[SubjectState]
    months: Mapping[str, Sequence[MonthRecord]]  # by subject


def shown_url(url: str, display_names: Mapping[str, str]) -> str:
    if url in display_names:
        return display_names[url]
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def _uptime(long: LongHistory, state: SubjectState, now: float) -> UptimeFigures:
    return UptimeFigures(state.history.uptime_24h(now), *long.uptimes(now, (7, 30, 90, 365)))


def _day(day: str, figures: DailyAggregate | None, incidents: int) -> DayFigures:
    if figures is None:
        return DayFigures(day, None, 0, 0, 0, None, None, incidents)
    uptime = None if figures.uptime is None else round(figures.uptime, 6)
    return DayFigures(
        day, uptime, figures.checks, figures.failures, figures.maintenance_ms,
        figures.p50_ms, figures.p95_ms, incidents,
    )  # fmt: skip


def bar_dates(now: float, days: int = BAR_DAYS) -> tuple[str, ...]:
    """The bars' days, oldest first (today last)."""
    return tuple(day_of(now - (days - 1 - k) * 86_400) for k in range(days))


def url_status(
    data: MonitorData, state: SubjectState, now: float, dates: Sequence[str], *, maintenance: bool = False
) -> UrlStatus:
    """A URL's status; ``maintenance``: a window of its monitor is under way."""
    long = LongHistory.of(state, data.months.get(state.subject, ()), now)
    started: dict[str, int] = {}
    for i in long.incidents:
        started[day_of(i.start)] = started.get(day_of(i.start), 0) + 1
    by_day = {d.day: d for d in long.days[-len(dates) :]}
    bars = tuple(_day(d, by_day.get(d), started.get(d, 0)) for d in dates)
    shown = {Health.UP: State.OPERATIONAL, Health.DOWN: State.DOWN}.get(state.status, State.UNKNOWN)
    today = state.history.today(now)
    return UrlStatus(
        id=subject_id(state.subject)[:12],
        name=shown_url(state.subject, data.summary.get("display_names") or {}),
        state=State.MAINTENANCE if maintenance else shown,
        since=None if state.since is None else iso_from_epoch(state.since),
        uptime=_uptime(long, state, now),
        p95_ms_today=None if today is None else today.latency[1],
        maintenance_ms_90d=sum(b.maintenance_ms for b in bars),
        days=bars,
        incidents=tuple(IncidentFigures.of(i, now) for i in long.incidents[:INCIDENTS_LISTED]),
        regions=tuple(RegionFigures.of(f) for f in state.region_facts),
    )


def _combined(urls: Sequence[UrlStatus], pick: str) -> float | None:
    values = [getattr(u.uptime, pick) for u in urls if getattr(u.uptime, pick) is not None]
    return None if not values else round(sum(values) / len(values), 6)


def monitor_status(data: MonitorData, now: float, dates: Sequence[str]) -> MonitorStatus:
    states = sorted(
        (s for s in data.states if not s.subject.startswith("threshold:")), key=lambda s: s.subject
    )
    maintenance = MaintenanceFigures.of(windows_of(data.summary), now)
    in_window = maintenance.active is not None
    urls = tuple(url_status(data, s, now, dates, maintenance=in_window) for s in states)
    down = sum(u.state is State.DOWN for u in urls)
    if in_window:
        state = State.MAINTENANCE
    elif not urls or all(u.state is State.UNKNOWN for u in urls):
        state = State.UNKNOWN
    else:
        state = State.DOWN if down == len(urls) else State.DEGRADED if down else State.OPERATIONAL
    urls = tuple(sorted(urls, key=lambda u: (u.state is not State.DOWN, u.name)))
    picks = ("last_24h", "last_7d", "last_30d", "last_90d", "last_1y")
    return MonitorStatus(
        name=str(data.summary["name"]),
        group=data.summary.get("group"),
        state=state,
        open_incidents=down,
        last_run_at=data.summary.get("last_run_at"),
        uptime=UptimeFigures(*(_combined(urls, p) for p in picks)),
        urls=urls,
        maintenance=maintenance,
    )


_WORST = (State.DOWN, State.DEGRADED, State.MAINTENANCE, State.OPERATIONAL, State.UNKNOWN)


def monitor_statuses(monitors: Sequence[MonitorData], now: float) -> list[MonitorStatus]:
    """The public monitors' statuses."""
    dates = bar_dates(now)
    return [monitor_status(m, now, dates) for m in monitors if m.summary.get("public", True) is not False]


def document_of(shown: Sequence[MonitorStatus], now: float) -> StatusDocument:
    """The page's document from its monitors' statuses (rendered now, or kept from an earlier
    render): those with open incidents first, then by group and name."""
    ordered = sorted(shown, key=lambda m: (m.open_incidents == 0, m.group or "", m.name))
    worst = min((m.state for m in ordered), key=_WORST.index, default=State.UNKNOWN)
    return StatusDocument(iso_from_epoch(now), worst, tuple(ordered))


def status_document(monitors: Sequence[MonitorData], now: float) -> StatusDocument:
    """The page's document: public monitors, those with open incidents first, then by group, name."""
    return document_of(monitor_statuses(monitors, now), now)
