"""Maintenance windows (``monitor.maintenance``): one-off ``{start, end}`` and recurring ``{cron,
duration, timezone}``; while one is active checks still run and are stored but no DOWN/UP alert is
sent, and the checks count as maintenance, not downtime (docs/monitors.md#maintenance-windows).

A recurring window is a standard 5-field cron (minute hour day-of-month month day-of-week, names
allowed for months and days) read in its IANA time zone; it is active at ``t`` when a minute
matching the cron starts at most ``duration`` before ``t``. The matcher here is small and bounded
(no cron library in the deployment): ``duration`` is at most a week, so finding the window that
covers ``t`` tests at most that many minutes, each a few set lookups.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import islice
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

_DURATION = re.compile(r"^(\d{1,4})(m|h|d)$")
_UNIT_S = {"m": 60, "h": 3_600, "d": 86_400}
MAX_WINDOW_S = 7 * 86_400
SEARCH_DAYS = 400
"""How far from now the next and last occurrences of a recurring window are looked for."""
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_FIELDS: tuple[tuple[str, int, int, tuple[str, ...]], ...] = (  # name, lowest, highest, names
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day of month", 1, 31, ()),
    ("month", 1, 12, _MONTHS),
    ("day of week", 0, 7, _DAYS),
)


def duration_s(text: str) -> int:
    """``"30m"``, ``"1h"``, ``"2d"`` in seconds (raises ValueError)."""
    match = _DURATION.match(text)
    if match is None or int(match[1]) == 0:
        raise ValueError(f"{text!r} is not a duration like '30m', '4h' or '1d'")
    return int(match[1]) * _UNIT_S[match[2]]


def _number(text: str, low: int, names: tuple[str, ...]) -> int:
    lowered = text.lower()
    if lowered in names:
        return names.index(lowered) + low
    if not text.isdigit():
        raise ValueError(f"{text!r} is not a number{' or a name' if names else ''}")
    return int(text)


def _values(part: str, low: int, high: int, names: tuple[str, ...]) -> set[int]:
    """One comma-separated element: ``*``, ``a``, ``a-b``, each with an optional ``/step``."""
    span, _, step_text = part.partition("/")
    step = int(step_text) if step_text.isdigit() and int(step_text) > 0 else None
    if step_text and step is None:
        raise ValueError(f"{part!r}: a step is a positive number")
    if span == "*":
        first, last = low, high
    elif "-" in span:
        a, b = span.split("-", 1)
        first, last = _number(a, low, names), _number(b, low, names)
    else:
        first = _number(span, low, names)
        last = high if step else first
    if not (low <= first <= last <= high):
        raise ValueError(f"{part!r} is outside {low}-{high}")
    return set(range(first, last + 1, step or 1))


@dataclass(frozen=True, slots=True)
class Cron:
    """A parsed 5-field cron; day-of-month and day-of-week combine as cron does (either matches
    when both are restricted)."""

    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    any_day: bool
    any_weekday: bool

    @classmethod
    def parse(cls, text: str) -> Cron:
        parts = text.split()
        if len(parts) != 5:
            raise ValueError(
                f"a cron has 5 fields (minute hour day-of-month month day-of-week), not {len(parts)}"
            )
        sets = []
        for part, (name, low, high, names) in zip(parts, _FIELDS, strict=True):
            try:
                sets.append(frozenset(v for p in part.split(",") for v in _values(p, low, high, names)))
            except ValueError as exc:
                raise ValueError(f"cron {name}: {exc}") from None
        weekdays = frozenset(d % 7 for d in sets[4])
        minutes, hours, days, months = sets[:4]
        return cls(minutes, hours, days, months, weekdays, parts[2] == "*", parts[4] == "*")

    def matches(self, local: datetime) -> bool:
        return local.minute in self.minutes and local.hour in self.hours and self.on_day(local.date())

    def on_day(self, day: date) -> bool:
        if day.month not in self.months:
            return False
        day_ok, weekday_ok = day.day in self.days, (day.isoweekday() % 7) in self.weekdays
        if self.any_day or self.any_weekday:
            return day_ok and weekday_ok
        return day_ok or weekday_ok

    def starts(self, zone: ZoneInfo, at: float, *, forward: bool) -> Iterator[float]:
        """The instants (epoch) a minute matching it starts, after ``at`` (or at and before it),
        nearest first, within ``SEARCH_DAYS``: day by day, then only the cron's hours and minutes.
        A local time skipped by a clock change never starts; one lived twice starts twice (as
        ``Window.active_at`` reads them)."""
        today = datetime.fromtimestamp(at, zone).date()
        times = sorted((h, m) for h in self.hours for m in self.minutes)
        for k in range(SEARCH_DAYS + 1):
            day = today + timedelta(days=k if forward else -k)
            if not self.on_day(day):
                continue
            found = set()
            for hour, minute in times:
                naive = datetime(day.year, day.month, day.day, hour, minute)
                for fold in (0, 1):
                    start = naive.replace(tzinfo=zone, fold=fold).timestamp()
                    if datetime.fromtimestamp(start, zone).replace(tzinfo=None) == naive:
                        found.add(start)
            kept = (t for t in found if (t > at if forward else t <= at))
            yield from sorted(kept, reverse=not forward)


def _cron(value: str) -> str:
    Cron.parse(value)
    return value


def _duration(value: str) -> str:
    if duration_s(value) > MAX_WINDOW_S:
        raise ValueError("a window lasts at most 7d")
    return value


def _zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{value!r} is not an IANA time zone (Europe/Paris, UTC, ...)") from None
    return value


def _instant(value: str) -> str:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not an RFC 3339 time (2026-12-24T22:00:00Z)") from None
    if parsed.tzinfo is None:
        raise ValueError(f"{value!r} has no offset: end it with Z or +01:00")
    return value


Instant = Annotated[str, Field(max_length=40), AfterValidator(_instant)]


class Window(BaseModel):
    """One window: ``start``/``end`` (RFC 3339), or ``cron`` + ``duration`` (+ ``timezone``)."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    start: Instant | None = None
    end: Instant | None = None
    cron: Annotated[str, Field(max_length=128), AfterValidator(_cron)] | None = Field(
        default=None, description="5-field cron: when a window starts (0 2 * * SUN)."
    )
    duration: Annotated[str, Field(max_length=8), AfterValidator(_duration)] | None = Field(
        default=None, description="How long it lasts: 30m, 1h, 2d (at most 7d)."
    )
    timezone: Annotated[str, Field(max_length=64), AfterValidator(_zone)] = Field(
        default="UTC", description="The IANA time zone its cron is read in."
    )

    @model_validator(mode="after")
    def _one_kind(self) -> Window:
        one_off, recurring = (
            (self.start, self.end) != (None, None),
            (self.cron, self.duration) != (None, None),
        )
        if one_off == recurring:
            raise ValueError("a window is either {start, end} or {cron, duration, timezone}")
        if one_off and (self.start is None or self.end is None):
            raise ValueError("a one-off window needs both 'start' and 'end'")
        if recurring and (self.cron is None or self.duration is None):
            raise ValueError("a recurring window needs both 'cron' and 'duration'")
        if one_off and _epoch(self.end) <= _epoch(self.start):
            raise ValueError("'end' must be after 'start'")
        return self

    def active_at(self, at: float) -> tuple[float, float] | None:
        """The (start, end) epoch of the occurrence covering ``at``, or None."""
        if self.cron is None:
            start, end = _epoch(self.start), _epoch(self.end)
            return (start, end) if start <= at < end else None
        assert self.duration is not None
        cron, length, zone = Cron.parse(self.cron), duration_s(self.duration), ZoneInfo(self.timezone)
        minute = int(at // 60) * 60
        for back in range(0, length, 60):  # the latest start within ``duration`` before ``at``
            start = minute - back
            if cron.matches(datetime.fromtimestamp(start, zone)):
                return (float(start), float(start + length)) if at < start + length else None
        return None


def _epoch(text: str | None) -> float:
    assert text is not None
    return datetime.fromisoformat(text).timestamp()


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One occurrence of a window: the window as written, and this occurrence's bounds."""

    window: Window
    start: float
    end: float

    def to_json(self) -> dict[str, Any]:
        return {
            "start": _iso(self.start),
            "end": _iso(self.end),
            **self.window.model_dump(exclude_none=True, exclude={"start", "end"}),
        }


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


ActiveWindow = Occurrence  # the occurrence covering now


def active_window(windows: Sequence[Window] | None, at: float) -> ActiveWindow | None:
    """The window covering ``at`` that ends last (None: no maintenance now)."""
    found = [Occurrence(w, *span) for w in windows or () if (span := w.active_at(at)) is not None]
    return max(found, key=lambda a: a.end, default=None)


def upcoming(windows: Sequence[Window] | None, at: float, per_window: int = 3) -> list[Occurrence]:
    """The occurrences starting after ``at``, soonest first: a one-off window's, and a recurring
    one's next ``per_window``."""
    found = []
    for w in windows or ():
        if w.cron is None:
            if _epoch(w.start) > at:
                found.append(Occurrence(w, _epoch(w.start), _epoch(w.end)))
            continue
        length = duration_s(w.duration or "")
        starts = Cron.parse(w.cron).starts(ZoneInfo(w.timezone), at, forward=True)
        found += [Occurrence(w, t, t + length) for t in islice(starts, per_window)]
    return sorted(found, key=lambda o: o.start)


def past(windows: Sequence[Window] | None, at: float, per_window: int = 3) -> list[Occurrence]:
    """The occurrences over by ``at``, latest first: a one-off window that ended, and a recurring
    one's last ``per_window``."""
    found = []
    for w in windows or ():
        if w.cron is None:
            if _epoch(w.end) <= at:
                found.append(Occurrence(w, _epoch(w.start), _epoch(w.end)))
            continue
        length = duration_s(w.duration or "")
        starts = Cron.parse(w.cron).starts(ZoneInfo(w.timezone), at, forward=False)
        ended = (t for t in starts if t + length <= at)
        found += [Occurrence(w, t, t + length) for t in islice(ended, per_window)]
    return sorted(found, key=lambda o: -o.end)
