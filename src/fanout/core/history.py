"""A URL's long history, the pure part: daily aggregates and incidents for 400 days and more, in
one bounded record per (URL, month) (docs/status-page.md).

A state keeps its last 31 days (``fanout.core.uptime``); what this module adds is what those days
become once they close, and every DOWN..UP interval with its cause. Both are derived from a
state before and after a run (``archived``): a day is archived when the next one begins, an
incident when it opens and again when it closes. Every change is a value set under a key (a
day, an incident's start), so writing one twice is the same as writing it once and a month's
record needs no read before a write. A month holds at most 31 days and ``INCIDENTS_PER_MONTH``
incidents (those past it are counted, not kept), so a URL's history is bounded whatever it does.
"""

from __future__ import annotations

import bisect
import calendar
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from fanout.core.monitors import Health, Observation, SubjectState
from fanout.core.uptime import Day, day_of

RETENTION_DAYS = 400
"""At least this many days of daily aggregates and incidents are kept."""
MONTHS_KEPT = 15
"""Month records a URL has at most: 400 days span 14 calendar months, plus the current one."""
INCIDENTS_PER_MONTH = 100


def month_of(day: str) -> str:
    return day[:7]


def month_start(month: str) -> int:
    """Epoch seconds of the first instant of ``month`` (YYYY-MM, UTC)."""
    return calendar.timegm(time.strptime(month + "-01", "%Y-%m-%d"))


def expires_at(month: str) -> int:
    """When a month's record may go (TTL): ``RETENTION_DAYS`` after the month's end, and a margin."""
    return month_start(month) + (31 + RETENTION_DAYS + 3) * 86_400


@dataclass(frozen=True, slots=True)
class DailyAggregate:
    """One UTC day of a URL: its checks, failures, time under maintenance and latency."""

    day: str  # YYYY-MM-DD
    checks: int
    failures: int
    maintenance_ms: int = 0
    p50_ms: float | None = None
    p95_ms: float | None = None

    @classmethod
    def of_day(cls, day: Day) -> DailyAggregate:
        """A state's day as the long history keeps it: its checks under maintenance count in
        neither ``checks`` nor ``failures``, only as ``maintenance_ms``."""
        p50, p95 = day.latency
        return cls(day.day, day.ok + day.failed, day.failed, day.maintenance_ms, p50, p95)

    @property
    def uptime(self) -> float | None:
        return None if self.checks == 0 else (self.checks - self.failures) / self.checks


@dataclass(frozen=True, slots=True)
class Incident:
    """A DOWN..UP interval (``end`` None while it lasts) and what made it: the failing check's
    outcome, status code, failed checks, error type and regions when known."""

    start: float  # epoch seconds
    end: float | None = None
    outcome: str = ""
    status_code: int | None = None
    checks_failed: tuple[str, ...] = ()
    error: str | None = None  # the error's type
    regions: tuple[str, ...] = ()

    @classmethod
    def opened(cls, start: float, cause: Observation | None) -> Incident:
        if cause is None:
            return cls(start)
        error = None if cause.error is None else cause.error.type
        regions = tuple(v.region for v in cause.regions if v.passed is False)  # a regional round's
        return cls(start, None, cause.outcome, cause.status_code, cause.checks_failed, error, regions)

    @property
    def key(self) -> str:
        """Its start, in milliseconds: the same incident always has the same key."""
        return str(round(self.start * 1000))

    def duration_s(self, now: float) -> float:
        return max(0.0, (self.end if self.end is not None else now) - self.start)


@dataclass(frozen=True, slots=True)
class Archived:
    """What one run adds to a URL's long history: closed days, opened and closed incidents."""

    days: tuple[DailyAggregate, ...] = ()
    opened: tuple[Incident, ...] = ()
    closed: tuple[Incident, ...] = ()  # start and end only: the cause was written when it opened

    def __bool__(self) -> bool:
        return bool(self.days or self.opened or self.closed)


def archived(prior: SubjectState, after: SubjectState, alerts: Iterable[tuple[Health, float]]) -> Archived:
    """What the move from ``prior`` to ``after`` archives. ``alerts``: the (status, since) of each
    change the move made, in order (a run may observe a URL more than once)."""
    days: tuple[DailyAggregate, ...] = ()
    was, now = prior.history.days, after.history.days
    if was and now and now[-1].day != was[-1].day:  # the prior state's last day has closed
        days = (DailyAggregate.of_day(was[-1].closed()),)
    opened: list[Incident] = []
    closed: list[Incident] = []
    down_since = prior.since if prior.status is Health.DOWN else None
    for status, since in alerts:
        if status is Health.DOWN:
            down_since = since
            opened.append(Incident.opened(since, after.last))
        elif status is Health.UP and down_since is not None:
            closed.append(Incident(down_since, since))
            down_since = None
    return Archived(days, tuple(opened), tuple(closed))


