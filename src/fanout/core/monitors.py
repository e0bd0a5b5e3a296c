"""Monitors, the pure part: a subject's state (a URL, or a run threshold), how one observation moves
it, and the alerts that movement owes (docs/monitors.md).

- A subject is ``unknown`` until its first success (``up``, no alert); ``unknown|up -> down``
  when consecutive failures reach ``failure_threshold``; ``down -> up`` when consecutive
  successes reach ``success_threshold``. Each change to ``down`` or back to ``up`` is one
  ``Alert``, kept ``pending`` in the state until it has been sent.
- An observation is applied once: its ``key`` (the delivery's event id, else the run id) is
  remembered (the last ``APPLIED_KEPT``), so a duplicate delivery or a retried run changes
  nothing. Neutral observations (``cancelled``, ``not_started``: the run's doing) change nothing.
- Sending is claimed: a run that writes a state claims its pending alerts until its Lambda
  timeout (``claim``); the store's conditional write on ``version`` makes the state change,
  the alert and the claim one atomic step, so overlapping runs never both send one alert.
"""

from __future__ import annotations

import enum
import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from fanout.core.monitor_spec import GROUP_OVER, MIN_REMINDER_S, Dependency, MonitorSpec, ReminderPeriod
from fanout.core.results import ErrorInfo, Outcome, UrlResult
from fanout.core.rounds import Liveness, RegionFacts, RoundBook, Vote
from fanout.core.uptime import History

__all__ = [
    "APPLIED_KEPT",
    "GROUP_OVER",
    "MIN_REMINDER_S",
    "PENDING_KEPT",
    "Advanced",
    "Alert",
    "Dependency",
    "Health",
    "MonitorSpec",
    "Observation",
    "ReminderPeriod",
    "SubjectState",
    "advance",
    "claim",
    "passed",
    "settle",
    "subject_id",
]  # with the spec's names, from ``core.monitor_spec`` where the model lives

APPLIED_KEPT = 16
PENDING_KEPT = 10
"""Alerts waiting to be sent, at most (the oldest are dropped past it, and logged)."""


class Health(enum.StrEnum):
    UNKNOWN = "unknown"
    UP = "up"
    DOWN = "down"


def passed(outcome: Outcome) -> bool | None:
    """A URL's outcome as a monitor counts it: True (ok), False (failing), None (the run's doing)."""
    if outcome is Outcome.OK:
        return True
    return None if outcome.is_cut_by_run else False


