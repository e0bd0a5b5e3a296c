"""A run here, in this process, with the service's own engine and limits.

The request is validated by the service's parser (``parse_request``: the same errors as the
service), URLs are fetched by ``fetch_run`` under the egress guard of the settings
(``EGRESS_ALLOW_CIDRS`` exempts networks, as on Lambda), and the deadline is computed as an
invocation's: ``--deadline`` plays Lambda's remaining time, read once when the run starts, and
a sitemap is read within the same bound as a target list is on Lambda.

What needs the service's stores is refused rather than silently dropped: a monitor, a sharded
run or a shard size, carrying leftovers over, an S3 target list (``fanout invoke`` runs those on
Lambda).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from fanout.cli.inputs import SitemapSource
from fanout.cli.progress import url_progress
from fanout.config import Settings
from fanout.core.budget import InvocationClock
from fanout.core.documents import RunDocument, Source
from fanout.core.requests import FanoutRequest, TargetsRequest, parse_invoke_request, parse_request
from fanout.core.thresholds import evaluate
from fanout.errors import RequestInvalid
from fanout.fetch.sitemap import read_sitemap
from fanout.runs.fetch_run import RunContext, fetch_run


@dataclass(frozen=True, slots=True)
class LocalRun:
    """What to run: the request document (options merged) and, or instead of its ``urls``, a sitemap."""

    document: dict[str, Any]
    sitemap: SitemapSource | None = None
    method: str | None = None  # for the sitemap's URLs (``--method``)


def _refuse(loc: str, what: str) -> RequestInvalid:
    msg = f"{what} needs the service's stores: run it with fanout invoke"
    return RequestInvalid(
        f"fanout run cannot do this here: {msg}", [{"loc": loc, "msg": msg, "type": "cli_local"}]
    )


def sitemap_of(document: dict[str, Any], settings: Settings) -> tuple[dict[str, Any], SitemapSource | None]:
    """A request with ``targets``: validated as the service validates it, then the sitemap to
    read and the request without its ``targets`` (an S3 list is refused here)."""
    if "targets" not in document:
        return document, None
    request = parse_invoke_request(document, settings)
    assert isinstance(request, TargetsRequest)  # "targets" without "urls" parses as one
    if request.sitemap is None:
        raise _refuse("targets", "an S3 target list")
    rest = {k: v for k, v in document.items() if k != "targets"}
    return rest, SitemapSource(request.sitemap)


def _checked(document: dict[str, Any], settings: Settings) -> FanoutRequest:
    request = parse_request(document, settings)
    if request.monitor is not None:
        raise _refuse("monitor", "a monitor")
    if request.mode == "sharded":
        raise _refuse("mode", "a sharded run")
    if request.carry_over:
        raise _refuse("carry_over", "carrying leftovers over")
    if request.options.shard_size is not None:  # a run here is never sharded: not silently ignored
        raise _refuse("options.shard_size", "sharding (a shard size)")
    return request


async def _urls(run: LocalRun, settings: Settings, clock: InvocationClock) -> dict[str, Any]:
    """The document with its ``urls``: the sitemap's, read by the bound a target list has."""
    if run.sitemap is None:
        return run.document
    longest = clock.deadline(settings.max_urls, settings)  # the list's length is unknown yet
    source = run.sitemap
    pages: list[Any] = await read_sitemap(
        source.location, settings, before=longest.fetch_by, body=source.body
    )
    if run.method:
        pages = [{"url": page, "method": run.method.upper()} for page in pages]
    return run.document | {"urls": pages}


async def run_here(run: LocalRun, settings: Settings, *, deadline_s: float, progress: bool) -> RunDocument:
    """Run ``run`` within ``deadline_s`` (from now); its document, thresholds evaluated."""
    loop = asyncio.get_running_loop()
    clock = InvocationClock.begin(deadline_s * 1000, now=loop.time())
    request = _checked(await _urls(run, settings, clock), settings)
    n = len(request.urls)
    deadline = clock.deadline(n, settings, in_flight=min(n, request.options.concurrency))
    ctx = RunContext(source=Source.CLI, deadline=deadline)
    with url_progress(n, deadline_s, enabled=progress) as bar:
        on_done = None if bar is None else bar.on_done
        document = await fetch_run(request, ctx, settings=settings, on_done=on_done)
        if bar is not None:
            bar.settle(document.summary.to_json())
    thresholds = request.options.thresholds
    return document.replaced(
        thresholds=evaluate(thresholds, document.results or ()) if thresholds else None,
        targets=None if run.sitemap is None else run.sitemap.location,
    )