@dataclass(frozen=True, slots=True)
class MonthRecord:
    """A URL's month: its closed days and the incidents that started in it."""

    subject: str
    month: str  # YYYY-MM
    days: Mapping[str, DailyAggregate] = field(default_factory=dict)
    incidents: Mapping[str, Incident] = field(default_factory=dict)
    dropped_incidents: int = 0


@dataclass(frozen=True, slots=True)
class LongHistory:
    """A URL's daily aggregates (oldest first) and incidents (newest first), from its month records
    and its state's recent days (the state's word wins for a day both have)."""

    days: tuple[DailyAggregate, ...]
    incidents: tuple[Incident, ...]

    @classmethod
    def of(cls, state: SubjectState, months: Sequence[MonthRecord], now: float) -> LongHistory:
        first = day_of(now - (RETENTION_DAYS - 1) * 86_400)
        by_day: dict[str, DailyAggregate] = {}
        incidents: dict[str, Incident] = {}
        for record in sorted(months, key=lambda r: r.month):
            by_day.update(record.days)
            for key, incident in record.incidents.items():
                incidents[key] = _merged(incidents.get(key), incident)
        by_day.update({d.day: DailyAggregate.of_day(d) for d in state.history.days})
        if state.status is Health.DOWN and state.since is not None:
            now_open = Incident.opened(state.since, state.last)
            incidents[now_open.key] = _merged(incidents.get(now_open.key), now_open)
        days = tuple(by_day[d] for d in sorted(by_day) if d >= first)
        kept = sorted(
            (i for i in incidents.values() if day_of(i.start) >= first or i.end is None),
            key=lambda i: -i.start,
        )
        if state.status is not Health.DOWN:  # an incident left open by a missed write is over
            kept = [replace(i, end=state.since or i.start) if i.end is None else i for i in kept]
        return cls(days, tuple(kept))

    def uptime(self, now: float, days: int) -> float | None:
        """Successes over the last ``days`` UTC days (today included); time under maintenance is
        neither up nor down, so it is in neither figure."""
        first = day_of(now - (days - 1) * 86_400)
        recent = [d for d in self.days if d.day >= first]
        checks = sum(d.checks for d in recent)
        return None if checks == 0 else round((checks - sum(d.failures for d in recent)) / checks, 6)

    def uptimes(self, now: float, periods: Sequence[int]) -> tuple[float | None, ...]:
        """``uptime`` over each of ``periods`` (days): one pass, then a search per period."""
        days = [d.day for d in self.days]
        checks, failures = [0], [0]
        for d in self.days:
            checks.append(checks[-1] + d.checks)
            failures.append(failures[-1] + d.failures)
        found: list[float | None] = []
        for period in periods:
            start = bisect.bisect_left(days, day_of(now - (period - 1) * 86_400))
            c, f = checks[-1] - checks[start], failures[-1] - failures[start]
            found.append(None if c == 0 else round((c - f) / c, 6))
        return tuple(found)

    def last_days(self, now: float, count: int) -> list[DailyAggregate | None]:
        """The last ``count`` UTC days, oldest first, None for a day without checks."""
        by_day = {d.day: d for d in self.days}
        return [by_day.get(day_of(now - (count - 1 - i) * 86_400)) for i in range(count)]


def _merged(known: Incident | None, new: Incident) -> Incident:
    """An incident as two writes know it: the cause from its opening, the end from its closing."""
    if known is None:
        return new
    cause = known if known.outcome else new
    end = known.end if known.end is not None else new.end
    return replace(cause, end=end)


def with_archived(
    months: Mapping[str, MonthRecord], subject: str, change: Archived
) -> dict[str, MonthRecord]:
    """``months`` (by month) with ``change`` written: what the store does to its items, in memory."""
    found = dict(months)

    def month(key: str) -> MonthRecord:
        return found.get(key) or MonthRecord(subject, key)

    for d in change.days:
        m = month(month_of(d.day))
        found[m.month] = replace(m, days={**m.days, d.day: d})
    for i in change.opened:
        m = month(month_of(day_of(i.start)))
        if i.key in m.incidents:
            continue
        if len(m.incidents) >= INCIDENTS_PER_MONTH:
            found[m.month] = replace(m, dropped_incidents=m.dropped_incidents + 1)
        else:
            found[m.month] = replace(m, incidents={**m.incidents, i.key: i})
    for i in change.closed:
        m = month(month_of(day_of(i.start)))
        known = m.incidents.get(i.key)
        found[m.month] = replace(m, incidents={**m.incidents, i.key: _merged(known, i)})
    return found
