"""One fan-out: a validated request in, its document out (one result per entry, in order).

This is where the engine (generic, deadline-bounded) meets the fetcher (httpx). The client is
made here, inside the running event loop, and closed before returning, so nothing of a run
outlives it. The fan-out ends at the deadline's ``fetch_by``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import msgspec

from fanout.config import Settings
from fanout.core.budget import CLEANUP_COST, RunDeadline
from fanout.core.checks import Checkers
from fanout.core.documents import RunDocument, Source
from fanout.core.engine import JobReport, JobState, run_under_deadline
from fanout.core.ids import new_run_id, utc_now_iso
from fanout.core.requests import FanoutRequest, Options, UrlEntry
from fanout.core.results import ErrorInfo, Outcome, Summary, UrlResult
from fanout.core.sign_option import webhook_id
from fanout.core.urls import host_key
from fanout.fetch.client import build_client
from fanout.fetch.egress.policy import policy_for
from fanout.fetch.fetcher import Fetcher
from fanout.fetch.pacing import Pacer
from fanout.fetch.policy import FetchPolicy, FetchProgress, FetchResult
from fanout.observability.tracing import RunTrace
from fanout.runs.outgoing import Sendable, outgoing
from fanout.runs.url_jobs import HostKeys, OnDone, UrlJob

ClientFactory = Callable[..., httpx.AsyncClient]


@dataclass(frozen=True, slots=True)
class RunContext:
    """Everything about a run that does not come from the request body."""

    source: Source
    deadline: RunDeadline
    run_id: str = field(default_factory=new_run_id)
    started_at: str = field(default_factory=utc_now_iso)
    indexes: tuple[int, ...] | None = None  # the entries' input indexes (a shard's); None: 0, 1, ...
    rate_shared_by: int = 1  # a shard's: its run's shards that may run at once share each host's rate


def _is_failure(report: JobReport[FetchResult]) -> bool:
    return report.state is JobState.RAISED or (report.value is not None and report.value.outcome.is_a_failure)


def _to_result(entry: UrlEntry, report: JobReport[FetchResult], progress: FetchProgress) -> UrlResult:
    result = _to_bare_result(entry, report, progress)
    if progress.throttled or progress.retry_after_s is not None:
        told_ms = None if progress.retry_after_s is None else progress.retry_after_s * 1000
        return result.replaced(throttled=progress.throttled, retry_after_ms=told_ms)
    return result


def _to_bare_result(entry: UrlEntry, report: JobReport[FetchResult], progress: FetchProgress) -> UrlResult:
    elapsed = report.elapsed_s
    elapsed_ms = None if elapsed is None else elapsed * 1000
    if report.state is JobState.DONE and report.value is not None:
        return _answered(entry, report.value, progress.attempts, elapsed_ms)
    if report.state is JobState.RAISED and report.error is not None:
        error = ErrorInfo(type(report.error).__name__, str(report.error) or "unexpected error")
        return UrlResult(entry.url, Outcome.FAILED, None, progress.attempts, elapsed_ms, None, error)
    if report.state is JobState.CANCELLED:
        return UrlResult(entry.url, Outcome.CANCELLED, None, progress.attempts, elapsed_ms, None, None)
    return UrlResult(entry.url, Outcome.NOT_STARTED, None, 0, None, None, None)


def _answered(entry: UrlEntry, v: FetchResult, attempts: int, elapsed_ms: float | None) -> UrlResult:
    d = v.details
    if d is None:
        return UrlResult(entry.url, v.outcome, v.status_code, attempts, elapsed_ms, v.bytes, v.error)
    final_url = entry.url if d.final_url == entry.url else d.final_url  # mostly: one string, not two
    return UrlResult(
        entry.url, v.outcome, v.status_code, attempts, elapsed_ms, v.bytes, v.error,
        d.checks, d.degraded, d.timings, d.remote_ip, d.http_version, final_url, d.redirects, d.tls,
        None if d.headers is None else dict(d.headers),
    )  # fmt: skip


def _signed(result: UrlResult, webhook_id: str | None) -> UrlResult:
    return result if webhook_id is None else msgspec.structs.replace(result, webhook_id=webhook_id)


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


def pacer_for(options: Options, entries: Iterable[UrlEntry], *, shared_by: int = 1) -> Pacer:
    """The run's pace per host: ``options.per_host_rps``, an entry's own rate for its host (the
    lowest where entries of one host differ: the host asked the least of is asked the least).

    A shard whose run's shards may run ``shared_by`` at once takes that share of each rate and of
    the burst (at least one request): together they never ask a host for more than its rate.
    """
    own: dict[Hashable, float] = {}
    for entry in entries:
        if entry.per_host_rps is not None:
            key = host_key(entry.url)
            own[key] = min(entry.per_host_rps, own.get(key, entry.per_host_rps))
    rps, burst = options.per_host_rps, options.per_host_burst or 1
    if shared_by > 1:
        rps = None if rps is None else rps / shared_by
        own = {key: rate / shared_by for key, rate in own.items()}
        burst = max(1, burst // shared_by)
    return Pacer(rps, burst=burst, rps_by_host=own)


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


def _client_options(options: Options, settings: Settings) -> dict[str, Any]:
    """The run's client: its pool as the options bound it, the deployment's guard and limits."""
    return {
        "transport": settings.http_transport,
        "concurrency": options.concurrency,
        "per_host_concurrency": options.per_host_concurrency,
        "follow_redirects": False,
        "max_redirects": options.max_redirects,
        "max_header_bytes": settings.max_header_bytes,
        "user_agent": settings.user_agent,
        "egress": policy_for(settings),
        "dns_budget_s": options.request_timeout_s,
        "ca_bundle": settings.ca_bundle,
    }


def _webhook_ids(ctx: RunContext, sendable: Sequence[Sendable]) -> list[str | None]:
    """Each signed entry's ``webhook-id``: from the run and the entry's input position, so a
    retry, a carry-over or a shard continuation of the same delivery sends the same id."""
    indexes = ctx.indexes if ctx.indexes is not None else range(len(sendable))
    return [
        None if isinstance(s, ErrorInfo) or s.sign is None else webhook_id(ctx.run_id, i, s.url)
        for i, s in zip(indexes, sendable, strict=True)
    ]


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
    by = ctx.deadline.fetch_by
    sendable = await outgoing(entries, options, settings, before=by)
    ids = _webhook_ids(ctx, sendable)
    async with client_factory(**_client_options(options, settings)) as client:
        policy, pacer = (
            fetch_policy(request, settings),
            pacer_for(options, entries, shared_by=ctx.rate_shared_by),
        )
        fetcher = Fetcher(client, policy, checkers=Checkers(options.expect), pacer=pacer)
        keys = HostKeys()
        url_trace = trace if trace is not None and trace.records else None
        jobs = [
            UrlJob(fetcher, e, s, keys.of(e.url), by, url_trace, on_done, w)
            for e, s, w in zip(entries, sendable, ids, strict=True)
        ]
        with _on_time(loop, by):
            run = await run_under_deadline(
                jobs,
                deadline=by,
                concurrency=options.concurrency,
                per_key_concurrency=options.per_host_concurrency,
                stop_when=_is_failure if options.on_error == "cancel" else None,
            )
    if run.deadline_reached:  # what the cleanup costs is learned when the answer is ready
        cut = sum(r.state is JobState.CANCELLED and r.finished_at is not None for r in run.jobs)
        CLEANUP_COST.cut(ctx.deadline, cut)  # in flight when cut (not those waiting for a turn)
    results = tuple(
        _signed(_to_result(e, r, j), w) for e, r, j, w in zip(entries, run.jobs, jobs, ids, strict=True)
    )
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
