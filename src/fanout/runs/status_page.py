"""The status page inside a monitor run: claim the render, read the monitors table, render the
site (``fanout.status``) and upload what changed (docs/status-page.md).

It runs in what is left of the monitor's slice once the update is done, and never past it: a
run renders when it won the claim (a URL changed state: at most every ``CHANGED_INTERVAL_S``;
otherwise at most every ``StatusPageMinIntervalSeconds``), and leaves the render for a later run
when the time left cannot hold it (the render's cost grows with the URLs, ``RENDER_S_PER_URL``).
Nothing here raises: a render that fails is logged.
"""

from __future__ import annotations

import asyncio
import time

from fanout.aws.history_table import HistoryTable, by_subject
from fanout.aws.monitors_table import MonitorsTable
from fanout.aws.status_site import SiteBucket, claim_render
from fanout.config import Settings
from fanout.errors import StoreError
from fanout.observability.log import logger
from fanout.runs.stores import RunStores
from fanout.status.model import MonitorData
from fanout.status.site import Site, content_type, render_site

CHANGED_INTERVAL_S = 5.0
RENDER_S_PER_URL = 0.002
MIN_LEFT_S = 0.5
PAGE = 100


async def gather_monitors(table: MonitorsTable, history: HistoryTable, before: float) -> list[MonitorData]:
    """Every monitor's summary, URL states and month records."""
    summaries, cursor = [], None
    while True:
        page, cursor = await table.list_summaries(PAGE, cursor, before)
        summaries += page
        if cursor is None:
            break
    found = []
    for summary in summaries:
        if summary.get("public", True) is False:
            continue
        states, cursor = [], None
        while True:
            page_states, cursor = await table.page_states(summary["name"], 1_000, cursor, before)
            states += page_states
            if cursor is None:
                break
        months = by_subject(await history.months(summary["name"], before))
        found.append(MonitorData(summary, states, months))
    return found


async def build(table: MonitorsTable, history: HistoryTable, before: float, *, title: str = "Status") -> Site:
    monitors = await gather_monitors(table, history, before)
    return render_site(monitors, time.time(), title=title)


async def render_if_due(stores: RunStores, settings: Settings, *, changed: bool, before: float) -> None:
    """Render and upload the page when this run claims it and has the time to."""
    bucket = settings.status_page_bucket_name
    if not bucket or stores.monitors is None or stores.history is None:
        return
    loop = asyncio.get_running_loop()
    if before - loop.time() < MIN_LEFT_S:
        return
    interval = min(CHANGED_INTERVAL_S, settings.status_page_min_interval_s) if changed else None
    try:
        now = time.time()
        wait = settings.status_page_min_interval_s if interval is None else interval
        if not await claim_render(stores.clients, stores.monitors.table, now, wait, before):
            return
        monitors = await gather_monitors(stores.monitors, stores.history, before)
        urls = sum(len(m.states) for m in monitors)
        if before - loop.time() < MIN_LEFT_S + urls * RENDER_S_PER_URL:
            logger.info("status page left for a later run", extra={"urls": urls})
            return
        site = render_site(monitors, time.time())
        uploaded = await SiteBucket(stores.clients, bucket).publish(site.files, content_type, before)
    except StoreError as exc:
        logger.warning("status page not rendered", extra={"error": str(exc)})
        return
    logger.info("status page rendered", extra={"files": len(site.files), "uploaded": uploaded})
