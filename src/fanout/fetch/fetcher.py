"""Fetch one URL entry with httpx: bounded attempts, safe retries, one outcome.

- Each attempt (``attempt.Attempts``: its hops under one timeout, redirects followed, bodies
  counted on the wire and capped) goes through a ``wire.Wire`` (the aiohttp transport's own,
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
- Waiting without a worker: ``step`` answers ``Later`` when the next attempt must wait for its
  host's turn (a pause, a rate), and the engine parks the URL meanwhile: a paused host's retries
  do not hold the workers other hosts' URLs need. A retry's own backoff (or the ``Retry-After``
  of a 502 or 504, which pauses no host) is slept in the worker, as the URL's retry loop.
  ``fetch`` waits for turns in place instead.
- ``CancelledError`` is never caught: the engine reports a cancelled URL itself.

What a fetch is given and gives back (``FetchPolicy``, ``FetchProgress``, ``FetchResult``) lives in
``fetch.policy``; a signed entry's headers are built by ``wire.signed_headers_and_body``.
"""

from __future__ import annotations

import asyncio
import functools
import random
from collections.abc import Hashable

import httpx

from fanout.core.checks import Checker, Checkers
from fanout.core.engine import Later
from fanout.core.requests import UrlEntry
from fanout.core.results import ErrorInfo, Outcome
from fanout.core.urls import host_key
from fanout.fetch.attempt import Attempts
from fanout.fetch.client import FanoutClient
from fanout.fetch.failures import FAILURES, classify
from fanout.fetch.pacing import PAUSING_STATUS, HostPaused, Pacer
from fanout.fetch.policy import RETRYABLE_STATUS, FetchPolicy, FetchProgress, FetchResult
from fanout.fetch.trace import AttemptTrace
from fanout.fetch.transports.aiohttp import FanoutAiohttpTransport
from fanout.fetch.transports.aiohttp_wire import AiohttpWire
from fanout.fetch.verdict import FinalResponse, judge
from fanout.fetch.wire import HttpxWire, Wire

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
        self._attempts = Attempts(self._wire, policy, self._pacer)

    async def fetch(
        self,
        entry: UrlEntry,
        *,
        deadline: float,
        progress: FetchProgress,
        host: Hashable | None = None,
        webhook_id: str | None = None,
    ) -> FetchResult:
        """Fetch ``entry`` to its result: ``step`` after ``step``, waiting out each ``Later`` here
        (for a caller with no engine to park the fetch meanwhile)."""
        loop = asyncio.get_running_loop()
        step = functools.partial(
            self.step, entry, deadline=deadline, progress=progress, host=host, webhook_id=webhook_id
        )
        answer = await step()
        while isinstance(answer, Later):  # each a turn at or before the deadline's last useful one
            await asyncio.sleep(max(0.0, answer.at - loop.time()))
            answer = await step()
        return answer

    async def step(
        self,
        entry: UrlEntry,
        *,
        deadline: float,
        progress: FetchProgress,
        host: Hashable | None = None,
        webhook_id: str | None = None,
    ) -> FetchResult | Later:
        """Fetch ``entry``: attempts until one is final, retrying within ``deadline`` (event-loop
        time); or, when the next attempt must wait for its host's turn, ``Later``: the loop time
        to call again, ``progress`` keeping where it was. A signed entry
        (``entry.sign``, its secrets resolved) is signed anew on each attempt over the exact bytes
        sent, with ``webhook_id`` on every attempt.

        ``host`` is the entry's ``host_key`` when the caller has it (else worked out when needed).
        A failed attempt is classified by ``FAILURE_KINDS`` (its outcome, its error, whether
        another attempt may help); anything else it raises, ``CancelledError`` first, goes up as is.
        """
        checker = self._checkers.for_entry(entry.expect)
        not_after = deadline - min(self._policy.min_attempt_s, self._policy.request_timeout_s)
        last, progress.last = progress.last, None
        while True:
            taken, progress.turn = progress.turn, None
            if taken is not None or not self._pacer.idle:
                host = host_key(entry.url) if host is None else host
                waiting = self._turn(host, not_after, progress, taken, last, checker)
                if waiting is not None:
                    return waiting
            progress.attempts += 1
            trace = AttemptTrace()
            response: FinalResponse | None = None
            try:
                response = await self._attempts.make(entry, trace, checker, progress, not_after, webhook_id)
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
            may_retry = retryable and self._may_retry(entry, progress.attempts)
            again = self._retry_at(progress.attempts, response, deadline) if may_retry else None
            if again is None:
                return self._as_result(last, checker, None)
            backoff = again - asyncio.get_running_loop().time()
            if backoff > 0:  # its own backoff, in its worker (a host's pause is the turn's, above)
                await asyncio.sleep(backoff)

    def _turn(
        self,
        host: Hashable,
        not_after: float,
        progress: FetchProgress,
        taken: float | HostPaused | None,
        last: tuple[FinalResponse, AttemptTrace] | FetchResult | None,
        checker: Checker | None,
    ) -> FetchResult | Later | None:
        """None when the next attempt may go now; ``Later`` when its host's turn is to come (waited
        for without a worker, ``progress`` keeping ``last``); the result it ends with when the turn
        comes too late (what it has stands)."""
        try:
            if isinstance(taken, HostPaused):
                raise taken
            at = self._pacer.hold(host, not_after, taken)
        except HostPaused as paused:
            return self._as_result(last, checker, paused)
        if at is None:
            return None
        self._waits(progress)
        progress.turn, progress.last = at, last
        return Later(at)

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
            self._waits(progress)
        return at

    @staticmethod
    def _waits(progress: FetchProgress) -> None:
        """The next attempt waits for its host's turn: counted once (``throttled``) per attempt."""
        attempt = progress.attempts + 1
        if progress.waited_for != attempt:
            progress.waited_for = attempt
            progress.throttled += 1

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

    def _retry_at(self, attempts: int, response: FinalResponse | None, deadline: float) -> float | None:
        """The loop time the next attempt may start: after its backoff (now when its host asked
        for a pause: the attempt then waits for the host's turn); None when the run's deadline
        leaves no room for the wait and a useful attempt after it."""
        policy = self._policy
        told = None if response is None else response.retry_after_s
        delay = self._backoff(attempts, told)
        now = asyncio.get_running_loop().time()
        if delay + min(policy.min_attempt_s, policy.request_timeout_s) > deadline - now:
            return None
        if told is not None and response is not None and response.status_code in PAUSING_STATUS:
            return now  # the host is paused for that long: the next attempt waits for its turn
        return now + delay

    def _backoff(self, attempts: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return retry_after
        ceiling = min(self._policy.backoff_cap_s, self._policy.backoff_base_s * 2 ** (attempts - 1))
        return self._rng.uniform(0, ceiling)
