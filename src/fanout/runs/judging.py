"""A run's document judged: its run thresholds evaluated and, for a monitor run, its monitor
updated by its results (``runs.monitor``), or, for a regional monitor, its region's report applied
home or sent there (``runs.regional_run``); then the status page, when due.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fanout.aws.reports import report_key
from fanout.config import Settings
from fanout.core.documents import RunDocument
from fanout.core.monitors import MonitorSpec
from fanout.core.requests import Options
from fanout.core.thresholds import evaluate
from fanout.errors import StoreError
from fanout.fetch.delivery import Deliveries
from fanout.runs.alerting import AlertRoutes, status_page_link
from fanout.runs.monitor import MonitorRun, MonitorUpdate
from fanout.runs.status_page import render_if_due
from fanout.runs.stores import RunStores


async def monitor_routes(
    spec: MonitorSpec, stores: RunStores, settings: Settings, deliveries: Deliveries, before: float
) -> AlertRoutes | None:
    """The monitor's alert routes, without those an earlier run found gone (410)."""
    if not spec.alerts or stores.monitors is None:
        return None
    try:
        summary = await stores.monitors.get_summary(spec.name, before) or {}
    except StoreError:
        summary = {}
    gone = summary.get("routes_gone") or ()
    page = status_page_link(spec, settings)
    return AlertRoutes(spec.alerts, settings, stores.clients, deliveries, gone=gone, status_page=page)


@asynccontextmanager
async def monitor_update(
    spec: MonitorSpec,
    run_id: str,
    key: str,
    location: tuple[str, str] | None,
    *,
    stores: RunStores,
    settings: Settings,
    before: float,
    claimant: str | None = None,
) -> AsyncIterator[MonitorUpdate]:
    """The update of ``spec``'s states by one run's (or one region report's) observations, its
    alert claims held until ``before`` (no send outlives the slice), with its alert routes open."""
    assert stores.monitors is not None
    loop = asyncio.get_running_loop()
    until = time.time() + max(0.0, before - loop.time())
    limit = settings.round_max_age_s
    run = MonitorRun(spec, run_id, key, location, claim_until=until, claimant=claimant, round_max_age_s=limit)
    async with Deliveries(settings) as deliveries:
        routes = await monitor_routes(spec, stores, settings, deliveries, before)
        yield MonitorUpdate(
            stores.monitors,
            stores.alerts,
            run,
            concurrency=settings.monitor_concurrency,
            routes=routes,
            history=stores.history,
        )


async def judged(
    document: RunDocument,
    options: Options,
    spec: MonitorSpec | None,
    *,
    key: str | None,
    stores: RunStores,
    settings: Settings,
    before: float,
    scheduled_at: str | None = None,
) -> RunDocument:
    """``document`` with its run thresholds evaluated and, for a monitor run, its monitor updated
    (a regional monitor's: by its round, ``scheduled_at``, else the run's start to the minute; in
    a probe region its observations are sent to its home region instead: ``runs.regional_run``)."""
    results = document.results or ()
    thresholds = evaluate(options.thresholds, results) if options.thresholds else None
    if spec is None or (stores.monitors is None and (settings.is_home or not spec.is_regional)):
        return document.replaced(thresholds=thresholds)
    location = None
    if stores.reports is not None:
        location = (stores.reports.bucket, report_key(document.run_id, document.started_at))
    if spec.is_regional:
        from fanout.runs.regional_run import judged_regional  # regional monitors only

        report = await judged_regional(
            document,
            spec,
            thresholds or (),
            key=key,
            location=location,
            stores=stores,
            settings=settings,
            before=before,
            scheduled_at=scheduled_at,
        )
        if report.region is not None:  # a probe region's run: no state here, no page to render
            return document.replaced(thresholds=thresholds, monitor=report)
    else:
        async with monitor_update(
            spec,
            document.run_id,
            key or document.run_id,
            location,
            stores=stores,
            settings=settings,
            before=before,
        ) as update:
            report = await update.apply(results, thresholds or (), before=before)
    changed = report.all_transitions > 0
    await render_if_due(stores, settings, monitor=spec.name, changed=changed, before=before)
    return document.replaced(thresholds=thresholds, monitor=report)
