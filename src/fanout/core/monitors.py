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
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from fanout.core.maintenance import Window, duration_s
from fanout.core.regions import MAX_REGIONS, SILENT_AFTER_DEFAULT, Region, majority
from fanout.core.results import ErrorInfo, Outcome, UrlResult
from fanout.core.rounds import Liveness, RegionFacts, RoundBook, Vote
from fanout.core.routes import Route
from fanout.core.uptime import History

APPLIED_KEPT = 16
PENDING_KEPT = 10
"""Alerts waiting to be sent, at most (the oldest are dropped past it, and logged)."""


MIN_REMINDER_S = 300
GROUP_OVER = 5


def _reminder_period(value: str) -> str:
    if duration_s(value) < MIN_REMINDER_S:
        raise ValueError("remind at most every 5m")
    return value


ReminderPeriod = Annotated[str, Field(max_length=8), AfterValidator(_reminder_period)]
Dependency = Annotated[
    str,
    Field(
        min_length=1,
        max_length=2_200,
        pattern=r"^[a-z0-9-]{1,64}(/https?://.+)?$",
        description="A monitor's name, or name/url for one of its URLs.",
    ),
]


class MonitorSpec(BaseModel):
    """A request's ``monitor``: which monitor its results feed, and its thresholds."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    name: Annotated[str, Field(pattern=r"^[a-z0-9-]{1,64}$")]
    failure_threshold: Annotated[int, Field(ge=1, le=10)] = 2
    success_threshold: Annotated[int, Field(ge=1, le=10)] = 1
    group: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    tags: Annotated[dict[str, str], Field(max_length=50)] | None = None
    public: bool | None = None  # False: left off the status page (None: shown)
    display_names: (
        Annotated[dict[str, Annotated[str, Field(min_length=1, max_length=128)]], Field(max_length=1_000)]
        | None
    ) = None  # URL -> the name the status page shows
    alerts: Annotated[list[Route], Field(max_length=10)] | None = Field(
        default=None, description="Routes its alerts take besides the deployment's topic and bus."
    )
    maintenance: Annotated[list[Window], Field(max_length=20)] | None = Field(
        default=None, description="Windows during which no DOWN/UP alert is sent (checks still run)."
    )
    remind_every: ReminderPeriod | None = Field(
        default=None, description="While a URL stays down, 'STILL DOWN' this often: 4h, 30m, 1d."
    )
    depends_on: Annotated[list[Dependency], Field(max_length=10)] | None = Field(
        default=None, description="Monitors (or monitor/url) whose being down holds its DOWN alerts."
    )
    group_over: Annotated[int, Field(ge=1, le=10_000)] | None = Field(
        default=None, description="More URL alerts than this in one run go as one grouped alert (5)."
    )

    regions: Annotated[list[Region], Field(min_length=1, max_length=MAX_REGIONS)] | None = Field(
        default=None,
        description="Checked from these regions; a URL is down only when 'quorum' of them agree.",
    )
    quorum: Annotated[int, Field(ge=1, le=MAX_REGIONS)] | None = Field(
        default=None, description="Regions that must agree on a round (a majority of 'regions')."
    )
    region_silent_after: Annotated[int, Field(ge=1, le=100)] | None = Field(
        default=None, description="Rounds a region may miss before 'region silent' is alerted (3)."
    )

    @model_validator(mode="after")
    def _regional(self) -> MonitorSpec:
        if self.regions is None:
            if self.quorum is not None or self.region_silent_after is not None:
                raise ValueError("'quorum' and 'region_silent_after' need 'regions'")
            return self
        if len(set(self.regions)) != len(self.regions):
            raise ValueError("'regions' lists a region twice")
        if self.quorum is not None and self.quorum > len(self.regions):
            raise ValueError(f"quorum {self.quorum} is more than the {len(self.regions)} regions")
        return self

    @property
    def is_regional(self) -> bool:
        """Checked from several regions (its state moves by rounds, not by runs)."""
        return self.regions is not None

    @property
    def round_quorum(self) -> int:
        """``quorum``, or a majority of ``regions`` (1 for a monitor without regions)."""
        if self.quorum is not None:
            return self.quorum
        return majority(len(self.regions)) if self.regions else 1

    @property
    def silent_after(self) -> int:
        """``region_silent_after``, or its default."""
        return SILENT_AFTER_DEFAULT if self.region_silent_after is None else self.region_silent_after

    @property
    def storm_over(self) -> int:
        """``group_over``, or its default."""
        return GROUP_OVER if self.group_over is None else self.group_over


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
