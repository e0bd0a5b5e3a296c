"""One fan-out: a validated request in, its document out (one result per entry, in order).

This is where the engine (generic, deadline-bounded) meets the fetcher (httpx). The client is
made here, inside the running event loop, and closed before returning, so nothing of a run
outlives it. The fan-out ends at the deadline's ``fetch_by``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import httpx

from fanout.config import Settings
from fanout.core.budget import CLEANUP_COST, RunDeadline
from fanout.core.checks import Checkers
from fanout.core.documents import RunDocument, Source
from fanout.core.engine import Job, JobReport, JobState, run_under_deadline
from fanout.core.ids import new_run_id, utc_now_iso
from fanout.core.requests import FanoutRequest, UrlEntry
from fanout.core.results import ErrorInfo, Outcome, Summary, UrlResult
from fanout.core.urls import host_key
from fanout.fetch.client import build_client
from fanout.fetch.egress.policy import policy_for
from fanout.fetch.fetcher import Fetcher, FetchPolicy, FetchProgress, FetchResult
from fanout.observability.tracing import RunTrace
from fanout.runs.outgoing import Sendable, outgoing

ClientFactory = Callable[..., httpx.AsyncClient]


@dataclass(frozen=True, slots=True)
class RunContext:
    """Everything about a run that does not come from the request body."""

    source: Source
    deadline: RunDeadline
    run_id: str = field(default_factory=new_run_id)
    started_at: str = field(default_factory=utc_now_iso)


def _is_failure(report: JobReport[FetchResult]) -> bool:
    return report.state is JobState.RAISED or (
        report.value is not None and report.value.outcome is not Outcome.OK
    )


def _to_result(entry: UrlEntry, report: JobReport[FetchResult], progress: FetchProgress) -> UrlResult:
    elapsed = report.elapsed_s
    elapsed_ms = None if elapsed is None else elapsed * 1000
    if report.state is JobState.DONE and report.value is not None:
        v, attempts, d = report.value, progress.attempts, report.value.details
        if d is None:
            return UrlResult(entry.url, v.outcome, v.status_code, attempts, elapsed_ms, v.bytes, v.error)
        return UrlResult(
            entry.url, v.outcome, v.status_code, attempts, elapsed_ms, v.bytes, v.error,
            d.checks, d.degraded, d.timings, d.remote_ip, d.http_version, d.final_url, d.redirects, d.tls,
            None if d.headers is None else dict(d.headers),
        )  # fmt: skip
    if report.state is JobState.RAISED and report.error is not None:
        error = ErrorInfo(type(report.error).__name__, str(report.error) or "unexpected error")
        return UrlResult(entry.url, Outcome.FAILED, None, progress.attempts, elapsed_ms, None, error)
    if report.state is JobState.CANCELLED:
        return UrlResult(entry.url, Outcome.CANCELLED, None, progress.attempts, elapsed_ms, None, None)
    return UrlResult(entry.url, Outcome.NOT_STARTED, None, 0, None, None, None)


def fetch_policy(request: FanoutRequest, settings: Settings) -> FetchPolicy:
    options = request.options
    return FetchPolicy(
        request_timeout_s=options.request_timeout_s,
        retries=options.retries,
        follow_redirects=options.follow_redirects,
        max_redirects=options.max_redirects,
        max_body_bytes=options.max_body_bytes,
        backoff_base_s=settings.retry_backoff_base_s,
        backoff_cap_s=settings.retry_backoff_cap_s,
        min_attempt_s=settings.retry_min_attempt_s,
        capture_headers=tuple(h.lower() for h in options.capture_headers or ()),
        inspect_bytes=options.inspect_bytes,
    )


OnDone = Callable[[Outcome], None]
"""Told each URL's outcome as it is known (a command line's progress bar); not for cancellations."""


async def _not_sent(error: ErrorInfo) -> FetchResult:
    return FetchResult(Outcome.FAILED, error=error)


def _job(
    fetcher: Fetcher,
    entry: UrlEntry,
    sent: Sendable,
    progress: FetchProgress,
    by: float,
    trace: RunTrace | None,
    on_done: OnDone | None = None,
) -> Job[Any]:
    """Fetch ``sent`` (the entry as sent: merged headers, secrets resolved); ``entry`` is the
    entry as written, the only one traced."""
    fetch: Callable[[], Awaitable[FetchResult]] = (
        partial(_not_sent, sent)
        if isinstance(sent, ErrorInfo)
        else partial(fetcher.fetch, sent, deadline=by, progress=progress)
    )
    if on_done is not None:
        inner, tell = fetch, on_done

        async def fetch_and_tell() -> FetchResult:
            result = await inner()
            tell(result.outcome)
            return result

        fetch = fetch_and_tell
    if trace is None:
        return Job(run=fetch, key=host_key(entry.url))

    async def traced() -> FetchResult:
        async with trace.url(entry.url, entry.method) as on_result:
            result = await fetch()
            on_result(result.outcome.value, result.status_code)
            return result

    return Job(run=traced, key=host_key(entry.url))


WAKE_BEFORE_S = (0.5, 0.2, 0.1, 0.05, 0.02)


@contextlib.contextmanager
def _on_time(loop: asyncio.AbstractEventLoop, deadline: float) -> Iterator[None]:
    """Wake the loop (doing nothing) a few times just before ``deadline``, so it fires on time.

    libuv (uvloop) computes how long to sleep from the time it read when its iteration began:
    after a long batch of callbacks (1,000 requests set up) it sleeps that much too long, and a
    deadline timer due meanwhile fires late by as much (docs/benchmarks.md). A wake-up refreshes
    the time; each one late by the same error still leaves the next ones and the deadline on time.
    """
    now = loop.time()
    wakes = [loop.call_at(deadline - s, _nothing) for s in WAKE_BEFORE_S if deadline - s > now]
    try:
        yield
    finally:
        for wake in wakes:
            wake.cancel()


def _nothing() -> None:
    pass


async def fetch_run(
    request: FanoutRequest,
    ctx: RunContext,
    *,
    settings: Settings,
    client_factory: ClientFactory = build_client,
    trace: RunTrace | None = None,
    on_done: OnDone | None = None,
) -> RunDocument:
    """Fetch every entry of ``request`` before ``ctx.deadline.fetch_by``; one result per entry.

    ``trace`` (when tracing is on) gets one child subsegment per URL; ``on_done`` each outcome.
    """
    loop = asyncio.get_running_loop()
    started = loop.time()
    options, entries = request.options, request.entries()
    progress = [FetchProgress() for _ in entries]
    by = ctx.deadline.fetch_by
    sendable = await outgoing(entries, options, settings, before=by)
    async with client_factory(
        transport=settings.http_transport,
        concurrency=options.concurrency,
        per_host_concurrency=options.per_host_concurrency,
        follow_redirects=False,
        max_redirects=options.max_redirects,
        max_header_bytes=settings.max_header_bytes,
        user_agent=settings.user_agent,
        egress=policy_for(settings),
        dns_budget_s=options.request_timeout_s,
        ca_bundle=settings.ca_bundle,
    ) as client:
        fetcher = Fetcher(client, fetch_policy(request, settings), checkers=Checkers(options.expect))
        with _on_time(loop, by):
            run = await run_under_deadline(
                [
                    _job(fetcher, e, s, p, by, trace, on_done)
                    for e, s, p in zip(entries, sendable, progress, strict=True)
                ],
                deadline=by,
                concurrency=options.concurrency,
                per_key_concurrency=options.per_host_concurrency,
                stop_when=_is_failure if options.on_error == "cancel" else None,
            )
    if run.deadline_reached:  # what the cleanup costs is learned when the answer is ready
        CLEANUP_COST.cut(ctx.deadline, sum(r.state is JobState.CANCELLED for r in run.jobs))
    results = tuple(_to_result(e, r, p) for e, r, p in zip(entries, run.jobs, progress, strict=True))
    return RunDocument(
        run_id=ctx.run_id,
        source=ctx.source,
        started_at=ctx.started_at,
        budget_ms=ctx.deadline.fetch_budget_s * 1000,
        elapsed_ms=(loop.time() - started) * 1000,
        deadline_reached=run.deadline_reached,
        stopped_on_error=run.stopped,
        summary=Summary.of_results(results),
        results=results,
        degraded=sum(r.degraded is True for r in results),
    )