def subject_id(subject: str) -> str:
    """A short stable key for a subject (URLs are too long for a sort key)."""
    return hashlib.sha256(subject.encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Observation:
    """One run's word on one subject."""

    key: str  # the delivery (event id) or the run: applied once
    run_id: str
    at: float  # epoch seconds
    passed: bool | None
    outcome: str  # an Outcome's value, or "breached" / "passed" for a threshold
    status_code: int | None = None
    error: ErrorInfo | None = None
    checks_failed: tuple[str, ...] = ()
    latency_ms: float | None = None
    report: tuple[str, str] | None = None  # (bucket, key) of the observing run's report
    region: str | None = None  # a regional monitor's: the region that observed it
    round: str | None = None  # ... and its round (the scheduled time); a round's verdict: its round
    regions: tuple[Vote, ...] = ()  # a round's verdict: every region's vote when it was decided

    @classmethod
    def of_result(
        cls, result: UrlResult, *, key: str, run_id: str, at: float, report: tuple[str, str] | None = None
    ) -> Observation:
        latency = result.latency_ms
        return cls(
            key=key,
            run_id=run_id,
            at=at,
            passed=passed(result.outcome),
            outcome=result.outcome.value,
            status_code=result.status_code,
            error=result.error,
            checks_failed=result.failed_checks,
            latency_ms=latency if result.status_code is not None else None,
            report=report,
        )


@dataclass(frozen=True, slots=True)
class Alert:
    """A change to ``down`` or back to ``up``, owed to the subscribers once."""

    id: str
    subject: str
    from_: Health
    to: Health
    since: float  # epoch seconds: when the subject entered ``to``
    observation: Observation
    claimed_by: str | None = None
    claimed_until: float = 0.0
    delivered: tuple[str, ...] = ()  # the alert targets that have it (a retry sends only the rest)
    from_since: float | None = None  # when the subject entered ``from_`` (an UP: the incident's start)
    event: str = "changed"  # or "reminder" (STILL DOWN; fanout.core.hygiene), "region_silent", "region_back"


@dataclass(frozen=True, slots=True)
class SubjectState:
    subject: str
    status: Health = Health.UNKNOWN
    since: float | None = None
    failures: int = 0
    successes: int = 0
    last: Observation | None = None
    last_checked_at: float | None = None
    version: int = 0  # 0: never stored
    applied: tuple[str, ...] = ()
    pending: tuple[Alert, ...] = ()
    dropped_alerts: int = 0
    history: History = field(default_factory=History)
    told: Health = Health.UNKNOWN  # the status the subscribers were last told (fanout.core.hygiene)
    told_since: float | None = None  # since when, as told (a DOWN's: the incident's start)
    told_at: float | None = None  # when last told or reminded
    suppressed_by: tuple[str, ...] = ()  # what holds its owed alert now: maintenance, dependencies
    rounds: RoundBook = field(default_factory=RoundBook)  # a regional monitor's open rounds
    region_facts: tuple[RegionFacts, ...] = ()  # ... and each region's own figures
    liveness: Liveness | None = None  # a region's subject (region:<name>): the rounds it reported


@dataclass(frozen=True, slots=True)
class Advanced:
    state: SubjectState
    alert: Alert | None  # the change this observation made, if any


def advance(
    state: SubjectState, obs: Observation, spec: MonitorSpec, *, in_maintenance: bool = False
) -> Advanced:
    """``state`` after ``obs`` (the same object when ``obs`` changes nothing); a check during a
    maintenance window counts as maintenance in the history, not as up or down time."""
    if obs.passed is None or obs.key in state.applied:
        return Advanced(state, None)
    ok = obs.passed
    failures, successes = (0, state.successes + 1) if ok else (state.failures + 1, 0)
    status, alert = state.status, None
    if ok and status is Health.UNKNOWN:
        status = Health.UP
    elif not ok and status is not Health.DOWN and failures >= spec.failure_threshold:
        status = Health.DOWN
    elif ok and status is Health.DOWN and successes >= spec.success_threshold:
        status = Health.UP
    changed = status is not state.status
    since = obs.at if changed or state.since is None else state.since
    if changed and not (state.status is Health.UNKNOWN and status is Health.UP):  # a first success: no alert
        alert = Alert(
            uuid.uuid4().hex, state.subject, state.status, status, since, obs, from_since=state.since
        )
    pending = state.pending if alert is None else (*state.pending, alert)
    dropped = max(0, len(pending) - PENDING_KEPT)
    new = replace(
        state,
        status=status,
        since=since,
        failures=failures,
        successes=successes,
        last=obs,
        last_checked_at=obs.at,
        applied=(*state.applied, obs.key)[-APPLIED_KEPT:],
        pending=pending[dropped:],
        dropped_alerts=state.dropped_alerts + dropped,
        history=state.history.counted(
            obs.at,
            ok,
            obs.latency_ms,
            maintenance=in_maintenance,
            gap_s=obs.at - (state.last_checked_at or obs.at),
        ),
    )
    return Advanced(new, alert)


def claim(
    state: SubjectState, run_id: str, *, until: float, now: float
) -> tuple[SubjectState, tuple[Alert, ...]]:
    """Claim for ``run_id`` (until ``until``, epoch) every pending alert no live run has claimed;
    the state to write and the alerts this run then owns."""
    claimed = tuple(
        replace(a, claimed_by=run_id, claimed_until=until)
        if a.claimed_by in (None, run_id) or a.claimed_until < now
        else a
        for a in state.pending
    )
    owned = tuple(a for a in claimed if a.claimed_by == run_id)
    return (state if claimed == state.pending else replace(state, pending=claimed)), owned


def settle(state: SubjectState, sent: frozenset[str], partly: Mapping[str, tuple[str, ...]]) -> SubjectState:
    """``state`` without the alerts ``sent`` (to every target), and with the claims on the others
    this run tried (``partly``: alert id -> the targets that have it now) let go, for the next run."""
    pending = tuple(
        replace(a, claimed_by=None, claimed_until=0.0, delivered=partly[a.id]) if a.id in partly else a
        for a in state.pending
        if a.id not in sent
    )
    return replace(state, pending=pending)
