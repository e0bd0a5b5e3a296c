"""The status page inside a monitor run: claim the render, read what changed, render the site
(``fanout.status``) and upload what changed (docs/status-page.md).

It runs in what is left of the monitor's slice once the update is done, and never past it: a
run renders when it won the claim (a URL changed state: at most every ``CHANGED_INTERVAL_S``;
otherwise at most every ``StatusPageMinIntervalSeconds``). It reads again only the monitors that
ran since their last render (``fanout.status.plan``), as many URLs as its time left can hold
(``RENDER_S_PER_URL``) and at most ``FRESH_URLS_PER_RENDER``; the index takes the others from
their last render's JSON. An upload cut by the slice's end keeps what went up: the next render
uploads the rest. Nothing here raises: a render that fails is logged.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from typing import Any

from fanout.aws.history_table import HistoryTable, by_subject
from fanout.aws.monitors_table import MonitorsTable
from fanout.aws.status_site import Manifest, SiteBucket, claim_render
from fanout.config import Settings
from fanout.errors import StoreError
from fanout.observability.log import logger
from fanout.runs.stores import RunStores
from fanout.status.model import MonitorData, MonitorStatus
from fanout.status.plan import plan_render, urls_of
from fanout.status.site import Site, content_type, render_part, render_site

CHANGED_INTERVAL_S = 5.0
FRESH_URLS_PER_RENDER = 1_000  # URLs read again and rendered per run (more when its own monitor has more)
RENDER_S_PER_URL = 0.002  # reading a URL's history and rendering its files
INDEX_S_PER_URL = 0.0003  # a kept URL: decoding its monitor's JSON and its index row
MIN_LEFT_S = 0.5
MANIFEST_S = 0.25  # kept at the slice's end for the manifest
PAGE = 100
READ_CONCURRENCY = 8


async def all_summaries(table: MonitorsTable, before: float) -> list[dict[str, Any]]:
    summaries, cursor = [], None
    while True:
        page, cursor = await table.list_summaries(PAGE, cursor, before)
        summaries += page
        if cursor is None:
            return summaries


async def read_monitors(
    table: MonitorsTable, history: HistoryTable, summaries: Sequence[Mapping[str, Any]], before: float
) -> list[MonitorData]:
    """These monitors' URL states and month records (``READ_CONCURRENCY`` monitors at a time)."""
    slots = asyncio.Semaphore(READ_CONCURRENCY)

    async def one(summary: Mapping[str, Any]) -> MonitorData:
        async with slots:
            states, cursor = [], None
            while True:
                page, cursor = await table.page_states(summary["name"], 1_000, cursor, before)
                states += page
                if cursor is None:
                    break
            months = by_subject(await history.months(summary["name"], before))
            return MonitorData(summary, states, months)

    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(one(s)) for s in summaries]
    return [t.result() for t in tasks]


async def gather_monitors(table: MonitorsTable, history: HistoryTable, before: float) -> list[MonitorData]:
    """Every public monitor's summary, URL states and month records."""
    summaries = [s for s in await all_summaries(table, before) if s.get("public", True) is not False]
    return await read_monitors(table, history, summaries, before)


async def build(table: MonitorsTable, history: HistoryTable, before: float, *, title: str = "Status") -> Site:
    monitors = await gather_monitors(table, history, before)
    return render_site(monitors, time.time(), title=title)


def _time_for(urls: int, kept_urls: int) -> float:
    return MIN_LEFT_S + urls * RENDER_S_PER_URL + kept_urls * INDEX_S_PER_URL


async def render_if_due(
    stores: RunStores, settings: Settings, *, monitor: str, changed: bool, before: float
) -> None:
    """Render and upload the page when this run claims it and has the time to."""
    bucket = settings.status_page_bucket_name
    if not bucket or stores.monitors is None or stores.history is None:
        return
    loop = asyncio.get_running_loop()
    if before - loop.time() < MIN_LEFT_S:
        logger.info("status page left for a later run", extra={"left_s": round(before - loop.time(), 3)})
        return
    interval = min(CHANGED_INTERVAL_S, settings.status_page_min_interval_s) if changed else None
    try:
        now = time.time()
        wait = settings.status_page_min_interval_s if interval is None else interval
        if not await claim_render(stores.clients, stores.monitors.table, now, wait, before):
            return
        site = SiteBucket(stores.clients, bucket)
        done = await render_changed(stores.monitors, stores.history, site, monitor, before)
    except* Exception as failed:  # the reads run side by side: their errors come as a group
        # not only a store's: a kept page that no longer decodes must not cost the run its answer
        first = _first(failed)
        why = str(first) if isinstance(first, StoreError) else f"{type(first).__name__}: {first}"
        logger.warning("status page not rendered", extra={"error": why})
    else:
        if done is None:
            logger.info("status page left for a later run")
        else:
            logger.info("status page rendered", extra=done)


def _first(error: BaseException) -> BaseException:
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return error


async def render_changed(
    table: MonitorsTable, history: HistoryTable, site: SiteBucket, monitor: str, before: float
) -> dict[str, int] | None:
    """Read again what changed (``monitor`` first), render and upload it; what was done, or None
    when it was left for a later run."""
    loop = asyncio.get_running_loop()
    async with asyncio.TaskGroup() as group:
        listing = group.create_task(all_summaries(table, before))
        manifest = group.create_task(site.manifest(before))
    summaries, known = listing.result(), manifest.result()
    public = {s["name"]: s for s in summaries if s.get("public", True) is not False}
    known = Manifest(known.files, {m: at for m, at in known.rendered.items() if m in public})
    total = sum(urls_of(s) for s in public.values())
    fits = int((before - loop.time() - _time_for(0, total)) / RENDER_S_PER_URL)
    own = urls_of(public.get(monitor, {}))
    cap = min(fits, max(FRESH_URLS_PER_RENDER, own))
    plan = plan_render(list(public.values()), known.rendered, monitor, max_urls=cap)
    if not plan.fresh:
        return None
    async with asyncio.TaskGroup() as group:
        reading = group.create_task(read_monitors(table, history, plan.fresh, before))
        keeping = group.create_task(site.monitor_documents(plan.kept, before))
    fresh, kept_docs = reading.result(), keeping.result()
    kept = [MonitorStatus.from_bytes(body) for body in kept_docs.values()]
    gone = set(plan.kept) - set(kept_docs)  # its JSON is not in the bucket: read it again next time
    known = Manifest(known.files, {m: at for m, at in known.rendered.items() if m not in gone})
    if before - loop.time() < _time_for(plan.fresh_urls, total - plan.fresh_urls):
        return None
    rendered = render_part(fresh, kept, time.time())
    last_runs = {str(s["name"]): str(s.get("last_run_at") or "") for s in plan.fresh}
    uploaded, left = await site.publish(
        rendered.files, content_type, known, last_runs, upload_by=before - MANIFEST_S, before=before
    )
    return {
        "monitors_rendered": len(fresh),
        "monitors_kept": len(kept),
        "monitors_waiting": len(plan.waiting) + len(gone),
        "files": len(rendered.files),
        "uploaded": uploaded,
        "upload_left": left,
    }
