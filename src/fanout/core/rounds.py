"""Rounds, the pure part: a subject's open rounds (one scheduled time, each region's vote), the
round's verdict once a quorum agrees, each region's own figures, and region liveness
(docs/monitors.md#regions, with the truth tables).

- A vote is one region's word on one subject in one round: passed, failed, or neutral (the
  run's doing). A region votes once per round: a second vote (a redelivery, a URL listed
  twice) is ignored.
- A round fails when ``quorum`` regions failed it, passes when ``quorum`` passed it; the vote
  that completes a quorum decides, once. With a quorum of at most half the regions both could
  be reached: the first reached decides and later votes are kept for the figures only.
- At most ``OPEN_ROUNDS`` rounds stay open per subject; a round older than the bound (or pushed
  out by newer ones) is closed, undecided when it was, and a vote for a closed round, or for
  one older than the bound, is dropped and counted: an undecided round changes no streak.
- Liveness: a region that reported none of the last ``silent_after`` rounds other regions
  reported is silent; it is back when it reports again.
"""

from __future__ import annotations

import calendar
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

from fanout.core.uptime import Day, day_of, days_counted

OPEN_ROUNDS = 5
ROUND_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def round_epoch(round_id: str) -> float:
    """Epoch seconds of a round id (``2026-12-07T03:50:00Z``)."""
    return float(calendar.timegm(time.strptime(round_id, ROUND_FORMAT)))


