"""A regional monitor's run, after its fetch (docs/monitors.md#regions): its results become its
region's ``RegionReport`` for its round, applied here in the home region, or sent home from a
probe region (which keeps no state and sends no alert).

The round is the schedule's scheduled time; a run without one (a direct invoke) takes its start
to the minute, so runs started in the same minute in each region meet.
"""

from __future__ import annotations

from collections.abc import Sequence

from fanout.config import Settings
from fanout.core.documents import RunDocument
from fanout.core.ids import parse_iso
from fanout.core.monitor_report import MonitorReport
from fanout.core.monitors import MonitorSpec
from fanout.core.regional import region_report
from fanout.core.rounds import round_of_start
from fanout.core.thresholds import ThresholdResult
from fanout.runs.region_home import apply_region_reports, not_applied
from fanout.runs.region_probe import send_home
from fanout.runs.stores import RunStores


async def judged_regional(
    document: RunDocument,
    spec: MonitorSpec,
    thresholds: Sequence[ThresholdResult],
    *,
    key: str | None,
    location: tuple[str, str] | None,
    stores: RunStores,
    settings: Settings,
    before: float,
    scheduled_at: str | None = None,
) -> MonitorReport:
    """The monitor section of a regional monitor's run: the home update's report, or (in a probe
    region) how its report went home (``monitor.region``)."""
    found = region_report(
        spec,
        document.results or (),
        thresholds,
        region=settings.region or "home",
        round_id=scheduled_at or round_of_start(parse_iso(document.started_at).timestamp()),
        run_id=document.run_id,
        key=key or document.run_id,
    )
    if settings.is_home:
        [applied] = await apply_region_reports(
            [found], stores=stores, settings=settings, before=before, location=location, thresholds=thresholds
        )
        return applied.report or not_applied(spec.name)
    delivery = await send_home(found, stores=stores, settings=settings, before=before)
    return not_applied(spec.name).replaced(region=delivery)
