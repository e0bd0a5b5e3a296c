"""Fetch one URL entry with httpx: bounded attempts, safe retries, one outcome.

- Each attempt (DNS, connect, headers, every redirect hop, the whole body) runs under one
  ``asyncio.timeout(request_timeout_s)``: httpx's per-read timeout alone never fires
  against a server that trickles a byte just inside it.
- The body is counted on the wire (``aiter_raw``, never decompressed) and capped.
- Redirects are followed here, hop by hop, so each hop's body is capped too; each hop
  is a new request (``redirect_request``, RFC 9110) sent through the same transport, so
  the egress checks run on every hop.
- Requests go straight to the transport (``httpx.AsyncBaseTransport.handle_async_request``):
  no auth, no cookie jar, no hooks. The client's default headers are sent.
- Retries: connect errors and 429/502/503/504 only (of DNS failures, only those that
  may pass, such as SERVFAIL; never a lookup that used up the attempt); full-jitter exponential backoff;
  ``Retry-After`` honoured; none when the run deadline leaves no room for another
  attempt; POST/PATCH only when the entry says ``"retry": true``.
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
from fanout.errors import DnsError, DnsTimeout, EgressBlocked, FetchError, RedirectLimit, ResponseTooLarge
from fanout.fetch.body import BodyInspector
from fanout.fetch.client import FanoutClient
from fanout.fetch.egress.rules import URL_INVALID
from fanout.fetch.redirects import redirect_request
from fanout.fetch.trace import CURRENT_TRACE, AttemptTrace
from fanout.fetch.verdict import FinalResponse, judge, plain_headers

RETRYABLE_STATUS = frozenset({429, 502, 503, 504})
RETRYABLE_ERRORS: tuple[type[Exception], ...] = (httpx.ConnectError, httpx.ConnectTimeout)


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
        self._send = transport.handle_async_request
        self._headers = client.headers
        self._policy = policy
        self._checkers = checkers or Checkers(None)
        self._rng = rng or random.Random()

    async def fetch(self, entry: UrlEntry, *, deadline: float, progress: FetchProgress) -> FetchResult:
        """Fetch ``entry``, retrying within ``deadline`` (event-loop time)."""
        loop = asyncio.get_running_loop()
        policy = self._policy
        checker = self._checkers.for_entry(entry.expect)
        while True:
            progress.attempts += 1
            retry_after: float | None = None
            last: FinalResponse | None = None
            trace = AttemptTrace()
            try:
                response = await self._attempt(entry, trace, checker)
            except TimeoutError:
                return FetchResult(Outcome.TIMED_OUT, error=self._timeout_error(trace))
            except EgressBlocked as exc:
                return FetchResult(Outcome.BLOCKED, error=ErrorInfo(exc.reason, str(exc)))
            except DnsTimeout as exc:  # the lookup had the whole attempt's time: never again
                return FetchResult(Outcome.TIMED_OUT, error=ErrorInfo(exc.type, str(exc)))
            except DnsError as exc:
                result = FetchResult(Outcome.FAILED, error=ErrorInfo(exc.type, str(exc)))
                if not (exc.temporary and self._may_retry(entry, exc, progress.attempts)):
                    return result
            except FetchError as exc:
                return FetchResult(Outcome.FAILED, error=ErrorInfo(exc.type, str(exc)))
            except httpx.TimeoutException as exc:
                result = FetchResult(Outcome.TIMED_OUT, error=_describe(exc))
                if not self._may_retry(entry, exc, progress.attempts):
                    return result
            except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as exc:
                result = FetchResult(Outcome.FAILED, error=_describe(exc))
                if not self._may_retry(entry, exc, progress.attempts):
                    return result
            else:
                if not self._may_retry(entry, response.status_code, progress.attempts):
                    return self._final_result(response, trace, checker)
                last, retry_after = response, response.retry_after_s
            delay = self._backoff(progress.attempts, retry_after)
            if loop.time() + delay + min(policy.min_attempt_s, policy.request_timeout_s) > deadline:
                return (
                    result if last is None else self._final_result(last, trace, checker)
                )  # no room to retry
            await asyncio.sleep(delay)

    def _final_result(
        self, response: FinalResponse, trace: AttemptTrace, checker: Checker | None
    ) -> FetchResult:
        outcome, details = judge(response, trace, checker, self._policy.capture_headers)
        return FetchResult(outcome, response.status_code, response.size, details=details)

    def _timeout_error(self, trace: AttemptTrace) -> ErrorInfo:
        """The attempt ran out of ``request_timeout_s``: while waiting for DNS, or later."""
        limit = self._policy.request_timeout_s
        if trace.resolving is not None:
            return ErrorInfo(DnsTimeout.type, f"no DNS answer for {trace.resolving!r} within {limit:g} s")
        return ErrorInfo("request_timeout", f"no complete response within {limit:g} s")

    def _may_retry(self, entry: UrlEntry, failure: int | Exception, attempts: int) -> bool:
        if attempts > self._policy.retries or not entry.may_retry:
            return False
        if isinstance(failure, int):
            return failure in RETRYABLE_STATUS
        if isinstance(failure, DnsError):  # "no such name": asking again will not help
            return failure.temporary
        return isinstance(failure, RETRYABLE_ERRORS)

    def _backoff(self, attempts: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return retry_after
        ceiling = min(self._policy.backoff_cap_s, self._policy.backoff_base_s * 2 ** (attempts - 1))
        return self._rng.uniform(0, ceiling)

    async def _attempt(self, entry: UrlEntry, trace: AttemptTrace, checker: Checker | None) -> FinalResponse:
        policy = self._policy
        request = self._build_request(entry)
        inspect = checker is not None and checker.needs_body
        tracing = CURRENT_TRACE.set(trace)  # the lookups and connections of this attempt mark ``trace``
        trace.started = time.monotonic()
        try:
            async with asyncio.timeout(policy.request_timeout_s):
                redirects: list[Redirect] = []
                for _hop in range(policy.max_redirects + 1):
                    trace.hop()
                    response = await self._send(request)
                    headers_at = trace.answered()
                    final = not (policy.follow_redirects and response.has_redirect_location)
                    judged = final and (checker is not None or bool(policy.capture_headers))
                    headers = plain_headers(response.headers) if judged else response.headers
                    inspector = self._inspector(headers) if final and inspect else None
                    try:
                        size = await self._drain(response, inspector)
                    finally:
                        await response.aclose()
                    trace.drained(headers_at)
                    if final:
                        return _final(response, headers, request.url, size, redirects, inspector)
                    redirects.append(Redirect(str(request.url), response.status_code))
                    request = redirect_request(request, response)
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

    def _build_request(self, entry: UrlEntry) -> httpx.Request:
        headers = dict(entry.headers)
        content: bytes | None = None
        if "json_body" in entry.model_fields_set:
            content = json.dumps(entry.json_body, separators=(",", ":")).encode()
            if not any(k.lower() == "content-type" for k in headers):
                headers["Content-Type"] = "application/json"
        merged = self._headers  # httpx.Request copies it
        if headers:
            merged = merged.copy()
            merged.update(headers)
        try:
            return httpx.Request(entry.method, entry.url, headers=merged, content=content)
        except httpx.InvalidURL as exc:  # a URL the egress guard cannot even parse is refused
            raise EgressBlocked(URL_INVALID, f"not a valid URL: {exc}") from exc

    async def _drain(self, response: httpx.Response, inspector: BodyInspector | None) -> int:
        """Read the body, counting wire bytes, up to the cap; ``inspector`` keeps its first part."""
        size = 0
        limit = self._policy.max_body_bytes
        async for chunk in response.aiter_raw():
            size += len(chunk)
            if size > limit:
                raise ResponseTooLarge(f"body larger than max_body_bytes={limit}")
            if inspector is not None and not inspector.full:
                inspector.feed(chunk)
        return size


def _final(
    response: httpx.Response,
    headers: Mapping[str, str],
    url: httpx.URL,
    size: int,
    redirects: list[Redirect],
    inspector: BodyInspector | None,
) -> FinalResponse:
    return FinalResponse(
        status_code=response.status_code,
        size=size,
        retry_after_s=_retry_after_s(response),
        headers=headers,
        url=url,
        extensions=response.extensions,
        redirects=tuple(redirects),
        body=None if inspector is None else inspector.text(),
        body_error=None if inspector is None else inspector.error,
    )


def _describe(exc: Exception) -> ErrorInfo:
    return ErrorInfo(type(exc).__name__, str(exc) or type(exc).__name__)


def _retry_after_s(response: httpx.Response) -> float | None:
    """``Retry-After`` in seconds (delta or HTTP date), or ``None``."""
    value = response.headers.get("retry-after")
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
