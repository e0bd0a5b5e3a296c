"""One attempt at an entry: its hops under one timeout, redirects followed, the last one drained.

- The whole attempt (DNS, connect, headers, every redirect hop, the whole body) runs under one
  ``asyncio.timeout(request_timeout_s)``: httpx's per-read timeout alone never fires against a
  server that trickles a byte just inside it.
- Each body is counted on the wire (never decompressed) and capped; each redirect is a new
  request (``redirect_request``, RFC 9110) through the same wire, egress-checked like the first.
- A redirect hop waits for its host's turn where it is (its attempt under way); the time waited
  is added to the attempt's timeout, which is not the host's to use up.
- The facts a result reports (timings, the header table, the body's first bytes for the
  checks) are gathered only for an entry that reports them (an ``expect``, ``capture_headers``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Hashable, Mapping

import httpx

from fanout.core.checks import Checker
from fanout.core.facts import Redirect
from fanout.core.requests import UrlEntry
from fanout.errors import RedirectLimit
from fanout.fetch.body import BodyInspector
from fanout.fetch.pacing import Pacer, retry_after_s
from fanout.fetch.policy import RETRYABLE_STATUS, FetchPolicy, FetchProgress
from fanout.fetch.redirects import redirect_request, url_host_key
from fanout.fetch.trace import CURRENT_TRACE, AttemptTrace
from fanout.fetch.verdict import FinalResponse, final_response, plain_headers
from fanout.fetch.wire import REDIRECT_STATUS, Wire, signed_headers_and_body


class Attempts:
    """Makes attempts over the fetcher's wire, with its policy and its pacer (for hops' turns)."""

    __slots__ = ("_pacer", "_policy", "_wire")

    def __init__(self, wire: Wire, policy: FetchPolicy, pacer: Pacer) -> None:
        self._wire = wire
        self._policy = policy
        self._pacer = pacer

    async def make(
        self,
        entry: UrlEntry,
        trace: AttemptTrace,
        checker: Checker | None,
        progress: FetchProgress,
        not_after: float,
        webhook_id: str | None = None,
    ) -> FinalResponse:
        """One attempt at ``entry``, marked in ``trace``: its final response, drained."""
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
                        if waited := await self._hop_turn(url_host_key(url), not_after, progress):
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

    async def _hop_turn(self, host: Hashable, not_after: float, progress: FetchProgress) -> float:
        """Wait for a redirect hop's turn at ``host`` (``HostPaused`` past ``not_after``); the
        seconds waited."""
        waited = await self._pacer.waited_turn(host, not_after)
        if waited:
            progress.throttled += 1
        return waited

    def _inspector(self, headers: Mapping[str, str]) -> BodyInspector:
        return BodyInspector(
            self._policy.inspect_bytes,
            content_encoding=headers.get("content-encoding", ""),
            content_type=headers.get("content-type", ""),
        )
