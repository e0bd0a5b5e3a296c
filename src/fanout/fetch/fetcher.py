"""Fetch one URL entry with httpx: bounded attempts, safe retries, one outcome.

- Each attempt (DNS, connect, headers, every redirect hop, the whole body) runs under one
  ``asyncio.timeout(request_timeout_s)``: httpx's per-read timeout alone never fires
  against a server that trickles a byte just inside it.
- The body is counted on the wire (``aiter_raw``, never decompressed) and capped.
- Redirects are followed here, hop by hop, so each hop's body is capped too; each hop
  is a new request (``redirect_request``, RFC 9110) sent through the same transport, so
  the egress checks run on every hop.
- Requests go straight to the transport through a ``wire.Wire`` (the aiohttp transport's own,
  which builds httpx objects only where a hop needs them; any other transport's
  ``handle_async_request``): no auth, no cookie jar, no hooks. The client's default headers are sent.
- Retries: connect errors and 429/502/503/504 only (of DNS failures, only those that
  may pass, such as SERVFAIL; never a lookup that used up the attempt); full-jitter exponential backoff;
  ``Retry-After`` honoured; none when the run deadline leaves no room for another
  attempt; POST/PATCH only when the entry says ``"retry": true``. What each failure is (outcome,
  error, retryable) is one table, ``failures.FAILURE_KINDS``.
- Pacing: every request (first attempt, retry, redirect hop) waits for its host's turn
  (``pacing.Pacer``: a rate, and the pauses a 429/503 with ``Retry-After`` asks for). A retry
  told ``Retry-After`` waits for its host rather than sleeping on its own; a turn past the
  deadline ends the URL with what it has (its last answer; ``not_started`` before any).
- ``CancelledError`` is never caught: the engine reports a cancelled URL itself.

What a fetch is given and gives back (``FetchPolicy``, ``FetchProgress``, ``FetchResult``) lives in
``fetch.policy``; a signed entry's headers are built by ``wire.signed_headers_and_body``.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Hashable, Mapping

import httpx

from fanout.core.checks import Checker, Checkers
from fanout.core.facts import Redirect
from fanout.core.requests import UrlEntry
from fanout.core.results import ErrorInfo, Outcome
from fanout.core.urls import host_key
from fanout.errors import RedirectLimit
from fanout.fetch.body import BodyInspector
from fanout.fetch.client import FanoutClient
from fanout.fetch.failures import FAILURES, classify
from fanout.fetch.pacing import PAUSING_STATUS, HostPaused, Pacer, retry_after_s
from fanout.fetch.policy import RETRYABLE_STATUS, FetchPolicy, FetchProgress, FetchResult
from fanout.fetch.redirects import redirect_request, url_host_key
from fanout.fetch.trace import CURRENT_TRACE, AttemptTrace
from fanout.fetch.transports.aiohttp import FanoutAiohttpTransport
from fanout.fetch.transports.aiohttp_wire import AiohttpWire
from fanout.fetch.verdict import FinalResponse, final_response, judge, plain_headers
from fanout.fetch.wire import REDIRECT_STATUS, HttpxWire, Wire, signed_headers_and_body

__all__ = ["RETRYABLE_STATUS", "FetchPolicy", "FetchProgress", "FetchResult", "Fetcher"]


class Fetcher:
    """Fetches entries through one httpx client (made per run by ``transport``).

    Requests are sent on ``transport`` (default: the client's own, ``FanoutClient.transport``)
    with the client's default headers; the client owns and closes the transport.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        policy: FetchPolicy,
        *,
        checkers: Checkers | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        rng: random.Random | None = None,
        pacer: Pacer | None = None,
    ) -> None:
        if transport is None:
            if not isinstance(client, FanoutClient):
                raise TypeError("Fetcher needs the transport: pass transport= or a FanoutClient")
            transport = client.transport
        self._wire: Wire = (
            AiohttpWire(transport, client.headers)
            if isinstance(transport, FanoutAiohttpTransport)
            else HttpxWire(transport, client.headers)
        )
        self._policy = policy
        self._checkers = checkers or Checkers(None)
        self._rng = rng or random.Random()
        self._pacer = pacer or Pacer()

    async def fetch(
        self,
        entry: UrlEntry,
        *,
        deadline: float,
        progress: FetchProgress,
        host: Hashable | None = None,
        webhook_id: str | None = None,
    ) -> FetchResult:
        """Fetch ``entry``: attempts until one is final, retrying within ``deadline`` (event-loop time).
        A signed entry (``entry.sign``, its secrets resolved) is signed anew on each attempt over
        the exact bytes sent, with ``webhook_id`` on every attempt.

        ``host`` is the entry's ``host_key`` when the caller has it (else worked out when needed).
        A failed attempt is classified by ``FAILURE_KINDS`` (its outcome, its error, whether
        another attempt may help); anything else it raises, ``CancelledError`` first, goes up as is.
        """
        checker = self._checkers.for_entry(entry.expect)
        not_after = deadline - min(self._policy.min_attempt_s, self._policy.request_timeout_s)
        last: tuple[FinalResponse, AttemptTrace] | FetchResult | None = None
        while True:
            taken, progress.turn = progress.turn, None
            if taken is not None or not self._pacer.idle:
                host = host_key(entry.url) if host is None else host
                try:
                    if isinstance(taken, HostPaused):
                        raise taken
                    if taken is None or not self._pacer.due(host, taken):
                        await self._turn(host, not_after, progress, taken)
                except HostPaused as paused:  # the host's turn comes too late: what it has stands
                    return self._as_result(last, checker, paused)
            progress.attempts += 1
            trace = AttemptTrace()
            response: FinalResponse | None = None
            try:
                response = await self._attempt(entry, trace, checker, progress, not_after, webhook_id)
            except FAILURES as exc:
                if isinstance(exc, HostPaused) and last is not None:  # a hop's host, past the deadline
                    return self._as_result(last, checker, exc)  # what the last attempt had stands
                kind = classify(exc)
                failed = FetchResult(
                    kind.outcome, error=kind.describe(exc, trace, self._policy.request_timeout_s)
                )
                retryable = kind.retryable(exc)
                last = failed
            else:
                retryable = response.status_code in RETRYABLE_STATUS
                self._heard(response, progress, host)
                last = (response, trace)
            if not (
                retryable
                and self._may_retry(entry, progress.attempts)
                and await self._waited_to_retry(progress.attempts, response, deadline)
            ):
                return self._as_result(last, checker, None)

    def first_turn(self, host: Hashable, deadline: float, progress: FetchProgress) -> float | None:
        """Take an entry's first turn at ``host`` before it starts (the engine's ``Job.ready_at``): the loop
        time it comes, so it waits for its host without holding a worker. A turn past the deadline
        is kept for ``fetch`` to report."""
        if self._pacer.idle:
            return None
        not_after = deadline - min(self._policy.min_attempt_s, self._policy.request_timeout_s)
        try:
            at = self._pacer.reserve(host, not_after)
        except HostPaused as paused:
            progress.turn = paused
            return None
        progress.turn = at
        if at > asyncio.get_running_loop().time():
            progress.throttled += 1
        return at

    async def _turn(
        self, host: Hashable, not_after: float, progress: FetchProgress, taken: float | None = None
    ) -> float:
        """Wait for ``host``'s turn (``HostPaused`` past ``not_after``); the seconds waited."""
        waited = await self._pacer.waited_turn(host, not_after, taken)
        if waited:
            progress.throttled += 1
        return waited

    def _heard(self, response: FinalResponse, progress: FetchProgress, host: Hashable | None) -> None:
        """Tell the pacer what the host that answered said (the entry's ``host``, unless redirected)."""
        status, told = response.status_code, response.retry_after_s
        if not (self._pacer.paced or status in PAUSING_STATUS):
            return
        if status in PAUSING_STATUS and told is not None:
            progress.retry_after_s = told
        self._pacer.heard(
            host_key(response.url) if host is None or response.redirects else host, status, told
        )

    def _as_result(
        self,
        last: tuple[FinalResponse, AttemptTrace] | FetchResult | None,
        checker: Checker | None,
        paused: HostPaused | None,
    ) -> FetchResult:
        if isinstance(last, tuple):
            return self._final_result(*last, checker)
        if last is not None:
            return last
        assert paused is not None  # no attempt was made: only a turn past the deadline does that
        return FetchResult(Outcome.NOT_STARTED, error=ErrorInfo(paused.type, str(paused)))

    def _final_result(
        self, response: FinalResponse, trace: AttemptTrace, checker: Checker | None
    ) -> FetchResult:
        outcome, details = judge(response, trace, checker, self._policy.capture_headers)
        return FetchResult(outcome, response.status_code, response.size, details=details)

    def _may_retry(self, entry: UrlEntry, attempts: int) -> bool:
        """Another attempt is allowed: retries left, and the entry's method (or its word) permits."""
        return attempts <= self._policy.retries and entry.may_retry

    async def _waited_to_retry(self, attempts: int, response: FinalResponse | None, deadline: float) -> bool:
        """Sleep the backoff before the next attempt; ``False`` (no sleep) when the run's deadline
        leaves no room for it and a useful attempt after it."""
        policy = self._policy
        told = None if response is None else response.retry_after_s
        delay = self._backoff(attempts, told)
        room = deadline - asyncio.get_running_loop().time()
        if delay + min(policy.min_attempt_s, policy.request_timeout_s) > room:
            return False
        if told is None or response is None or response.status_code not in PAUSING_STATUS:
            await asyncio.sleep(delay)
        # else: the host is paused for that long, and the next attempt waits for its turn.
        return True

    def _backoff(self, attempts: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return retry_after
        ceiling = min(self._policy.backoff_cap_s, self._policy.backoff_base_s * 2 ** (attempts - 1))
        return self._rng.uniform(0, ceiling)

    async def _attempt(
        self,
        entry: UrlEntry,
        trace: AttemptTrace,
        checker: Checker | None,
        progress: FetchProgress,
        not_after: float,
        webhook_id: str | None = None,
    ) -> FinalResponse:
        policy = self._policy
        headers, content = signed_headers_and_body(entry, webhook_id)
        inspect = checker is not None and checker.needs_body
        detailed = checker is not None or bool(policy.capture_headers)  # timings are read only then
        tracing = CURRENT_TRACE.set(trace)  # the lookups and connections of this attempt mark ``trace``
        limit: asyncio.Timeout | None = None
        trace.started = time.monotonic()
        try:
            async with asyncio.timeout(policy.request_timeout_s) as limit:
                redirects: list[Redirect] = []
                following: httpx.Request | None = None
                for _hop in range(policy.max_redirects + 1):
                    if detailed:
                        trace.hop()
                    if following is None:
                        hop = await self._wire.send(entry.method, entry.url, headers, content)
                    else:
                        url = following.url
                        # The time waited for the next host's turn is not the attempt's.
                        if waited := await self._turn(url_host_key(url), not_after, progress):
                            limit.reschedule((limit.when() or 0.0) + waited)
                        hop = await self._wire.follow(following)
                    headers_at = trace.answered() if detailed else 0.0
                    status = hop.status_code
                    redirect = status in REDIRECT_STATUS and "location" in hop.headers
                    final = not (policy.follow_redirects and redirect)
                    judged = final and detailed
                    seen: Mapping[str, str] = plain_headers(hop.raw_headers()) if judged else hop.headers
                    inspector = self._inspector(seen) if final and inspect else None
                    try:
                        size = await hop.drain(policy.max_body_bytes, inspector)
                    finally:
                        await hop.aclose()
                    if detailed:
                        trace.drained(headers_at)
                    if final:
                        told = retry_after_s(hop.headers) if status in RETRYABLE_STATUS else None
                        return final_response(hop, seen, size, redirects, inspector, told, judged=judged)
                    redirects.append(Redirect(hop.url, status))
                    following = redirect_request(hop.request(), hop)
                raise RedirectLimit(f"more than {policy.max_redirects} redirects")
        finally:
            CURRENT_TRACE.reset(tracing)
            # The timeout holds this task: left in this frame, which a cancellation's traceback
            # holds, and which the task holds, it would make a cycle only the cyclic GC frees
            # (everything of a cut run; docs/benchmarks.md).
            limit = None
        raise AssertionError("unreachable")  # pragma: no cover  (mypy: timeout may swallow)

    def _inspector(self, headers: Mapping[str, str]) -> BodyInspector:
        return BodyInspector(
            self._policy.inspect_bytes,
            content_encoding=headers.get("content-encoding", ""),
            content_type=headers.get("content-type", ""),
        )
