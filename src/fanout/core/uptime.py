"""What a monitor remembers of one subject's history: counts per hour (the last 24) and per day
(the last 31, with the day's latency p50/p95), bounded whatever the number of runs.

Latency is kept as a histogram of the current day only (``LATENCY_BOUNDS_MS``); when a day
closes its p50/p95 are estimated from it (linear within the bucket) and the histogram is
dropped, so a subject's history stays a few hundred bytes.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

HOURS_KEPT = 24
MAX_GAP_S = 3_600  # a maintenance check counts at most this much time (a monitor seldom checked)
DAYS_KEPT = 31
LATENCY_BOUNDS_MS = (
    5, 10, 25, 50, 75, 100, 150, 200, 300, 500, 750,
    1_000, 1_500, 2_000, 3_000, 5_000, 10_000, 30_000, 120_000,
)  # fmt: skip
"""Upper bounds of the latency buckets; one more bucket holds what is slower."""


def day_of(epoch_s: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(epoch_s))


def hour_of(epoch_s: float) -> int:
    return int(epoch_s // 3_600) * 3_600


def bucket_of(latency_ms: float) -> int:
    for index, bound in enumerate(LATENCY_BOUNDS_MS):
        if latency_ms <= bound:
            return index
    return len(LATENCY_BOUNDS_MS)


def percentile_ms(histogram: Sequence[int], q: float) -> float | None:
    """The ``q`` (0-1) quantile of a latency histogram, interpolated within its bucket."""
    total = sum(histogram)
    if total == 0:
        return None
    rank = q * total
    seen = 0
    for index, count in enumerate(histogram):
        if count and seen + count >= rank:
            low = 0.0 if index == 0 else float(LATENCY_BOUNDS_MS[index - 1])
            high = float(LATENCY_BOUNDS_MS[min(index, len(LATENCY_BOUNDS_MS) - 1)])
            return round(low + (high - low) * max(0.0, rank - seen) / count, 1)
        seen += count
    return float(LATENCY_BOUNDS_MS[-1])  # pragma: no cover - the loop always returns


@dataclass(frozen=True, slots=True)
class Hour:
    start: int  # epoch seconds, on the hour
    ok: int = 0
    failed: int = 0
    maintenance: int = 0  # checks during a maintenance window (neither up nor down)


@dataclass(frozen=True, slots=True)
class Day:
    day: str  # YYYY-MM-DD (UTC)
    ok: int = 0
    failed: int = 0
    p50_ms: float | None = None
    p95_ms: float | None = None
    histogram: tuple[int, ...] = ()  # the current day only
    maintenance: int = 0  # checks during a maintenance window (neither up nor down)
    maintenance_ms: int = 0  # time in maintenance: each such check's gap since the one before

    def closed(self) -> Day:
        """The day with its percentiles estimated and its histogram dropped."""
        if not self.histogram:
            return self
        return replace(
            self,
            p50_ms=percentile_ms(self.histogram, 0.5),
            p95_ms=percentile_ms(self.histogram, 0.95),
            histogram=(),
        )

    @property
    def latency(self) -> tuple[float | None, float | None]:
        if self.histogram:
            return percentile_ms(self.histogram, 0.5), percentile_ms(self.histogram, 0.95)
        return self.p50_ms, self.p95_ms


def days_counted(days: Sequence[Day], at: float, passed: bool, latency_ms: float | None) -> tuple[Day, ...]:
    """``days`` (oldest first) with one more check at ``at``: the day it falls in opened when new
    (the one before it closed), the last ``DAYS_KEPT`` kept."""
    today = day_of(at)
    kept = list(days)
    if not kept or kept[-1].day != today:
        if kept:
            kept[-1] = kept[-1].closed()
        kept.append(Day(today, histogram=(0,) * (len(LATENCY_BOUNDS_MS) + 1)))
    last = kept[-1]
    histogram = list(last.histogram)
    if latency_ms is not None:
        histogram[bucket_of(latency_ms)] += 1
    kept[-1] = replace(
        last, ok=last.ok + passed, failed=last.failed + (not passed), histogram=tuple(histogram)
    )
    return tuple(kept[-DAYS_KEPT:])


def _ratio(ok: int, failed: int) -> float | None:
    total = ok + failed
    return None if total == 0 else round(ok / total, 6)


@dataclass(frozen=True, slots=True)
class History:
    hours: tuple[Hour, ...] = ()  # oldest first, at most HOURS_KEPT
    days: tuple[Day, ...] = ()  # oldest first, at most DAYS_KEPT

    def counted(
        self,
        at: float,
        passed: bool,
        latency_ms: float | None,
        *,
        maintenance: bool = False,
        gap_s: float = 0.0,
    ) -> History:
        """This history with one more observation at ``at`` (epoch seconds); one made during a
        maintenance window counts apart (``gap_s``: the time since the check before it)."""
        if maintenance:
            return History(self._hours_with(at, False, True), self._maintained_days(at, gap_s))
        return History(self._hours_with(at, passed), self._days_with(at, passed, latency_ms))

    def _hours_with(self, at: float, passed: bool, maintenance: bool = False) -> tuple[Hour, ...]:
        start = hour_of(at)
        hours = list(self.hours)
        if not hours or hours[-1].start != start:
            hours.append(Hour(start))
        last = hours[-1]
        if maintenance:
            hours[-1] = replace(last, maintenance=last.maintenance + 1)
        else:
            hours[-1] = replace(last, ok=last.ok + passed, failed=last.failed + (not passed))
        return tuple(h for h in hours if h.start > start - HOURS_KEPT * 3_600)

    def _maintained_days(self, at: float, gap_s: float) -> tuple[Day, ...]:
        days = self._days_with(at, False, None)  # today's day, then undo the failure it counted
        last = days[-1]
        gap_ms = int(min(max(gap_s, 0.0), MAX_GAP_S) * 1_000)
        today = replace(
            last,
            failed=last.failed - 1,
            maintenance=last.maintenance + 1,
            maintenance_ms=last.maintenance_ms + gap_ms,
        )
        return (*days[:-1], today)

    def _days_with(self, at: float, passed: bool, latency_ms: float | None) -> tuple[Day, ...]:
        return days_counted(self.days, at, passed, latency_ms)

    def uptime_24h(self, now: float) -> float | None:
        """Successes over the last 24 hourly buckets (the current one included)."""
        recent = [h for h in self.hours if h.start > hour_of(now) - HOURS_KEPT * 3_600]
        return _ratio(sum(h.ok for h in recent), sum(h.failed for h in recent))

    def uptime_days(self, now: float, days: int) -> float | None:
        """Successes over the last ``days`` UTC days (today included)."""
        first = day_of(now - (days - 1) * 86_400)
        recent = [d for d in self.days if d.day >= first]
        return _ratio(sum(d.ok for d in recent), sum(d.failed for d in recent))

    def today(self, now: float) -> Day | None:
        today = day_of(now)
        return next((d for d in reversed(self.days) if d.day == today), None)
