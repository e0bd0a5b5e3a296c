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
- ``CancelledError`` is never caught: the engine reports a cancelled URL itself.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from fanout.core.checks import Checker, Checkers
from fanout.core.facts import Details, Redirect
from fanout.core.requests import UrlEntry
from fanout.core.results import ErrorInfo, Outcome
from fanout.errors import RedirectLimit
from fanout.fetch.body import BodyInspector
from fanout.fetch.client import FanoutClient
from fanout.fetch.failures import FAILURES, classify
from fanout.fetch.redirects import redirect_request
from fanout.fetch.trace import CURRENT_TRACE, AttemptTrace
from fanout.fetch.transports.aiohttp import FanoutAiohttpTransport
from fanout.fetch.transports.aiohttp_wire import AiohttpWire
from fanout.fetch.verdict import FinalResponse, judge, plain_headers
from fanout.fetch.wire import REDIRECT_STATUS, Hop, HttpxWire, Wire

RETRYABLE_STATUS = frozenset({429, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class FetchPolicy:
    """Per-run fetch settings (from the request's options and ``config``)."""

    request_timeout_s: float
    retries: int
    follow_redirects: bool
    max_redirects: int
    max_body_bytes: int
    backoff_base_s: float = 0.1
    backoff_cap_s: float = 5.0
    min_attempt_s: float = 0.2
    capture_headers: tuple[str, ...] = ()
    inspect_bytes: int = 65_536


@dataclass(slots=True)
class FetchProgress:
    """Updated as the fetch goes, so a cancelled fetch still reports its attempts."""

    attempts: int = 0


@dataclass(frozen=True, slots=True)
class FetchResult:
    outcome: Outcome
    status_code: int | None = None
    bytes: int | None = None
    error: ErrorInfo | None = None
    details: Details | None = None


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

    async def fetch(self, entry: UrlEntry, *, deadline: float, progress: FetchProgress) -> FetchResult:
        """Fetch ``entry``: attempts until one is final, retrying within ``deadline`` (event-loop time).

        A failed attempt is classified by ``FAILURE_KINDS`` (its outcome, its error, whether
        another attempt may help); anything else it raises, ``CancelledError`` first, goes up as is.
        """
        checker = self._checkers.for_entry(entry.expect)
        while True:
            progress.attempts += 1
            trace = AttemptTrace()
            response: FinalResponse | None = None
            try:
                response = await self._attempt(entry, trace, checker)
            except FAILURES as exc:
                kind = classify(exc)
                failed = FetchResult(
                    kind.outcome, error=kind.describe(exc, trace, self._policy.request_timeout_s)
                )
                retryable = kind.retryable(exc)
            else:
                retryable = response.status_code in RETRYABLE_STATUS
            if not (
                retryable
                and self._may_retry(entry, progress.attempts)
                and await self._waited_to_retry(progress.attempts, response, deadline)
            ):
                return failed if response is None else self._final_result(response, trace, checker)

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
        delay = self._backoff(attempts, None if response is None else response.retry_after_s)
        room = deadline - asyncio.get_running_loop().time()
        if delay + min(policy.min_attempt_s, policy.request_timeout_s) > room:
            return False
        await asyncio.sleep(delay)
        return True

    def _backoff(self, attempts: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return retry_after
        ceiling = min(self._policy.backoff_cap_s, self._policy.backoff_base_s * 2 ** (attempts - 1))
        return self._rng.uniform(0, ceiling)

    async def _attempt(self, entry: UrlEntry, trace: AttemptTrace, checker: Checker | None) -> FinalResponse:
        policy = self._policy
        headers, content = _headers_and_body(entry)
        inspect = checker is not None and checker.needs_body
        detailed = checker is not None or bool(policy.capture_headers)  # timings are read only then
        tracing = CURRENT_TRACE.set(trace)  # the lookups and connections of this attempt mark ``trace``
        trace.started = time.monotonic()
        try:
            async with asyncio.timeout(policy.request_timeout_s):
                redirects: list[Redirect] = []
                following: httpx.Request | None = None
                for _hop in range(policy.max_redirects + 1):
                    if detailed:
                        trace.hop()
                    if following is None:
                        hop = await self._wire.send(entry.method, entry.url, headers, content)
                    else:
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
                        return _final(hop, seen, size, redirects, inspector, judged=judged)
                    redirects.append(Redirect(hop.url, status))
                    following = redirect_request(hop.request(), hop)
                raise RedirectLimit(f"more than {policy.max_redirects} redirects")
        finally:
            CURRENT_TRACE.reset(tracing)
        raise AssertionError("unreachable")  # pragma: no cover  (mypy: timeout may swallow)

    def _inspector(self, headers: Mapping[str, str]) -> BodyInspector:
        return BodyInspector(
            self._policy.inspect_bytes,
            content_encoding=headers.get("content-encoding", ""),
            content_type=headers.get("content-type", ""),
        )


def _headers_and_body(entry: UrlEntry) -> tuple[Mapping[str, str], bytes | None]:
    """The entry's own headers and its body (``json``: compact, ``Content-Type`` unless given)."""
    if "json_body" not in entry.model_fields_set:
        return entry.headers, None
    headers = dict(entry.headers)
    if not any(k.lower() == "content-type" for k in headers):
        headers["Content-Type"] = "application/json"
    return headers, json.dumps(entry.json_body, separators=(",", ":")).encode()


def _final(
    hop: Hop,
    headers: Mapping[str, str],
    size: int,
    redirects: list[Redirect],
    inspector: BodyInspector | None,
    *,
    judged: bool,
) -> FinalResponse:
    status = hop.status_code
    return FinalResponse(
        status_code=status,
        size=size,
        # Read only where a retry may use it (``Fetcher.fetch``).
        retry_after_s=_retry_after_s(hop.headers) if status in RETRYABLE_STATUS else None,
        headers=headers,
        url=hop.url,
        extensions=hop.extensions() if judged else {},  # read only by ``judge``
        redirects=tuple(redirects),
        body=None if inspector is None else inspector.text(),
        body_error=None if inspector is None else inspector.error,
    )


def _retry_after_s(headers: Mapping[str, str]) -> float | None:
    """``Retry-After`` in seconds (delta or HTTP date), or ``None``."""
    value = headers.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