def round_of_start(epoch_s: float) -> str:
    """The round of a regional run that carries no scheduled time: its start, to the minute."""
    return time.strftime(ROUND_FORMAT, time.gmtime(int(epoch_s // 60) * 60))


@dataclass(frozen=True, slots=True)
class Vote:
    """One region's word on one subject in one round (what an alert names it by)."""

    region: str
    passed: bool | None  # None: neutral, counts neither way
    outcome: str
    at: float
    status_code: int | None = None
    latency_ms: float | None = None


@dataclass(frozen=True, slots=True)
class Round:
    """One round of one subject: the votes taken, and its verdict once decided."""

    id: str
    votes: tuple[Vote, ...] = ()
    verdict: bool | None = None  # True passed, False failed, None undecided (so far)

    def voted(self, region: str) -> bool:
        return any(v.region == region for v in self.votes)

    def count(self, passed: bool) -> int:
        return sum(v.passed is passed for v in self.votes)


@dataclass(frozen=True, slots=True)
class RoundBook:
    """A subject's open rounds (oldest first), and what became of the rounds it closed."""

    open: tuple[Round, ...] = ()
    closed_through: str | None = None  # the newest round closed: votes for it or older are late
    undecided: int = 0  # rounds closed without a verdict
    late_dropped: int = 0  # votes for closed (or too old) rounds, dropped


@dataclass(frozen=True, slots=True)
class Voted:
    """A vote's effect: the book after it, the round it decided (if it did), and whether it was
    taken at all (``False``: a duplicate, or late and dropped)."""

    book: RoundBook
    decided: Round | None = None
    taken: bool = False


def _closed(book: RoundBook, keep: Sequence[Round], gone: Sequence[Round]) -> RoundBook:
    if not gone:
        return book if tuple(keep) == book.open else replace(book, open=tuple(keep))
    newest = max(r.id for r in gone)
    through = newest if book.closed_through is None else max(book.closed_through, newest)
    undecided = book.undecided + sum(r.verdict is None for r in gone)
    return replace(book, open=tuple(keep), closed_through=through, undecided=undecided)


def expired(book: RoundBook, *, now: float, max_age_s: float) -> RoundBook:
    """``book`` with its rounds older than ``max_age_s`` closed."""
    keep = [r for r in book.open if round_epoch(r.id) >= now - max_age_s]
    return _closed(book, keep, [r for r in book.open if r not in keep])


def vote(book: RoundBook, round_id: str, ballot: Vote, *, quorum: int, now: float, max_age_s: float) -> Voted:
    """``book`` with ``ballot`` (a region's vote) taken in round ``round_id``."""
    book = expired(book, now=now, max_age_s=max_age_s)
    current = next((r for r in book.open if r.id == round_id), None)
    if current is None:
        late = round_epoch(round_id) < now - max_age_s
        if late or (book.closed_through is not None and round_id <= book.closed_through):
            return Voted(replace(book, late_dropped=book.late_dropped + 1))
        current = Round(round_id)
    elif current.voted(ballot.region):
        return Voted(book)
    counted = replace(current, votes=(*current.votes, ballot))
    decided = None
    if current.verdict is None and ballot.passed is not None and counted.count(ballot.passed) >= quorum:
        counted = decided = replace(counted, verdict=ballot.passed)
    others = [r for r in book.open if r.id != round_id]
    rounds = sorted([*others, counted], key=lambda r: r.id)
    pushed_out = rounds[:-OPEN_ROUNDS]
    if counted in pushed_out:  # older than every round kept: it is closed already
        return Voted(replace(book, late_dropped=book.late_dropped + 1))
    return Voted(_closed(book, rounds[-OPEN_ROUNDS:], pushed_out), decided, taken=True)


def agreeing(decided: Round) -> tuple[Vote, ...]:
    """The votes that agree with a decided round's verdict (the regions its alert names)."""
    return tuple(v for v in decided.votes if v.passed is decided.verdict)


def verdict_latency_ms(decided: Round) -> float | None:
    """A round's latency, as the subject's history counts it: the median of the agreeing votes'."""
    seen = sorted(v.latency_ms for v in agreeing(decided) if v.latency_ms is not None)
    return None if not seen else seen[(len(seen) - 1) // 2]


@dataclass(frozen=True, slots=True)
class RegionFacts:
    """A subject as one region saw it: its last vote, and its days (counts, latency p50/p95)."""

    region: str
    last: Vote
    days: tuple[Day, ...] = ()


def facts_with(facts: Sequence[RegionFacts], ballot: Vote) -> tuple[RegionFacts, ...]:
    """Each region's figures with ``ballot`` counted (a neutral vote is only the last seen)."""
    mine = next((f for f in facts if f.region == ballot.region), RegionFacts(ballot.region, ballot))
    days = mine.days
    if ballot.passed is not None and (not days or day_of(ballot.at) >= days[-1].day):  # a late one: last only
        days = days_counted(days, ballot.at, ballot.passed, ballot.latency_ms)
    newer = replace(mine, last=ballot if ballot.at >= mine.last.at else mine.last, days=days)
    return tuple(sorted([*(f for f in facts if f.region != ballot.region), newer], key=lambda f: f.region))


@dataclass(frozen=True, slots=True)
class Liveness:
    """One region of a monitor: the rounds some region reported lately, each with the regions that
    reported it (oldest first, bounded), and the last round this region reported."""

    known: tuple[tuple[str, tuple[str, ...]], ...] = ()
    last: str | None = None

    def missed(self, region: str, regions: Sequence[str]) -> int:
        """Rounds others reported since this region's last: those a newer round followed, and the
        newest too once every other region has reported it, when it extends such a run (a region
        a few seconds behind the others has not missed the round they just reported)."""
        since = [(r, by) for r, by in self.known if self.last is None or r > self.last]
        if not since:
            return 0
        *older, (_, reporters) = since  # the newest known round: this region has not reported it
        complete = set(regions) - {region} <= set(reporters)
        return len(older) + (1 if older and complete else 0)


def heard(liveness: Liveness, round_id: str, *, reporter: str, region: str, keep: int) -> Liveness:
    """``region``'s liveness once ``reporter`` reported ``round_id`` (the last ``keep`` rounds kept)."""
    rounds = dict(liveness.known)
    rounds[round_id] = tuple(sorted({*rounds.get(round_id, ()), reporter}))
    known = tuple(sorted(rounds.items()))[-keep:]
    last = liveness.last
    if reporter == region and (last is None or round_id > last):
        last = round_id
    return Liveness(known, last)
