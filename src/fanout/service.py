"""One fan-out run: a validated request in, the result document out.

This is where the engine (generic, deadline-bounded) meets the fetcher (httpx). The
client is created here, inside the running event loop, and closed before returning,
so nothing of a run outlives it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

from fanout.config import SETTINGS, Settings
from fanout.contract import (
    ErrorInfo,
    FanoutRequest,
    Outcome,
    Source,
    UrlEntry,
    UrlResult,
    build_document,
    new_run_id,
    utc_now_iso,
)
from fanout.egress import policy_for
from fanout.engine import Job, JobReport, JobState, run_under_deadline
from fanout.fetcher import Fetcher, FetchPolicy, FetchProgress, FetchResult
from fanout.transport import build_client

if TYPE_CHECKING:
    from fanout.tracing import RunTrace

ClientFactory = Callable[..., httpx.AsyncClient]


@dataclass(frozen=True, slots=True)
class RunContext:
    """Everything about a run that does not come from the request body."""

    source: Source
    deadline: float  # event-loop (monotonic) time
    budget_s: float
    run_id: str = ""
    started_at: str = ""


_DEFAULT_PORTS = {"http": 80, "https": 443}


def host_key(url: str) -> Hashable:
    """The per-host concurrency group of a URL: scheme, host and port (default port filled in).

    ``http://a/`` and ``http://a:80/`` are one host, as for the connection pool: two
    groups would let twice the per-host cap through to queue inside the pool.
    """
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        return (scheme, (parts.hostname or "").lower(), parts.port or _DEFAULT_PORTS.get(scheme))
    except ValueError:
        return None


def _is_failure(report: JobReport[FetchResult]) -> bool:
    return report.state is JobState.RAISED or (
        report.value is not None and report.value.outcome is not Outcome.OK
    )


def _to_result(entry: UrlEntry, report: JobReport[FetchResult], progress: FetchProgress) -> UrlResult:
    elapsed = report.elapsed_s
    elapsed_ms = None if elapsed is None else elapsed * 1000
    if report.state is JobState.DONE and report.value is not None:
        v = report.value
        return UrlResult(entry.url, v.outcome, v.status_code, progress.attempts, elapsed_ms, v.bytes, v.error)
    if report.state is JobState.RAISED and report.error is not None:
        error = ErrorInfo(type(report.error).__name__, str(report.error) or "unexpected error")
        return UrlResult(entry.url, Outcome.FAILED, None, progress.attempts, elapsed_ms, None, error)
    if report.state is JobState.CANCELLED:
        return UrlResult(entry.url, Outcome.CANCELLED, None, progress.attempts, elapsed_ms)
    return UrlResult(entry.url, Outcome.NOT_STARTED)


async def run_fanout(
    request: FanoutRequest,
    ctx: RunContext,
    *,
    settings: Settings = SETTINGS,
    client_factory: ClientFactory = build_client,
    trace: RunTrace | None = None,
) -> dict[str, Any]:
    """Fetch every entry of ``request`` before ``ctx.deadline``; one result per entry.

    ``trace`` (when tracing is on) gets one child subsegment per URL.
    """
    loop = asyncio.get_running_loop()
    started_mono = loop.time()
    run_id = ctx.run_id or new_run_id()
    started_at = ctx.started_at or utc_now_iso()
    options = request.options
    entries = request.entries()
    policy = FetchPolicy(
        request_timeout_s=options.request_timeout_s,
        retries=options.retries,
        follow_redirects=options.follow_redirects,
        max_redirects=options.max_redirects,
        max_body_bytes=options.max_body_bytes,
        backoff_base_s=settings.retry_backoff_base_s,
        backoff_cap_s=settings.retry_backoff_cap_s,
        min_attempt_s=settings.retry_min_attempt_s,
    )
    progress = [FetchProgress() for _ in entries]
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
    ) as client:
        fetcher = Fetcher(client, policy)

        def job(entry: UrlEntry, progress: FetchProgress) -> Job[FetchResult]:
            fetch = partial(fetcher.fetch, entry, deadline=ctx.deadline, progress=progress)
            if trace is None:
                return Job(run=fetch, key=host_key(entry.url))

            async def traced() -> FetchResult:
                async with trace.url(entry.url, entry.method) as on_result:
                    result = await fetch()
                    on_result(result.outcome.value, result.status_code)
                    return result

            return Job(run=traced, key=host_key(entry.url))

        jobs = [job(entry, p) for entry, p in zip(entries, progress, strict=True)]
        run = await run_under_deadline(
            jobs,
            deadline=ctx.deadline,
            concurrency=options.concurrency,
            per_key_concurrency=options.per_host_concurrency,
            stop_when=_is_failure if options.on_error == "cancel" else None,
        )
    results = [_to_result(e, r, p) for e, r, p in zip(entries, run.jobs, progress, strict=True)]
    return build_document(
        run_id=run_id,
        source=ctx.source,
        started_at=started_at,
        budget_ms=ctx.budget_s * 1000,
        elapsed_ms=(loop.time() - started_mono) * 1000,
        results=results,
        deadline_reached=run.deadline_reached,
        stopped=run.stopped,
    )
