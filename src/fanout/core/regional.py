"""A regional monitor's subjects move by rounds (docs/monitors.md#regions): a region's observation
is a vote in its round (``fanout.core.rounds``), and the state machine (``advance``) runs on the
verdict the vote that completes a quorum makes, as one observation keyed ``round:<round>``
carrying every region's vote, so it is applied once whichever report decides.

Region liveness has a subject of its own per region (``region:<name>``), written with the
monitor's URL states (the same conditional writes): silent is ``down`` (one ``region_silent``
alert), reporting again is ``up`` (one ``region_back``); a region never makes a URL down.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from fanout.core.monitors import (
    PENDING_KEPT,
    Advanced,
    Alert,
    Health,
    MonitorSpec,
    Observation,
    SubjectState,
    passed,
)
from fanout.core.regions import RegionObservation, RegionReport
from fanout.core.results import UrlResult
from fanout.core.rounds import Liveness, Round, Vote, facts_with, heard, verdict_latency_ms, vote
from fanout.core.thresholds import ThresholdResult

REGION_PREFIX = "region:"
LIVENESS_WORDS = {Health.UNKNOWN: "unknown", Health.UP: "reporting", Health.DOWN: "silent"}


def region_subject(region: str) -> str:
    return f"{REGION_PREFIX}{region}"


def is_region_subject(subject: str) -> bool:
    return subject.startswith(REGION_PREFIX)


def ballot_of(obs: Observation) -> Vote:
    assert obs.region is not None
    return Vote(obs.region, obs.passed, obs.outcome, obs.at, obs.status_code, obs.latency_ms)


def voted(
    state: SubjectState, obs: Observation, spec: MonitorSpec, *, now: float, max_age_s: float
) -> tuple[SubjectState, Observation | None]:
    """``state`` with ``obs`` (a region's, of a round) counted as its vote, and the round's
    verdict when this vote decided it (for ``advance``); the same state when nothing changed."""
    assert obs.round is not None
    ballot = ballot_of(obs)
    result = vote(state.rounds, obs.round, ballot, quorum=spec.round_quorum, now=now, max_age_s=max_age_s)
    if not result.taken:
        return (state if result.book == state.rounds else replace(state, rounds=result.book)), None
    new = replace(state, rounds=result.book, region_facts=facts_with(state.region_facts, ballot))
    return new, None if result.decided is None else verdict_of(result.decided, obs)


def verdict_of(decided: Round, deciding: Observation) -> Observation:
    """A decided round as the state machine observes it: the deciding vote's outcome and cause,
    the agreeing regions' median latency, every region's vote."""
    return replace(
        deciding,
        key=f"round:{decided.id}",
        passed=decided.verdict,
        latency_ms=verdict_latency_ms(decided),
        region=None,
        round=decided.id,
        regions=decided.votes,
    )


def region_heard(state: SubjectState, obs: Observation, spec: MonitorSpec) -> Advanced:
    """A region's liveness (``state``, subject ``region:<name>``) once ``obs.region`` reported
    ``obs.round``: silent after ``silent_after`` rounds others reported and it did not (one
    ``region_silent``), back when it reports again (one ``region_back``)."""
    assert obs.round is not None
    assert obs.region is not None
    region = state.subject.removeprefix(REGION_PREFIX)
    known = state.liveness or Liveness()
    after = heard(known, obs.round, reporter=obs.region, region=region, keep=spec.silent_after + 1)
    if after == known:
        return Advanced(state, None)
    missed = after.missed(region, spec.regions or ())
    silent = missed >= spec.silent_after
    status = Health.DOWN if silent else (Health.UP if obs.region == region else state.status)
    changed = status is not state.status
    seen = replace(
        obs,
        passed=not silent,
        outcome=f"missed {missed} rounds" if silent else "reported",
        region=region,
    )
    since = obs.at if changed else state.since
    new = replace(state, liveness=after, status=status, since=since, last=seen, last_checked_at=obs.at)
    if not changed or (state.status is Health.UNKNOWN and status is Health.UP):  # a first report: no alert
        return Advanced(new, None)
    event = "region_silent" if silent else "region_back"
    alert = Alert(
        uuid.uuid4().hex,
        state.subject,
        state.status,
        status,
        obs.at,
        seen,
        from_since=state.since,
        event=event,
    )
    pending = (*state.pending, alert)[-PENDING_KEPT:]
    told_since = obs.at if silent else None
    moved = replace(new, pending=pending, told=status, told_since=told_since, told_at=obs.at)
    return Advanced(moved, alert)


def regions_summary(spec: MonitorSpec, states: Sequence[SubjectState]) -> dict[str, Any]:
    """A regional monitor's summary part: its regions, quorum, and each region's liveness."""
    if not spec.is_regional:
        return {}
    by_region = {s.subject.removeprefix(REGION_PREFIX): s for s in states if is_region_subject(s.subject)}
    liveness = []
    for region in spec.regions or ():
        state = by_region.get(region)
        known = state.liveness if state is not None and state.liveness is not None else Liveness()
        status = LIVENESS_WORDS[state.status if state is not None else Health.UNKNOWN]
        since = None if state is None else state.since
        liveness.append(
            {
                "region": region,
                "status": status,
                "since": since,
                "last_round": known.last,
                "missed": known.missed(region, spec.regions or ()),
            }
        )
    return {"regions": liveness, "quorum": spec.round_quorum, "silent_after": spec.silent_after}


def region_report(
    spec: MonitorSpec,
    results: Sequence[UrlResult],
    thresholds: Sequence[ThresholdResult],
    *,
    region: str,
    round_id: str,
    run_id: str,
    key: str,
) -> RegionReport:
    """A run's word on each subject (its URLs, its thresholds), as its region reports it home."""
    now = time.time()
    seen = [
        RegionObservation(
            subject=r.url,
            passed=passed(r.outcome),
            outcome=r.outcome.value,
            at=now,
            status_code=r.status_code,
            latency_ms=r.latency_ms if r.status_code is not None else None,
            error=r.error,
            checks_failed=r.failed_checks,
        )
        for r in results
    ]
    seen += [RegionObservation(t.subject, t.ok, "passed" if t.ok else "breached", now) for t in thresholds]
    return RegionReport(
        monitor=spec.model_dump(mode="json", exclude_unset=True, exclude_none=True),
        region=region,
        scheduled_at=round_id,
        run_id=run_id,
        key=key,
        sent_at=now,
        observations=tuple(seen),
    )
