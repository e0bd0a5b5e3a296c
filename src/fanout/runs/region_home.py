"""The home region's side of regional monitors (docs/architecture.md, docs/monitors.md#regions):
a run's results as the ``RegionReport`` its region sends home, and reports applied to the
monitors' states, from this region's own run (directly) or from the reports queue (``entry.sqs``).

Applying a report is a monitor update like a run's (``MonitorUpdate``): each URL's vote goes into
its round with the same conditional writes and alert claims, so the same report applied twice,
or two regions' reports applied at once, decide a round and send its alert exactly once. Each
application claims alerts under an id of its own: two deliveries of one report are two claimants.
A report whose round is past the bound is dropped and counted, never applied.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from fanout.config import Settings
from fanout.core.budget import InvocationClock
from fanout.core.monitor_report import MonitorReport
from fanout.core.monitors import MonitorSpec, Observation
from fanout.core.regional import region_subject
from fanout.core.regions import RegionReport, round_of
from fanout.core.rounds import round_epoch
from fanout.core.thresholds import ThresholdResult
from fanout.errors import MonitorsOff, StoreError
from fanout.observability.log import MetricUnit, logger, metrics
from fanout.runs.invocation import Invocation
from fanout.runs.judging import monitor_update
from fanout.runs.status_page import render_if_due
from fanout.runs.stores import RunStores, StoreConfig


def report_observations(
    report: RegionReport, spec: MonitorSpec, location: tuple[str, str] | None = None
) -> dict[str, list[Observation]]:
    """Each subject's vote from ``report``, and each of the monitor's regions' liveness word
    (``location``: the run's report, when it is this region's own run)."""
    round_id = round_of(report.scheduled_at)
    wanted: dict[str, list[Observation]] = {}
    for i, o in enumerate(report.observations):
        obs = Observation(
            key=f"{report.key}#{report.part}.{i}",
            run_id=report.run_id,
            at=o.at,
            passed=o.passed,
            outcome=o.outcome,
            status_code=o.status_code,
            error=o.error,
            checks_failed=o.checks_failed,
            latency_ms=o.latency_ms,
            report=location,
            region=report.region,
            round=round_id,
        )
        wanted.setdefault(o.subject, []).append(obs)
    heard = Observation(
        report.key, report.run_id, report.sent_at, True, "reported", region=report.region, round=round_id
    )
    for region in spec.regions or ():
        wanted[region_subject(region)] = [heard]
    return wanted


@dataclass(frozen=True, slots=True)
class Applied:
    """What became of one report: ``report`` None when it was dropped (late) or not regional."""

    key: str
    report: MonitorReport | None
    dropped: str | None = None  # why it was not applied

    @property
    def failed(self) -> bool:
        """Not every state could be written: the report must be applied again."""
        return self.report is not None and self.report.state_errors > 0


async def apply_region_reports(
    reports: Sequence[RegionReport],
    *,
    stores: RunStores,
    settings: Settings,
    before: float,
    location: tuple[str, str] | None = None,
    thresholds: Sequence[ThresholdResult] | None = None,
) -> list[Applied]:
    """Apply each report (one after the other, each a monitor update within ``before``);
    ``location``/``thresholds``: this region's own run's report and thresholds, when it is one."""
    if stores.monitors is None:
        raise MonitorsOff("region reports")
    done = []
    for report in reports:
        done.append(await _apply_one(report, stores, settings, before, location, thresholds))
    return done


async def _apply_one(
    report: RegionReport,
    stores: RunStores,
    settings: Settings,
    before: float,
    location: tuple[str, str] | None,
    thresholds: Sequence[ThresholdResult] | None,
) -> Applied:
    assert stores.monitors is not None
    spec = MonitorSpec.model_validate(report.monitor)
    if not spec.is_regional:
        return Applied(report.key, None, dropped="not a regional monitor")
    if report.region not in (spec.regions or ()):
        metrics.add_metric(name="region_reports_unlisted", unit=MetricUnit.Count, value=1)
        extra = {"monitor": spec.name, "region": report.region}
        logger.warning("region report from a region the monitor does not list: dropped", extra=extra)
        return Applied(report.key, None, dropped="region not listed")
    now = time.time()
    if round_epoch(round_of(report.scheduled_at)) < now - settings.round_max_age_s:
        metrics.add_metric(name="region_reports_late", unit=MetricUnit.Count, value=1)
        extra = {"monitor": spec.name, "region": report.region, "round": report.scheduled_at}
        logger.warning("region report past the round bound: dropped", extra=extra)
        return Applied(report.key, None, dropped="late")
    claimant = f"{report.run_id}@{uuid.uuid4().hex[:12]}"
    async with monitor_update(
        spec,
        report.run_id,
        report.key,
        location,
        stores=stores,
        settings=settings,
        before=before,
        claimant=claimant,
    ) as update:
        wanted = report_observations(report, spec, location)
        applied = await update.apply_observed(wanted, thresholds, before=before)
    return Applied(report.key, applied)


def apply_report_record(body: str, invocation: Invocation, clock: InvocationClock) -> str:
    """One reports-queue message applied in the invocation's loop under ``clock``: ``applied``,
    or why it was dropped; raises (to be delivered again) when a state could not be written."""
    report = RegionReport.from_bytes(body)
    settings = invocation.settings
    config = StoreConfig.from_settings(settings)
    if not config.monitors_on:
        raise MonitorsOff("region reports")
    before = clock.deadline(max(1, len(report.observations)), settings).work_by
    applied = invocation.run(_applied(report, config, settings, before), "region report")
    if applied.failed:
        assert applied.report is not None
        raise StoreError(
            f"{applied.report.state_errors} state(s) of {report.monitor.get('name')} not written",
            error_type="StatesNotWritten",
        )
    return applied.dropped or "applied"


async def _applied(report: RegionReport, config: StoreConfig, settings: Settings, before: float) -> Applied:
    async with RunStores(config) as stores:
        await stores.open(before=before, monitor=True)
        [applied] = await apply_region_reports([report], stores=stores, settings=settings, before=before)
        if applied.report is not None:  # the status page, as after a run (a report may decide a round)
            changed = applied.report.all_transitions > 0
            await render_if_due(stores, settings, monitor=applied.report.name, changed=changed, before=before)
    return applied


def not_applied(name: str) -> MonitorReport:
    """The monitor section of a run whose observations were not applied (a round past its bound)."""
    return MonitorReport(
        name=name,
        transitions=(),
        down=0,
        up=0,
        unknown=0,
        notified=0,
        notify_errors=0,
        state_errors=0,
        pending=0,
    )
