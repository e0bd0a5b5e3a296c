"""Who observes in a monitor update, and what: the run (or the region report being applied) and
each subject's observations from its results and thresholds (``runs.monitor`` moves the states).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from fanout.core.monitors import MonitorSpec, Observation
from fanout.core.results import UrlResult
from fanout.core.thresholds import ThresholdResult


@dataclass(frozen=True, slots=True)
class MonitorRun:
    """Who observes: the run, the delivery's key (applied once), where its report goes, and until
    when (epoch) its claims on alerts hold (the end of its monitor slice: no send outlives it)."""

    spec: MonitorSpec
    run_id: str
    key: str
    report: tuple[str, str] | None
    claim_until: float
    claimant: str | None = None  # who claims alerts, when not ``run_id`` (a region report's applying)
    round_max_age_s: float = 900.0  # a regional monitor's round bound (settings.round_max_age_s)


def observations(
    run: MonitorRun, results: Sequence[UrlResult], thresholds: Sequence[ThresholdResult]
) -> dict[str, list[Observation]]:
    """Each subject's observations in this run (a URL listed twice is observed twice)."""
    now = time.time()
    by_subject: dict[str, list[Observation]] = {}
    for i, result in enumerate(results):
        obs = Observation.of_result(
            result, key=f"{run.key}#{i}", run_id=run.run_id, at=now, report=run.report
        )
        by_subject.setdefault(result.url, []).append(obs)
    for t in thresholds:
        outcome = "passed" if t.ok else "breached"
        by_subject[t.subject] = [Observation(run.key, run.run_id, now, t.ok, outcome, report=run.report)]
    return by_subject
