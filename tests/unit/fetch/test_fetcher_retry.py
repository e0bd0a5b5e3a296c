"""The fetcher's attempt and retry logic, on an injected ``httpx.MockTransport``.

No sockets: the transport answers from a script and records when each request came,
so the tests see exactly how many attempts were made and how far apart.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from fanout.core.engine import Later
from fanout.core.requests import UrlEntry
from fanout.core.results import Outcome
from fanout.fetch.client import FanoutClient
from fanout.fetch.fetcher import RETRYABLE_STATUS, Fetcher, FetchPolicy, FetchProgress, FetchResult

pytestmark = pytest.mark.anyio

URL = "http://svc.test/x"
FAST = FetchPolicy(
    request_timeout_s=2.0,
    retries=2,
    follow_redirects=True,
    max_redirects=3,
    max_body_bytes=1_000,
    backoff_base_s=0.001,
    backoff_cap_s=0.004,
    min_attempt_s=0.2,
)


class Body(httpx.AsyncByteStream):
    """A response body streamed as a real transport's is (``content=`` would be pre-read)."""

    def __init__(self, data: bytes = b"ok") -> None:
        self.data = data

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self.data:
            yield self.data


def mock_client(handler: Callable[[httpx.Request], Any] | None = None) -> FanoutClient:
    """The run's client type over a ``MockTransport``: the fetcher sends on its transport."""

    def unused(request: httpx.Request) -> httpx.Response:
        raise AssertionError("no request expected")

    return FanoutClient(transport=httpx.MockTransport(handler or unused), user_agent="fanout-test")


def answer(status: int, body: bytes = b"ok", headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, headers=headers, stream=Body(body))


class Script:
    """A mock server: answers requests with ``respond(n, request)``; records each one."""

    def __init__(self, respond: Callable[[int, httpx.Request], httpx.Response | BaseException]) -> None:
        self.respond = respond
        self.requests: list[httpx.Request] = []
        self.times: list[float] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.times.append(asyncio.get_running_loop().time())
        self.requests.append(request)
        await request.aread()
        answer = self.respond(len(self.requests), request)
        if isinstance(answer, BaseException):
            raise answer
        return answer

    @property
    def calls(self) -> int:
        return len(self.requests)

    def gaps(self) -> list[float]:
        return [b - a for a, b in zip(self.times, self.times[1:], strict=False)]


def statuses(*codes: int, headers: dict[str, str] | None = None) -> Script:
    """Answers with ``codes`` in turn, then the last one forever."""
    return Script(lambda n, _: answer(codes[min(n, len(codes)) - 1], headers=headers))


async def fetch(
    script: Script,
    entry: UrlEntry | None = None,
    *,
    policy: FetchPolicy = FAST,
    budget_s: float = 10.0,
    rng: random.Random | None = None,
) -> tuple[FetchResult, FetchProgress]:
    progress = FetchProgress()
    async with mock_client(script) as client:
        fetcher = Fetcher(client, policy, rng=rng)
        deadline = asyncio.get_running_loop().time() + budget_s
        result = await fetcher.fetch(entry or UrlEntry(url=URL), deadline=deadline, progress=progress)
    return result, progress


def policy(**changes: Any) -> FetchPolicy:
    fields = {name: getattr(FAST, name) for name in FetchPolicy.__dataclass_fields__}
    return FetchPolicy(**(fields | changes))


# -- what is retried -------------------------------------------------------------------


@pytest.mark.parametrize("status", sorted(RETRYABLE_STATUS))
async def test_retryable_status_is_retried_until_the_limit(status: int) -> None:
    script = statuses(status)
    result, progress = await fetch(script)
    assert (result.outcome, result.status_code) == (Outcome.HTTP_ERROR, status)
    assert progress.attempts == script.calls == FAST.retries + 1


async def test_only_429_502_503_504_are_retryable() -> None:
    assert frozenset({429, 502, 503, 504}) == RETRYABLE_STATUS


@pytest.mark.parametrize("status", [400, 401, 403, 404, 408, 409, 500, 501, 505])
async def test_other_error_statuses_are_final(status: int) -> None:
    script = statuses(status)
    result, progress = await fetch(script)
    assert (result.outcome, result.status_code) == (Outcome.HTTP_ERROR, status)
    assert progress.attempts == script.calls == 1


async def test_a_retried_url_that_recovers_is_ok() -> None:
    script = statuses(503, 502, 200)
    result, progress = await fetch(script)
    assert (result.outcome, result.status_code, result.bytes) == (Outcome.OK, 200, 2)
    assert progress.attempts == script.calls == 3


async def test_retries_zero_means_one_attempt() -> None:
    script = statuses(503)
    _, progress = await fetch(script, policy=policy(retries=0))
    assert progress.attempts == script.calls == 1


async def test_connect_errors_are_retried() -> None:
    script = Script(lambda n, r: httpx.ConnectError("refused", request=r))
    result, progress = await fetch(script)
    assert result.outcome is Outcome.FAILED
    assert result.error is not None
    assert (result.error.type, result.error.message) == ("ConnectError", "refused")
    assert progress.attempts == script.calls == 3


async def test_a_connect_error_then_success_is_ok() -> None:
    script = Script(lambda n, r: httpx.ConnectError("refused", request=r) if n == 1 else answer(204, b""))
    result, progress = await fetch(script)
    assert (result.outcome, result.status_code, progress.attempts) == (Outcome.OK, 204, 2)


@pytest.mark.parametrize(
    ("error", "outcome"),
    [
        (httpx.ReadError, Outcome.FAILED),
        (httpx.RemoteProtocolError, Outcome.FAILED),
        (httpx.WriteError, Outcome.FAILED),
        (httpx.ReadTimeout, Outcome.TIMED_OUT),
    ],
)
async def test_errors_after_the_connection_are_not_retried(
    error: type[httpx.TransportError], outcome: Outcome
) -> None:
    script = Script(lambda n, r: error("boom", request=r))
    result, progress = await fetch(script)
    assert result.outcome is outcome
    assert result.error is not None
    assert result.error.type == error.__name__
    assert progress.attempts == script.calls == 1


@pytest.mark.parametrize("method", ["POST", "PATCH"])
async def test_non_idempotent_methods_are_not_retried_by_default(method: str) -> None:
    for script in (statuses(503), Script(lambda n, r: httpx.ConnectError("refused", request=r))):
        _, progress = await fetch(script, UrlEntry.model_validate({"url": URL, "method": method}))
        assert progress.attempts == script.calls == 1


@pytest.mark.parametrize("method", ["POST", "PATCH"])
async def test_non_idempotent_methods_are_retried_when_the_entry_says_so(method: str) -> None:
    script = statuses(503, 200)
    entry = UrlEntry.model_validate({"url": URL, "method": method, "json": {"a": 1}, "retry": True})
    result, progress = await fetch(script, entry)
    assert (result.outcome, progress.attempts) == (Outcome.OK, 2)
    assert [r.content for r in script.requests] == [b'{"a":1}', b'{"a":1}']  # the body is sent again


@pytest.mark.parametrize("method", ["GET", "HEAD", "PUT", "DELETE", "OPTIONS"])
async def test_idempotent_methods_are_retried(method: str) -> None:
    script = statuses(503, 200)
    _, progress = await fetch(script, UrlEntry.model_validate({"url": URL, "method": method}))
    assert progress.attempts == 2
    assert {r.method for r in script.requests} == {method}


async def test_an_entry_can_forbid_retries() -> None:
    script = statuses(503)
    _, progress = await fetch(script, UrlEntry.model_validate({"url": URL, "retry": False}))
    assert progress.attempts == 1


# -- when: backoff, Retry-After, the deadline -------------------------------------------


def test_full_jitter_backoff_is_uniform_up_to_a_capped_exponential_ceiling() -> None:
    p = policy(backoff_base_s=0.1, backoff_cap_s=1.0)
    fetcher = Fetcher(mock_client(), p, rng=random.Random(1234))
    reference = random.Random(1234)
    ceilings = [0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0]
    for attempts, ceiling in enumerate(ceilings, start=1):
        delay = fetcher._backoff(attempts, None)
        assert 0.0 <= delay <= ceiling
        assert delay == reference.uniform(0, ceiling)  # full jitter: uniform over [0, ceiling]


def test_full_jitter_spreads_over_the_whole_range() -> None:
    fetcher = Fetcher(mock_client(), policy(backoff_base_s=0.1, backoff_cap_s=5.0), rng=random.Random(7))
    delays = [fetcher._backoff(30, None) for _ in range(2_000)]  # 2**29 * 0.1 capped at 5 s
    assert max(delays) <= 5.0
    assert min(delays) < 0.25  # not "ceiling plus a little jitter"
    assert max(delays) > 4.75
    assert 2.2 < sum(delays) / len(delays) < 2.8


def test_retry_after_replaces_the_backoff() -> None:
    fetcher = Fetcher(mock_client(), FAST, rng=random.Random(0))
    assert fetcher._backoff(1, 3.0) == 3.0
    assert fetcher._backoff(5, 0.0) == 0.0


async def test_backoff_gaps_between_attempts_stay_under_the_ceiling() -> None:
    script = statuses(503)
    p = policy(retries=4, backoff_base_s=0.05, backoff_cap_s=0.1)
    _, progress = await fetch(script, policy=p, rng=random.Random(3))
    assert progress.attempts == 5
    assert all(0 <= gap < 0.1 + 0.5 for gap in script.gaps())  # ceiling plus scheduling slack


async def test_retry_after_seconds_are_honoured() -> None:
    script = statuses(503, 200, headers={"Retry-After": "1"})
    result, progress = await fetch(script)
    assert (result.outcome, progress.attempts) == (Outcome.OK, 2)
    assert script.gaps()[0] >= 1.0


async def test_retry_after_http_date_is_honoured() -> None:
    when = datetime.now(UTC) + timedelta(seconds=2)
    script = statuses(429, 200, headers={"Retry-After": format_datetime(when, usegmt=True)})
    result, progress = await fetch(script)
    assert (result.outcome, progress.attempts) == (Outcome.OK, 2)
    assert script.gaps()[0] >= 0.9  # the date has whole seconds: 1 to 2 s from now


async def test_retry_after_beyond_the_deadline_returns_the_answer_without_sleeping() -> None:
    script = statuses(503, headers={"Retry-After": "30"})
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    result, progress = await fetch(script, budget_s=5.0)
    assert (result.outcome, result.status_code, progress.attempts) == (Outcome.HTTP_ERROR, 503, 1)
    assert loop.time() - t0 < 1.0


async def test_no_retry_without_time_for_another_attempt() -> None:
    script = statuses(503)
    # The backoff is ~0, but the minimum attempt time (0.2 s) does not fit in 0.1 s.
    result, progress = await fetch(script, budget_s=0.1)
    assert (result.status_code, progress.attempts) == (503, 1)


async def test_retries_continue_while_there_is_time() -> None:
    script = statuses(503)
    _, progress = await fetch(script, budget_s=0.5, policy=policy(min_attempt_s=0.05, retries=5))
    assert progress.attempts == 6


async def test_connect_error_is_not_retried_past_the_deadline() -> None:
    script = Script(lambda n, r: httpx.ConnectError("refused", request=r))
    _, progress = await fetch(script, budget_s=0.1)
    assert progress.attempts == 1


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("0", 0.0), ("7", 7.0), (" 12 ", 12.0), ("soon", None), ("-3", None), ("1.5", None)],
)
async def test_retry_after_values(value: str, seconds: float | None) -> None:
    script = statuses(503, 200, headers={"Retry-After": value})
    fetcher_delay: list[float | None] = []

    class Spy(Fetcher):
        def _backoff(self, attempts: int, retry_after: float | None) -> float:
            fetcher_delay.append(retry_after)
            return 0.0

    progress = FetchProgress()
    async with mock_client(script) as client:
        deadline = asyncio.get_running_loop().time() + 5
        await Spy(client, FAST).fetch(UrlEntry(url=URL), deadline=deadline, progress=progress)
    assert fetcher_delay == [seconds]


async def test_retry_after_date_in_the_past_means_now() -> None:
    past = format_datetime(datetime.now(UTC) - timedelta(hours=1), usegmt=True)
    script = statuses(503, 200, headers={"Retry-After": past})
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    result, _ = await fetch(script)
    assert result.outcome is Outcome.OK
    assert loop.time() - t0 < 1.0


# -- cancellation and the whole-attempt timeout ------------------------------------------


async def test_cancellation_is_never_retried_nor_reported() -> None:
    started = asyncio.Event()

    async def hang(request: httpx.Request) -> httpx.Response:
        started.set()
        await asyncio.sleep(30)
        raise AssertionError("not cancelled")

    progress = FetchProgress()
    async with mock_client(hang) as client:
        fetcher = Fetcher(client, FAST)
        deadline = asyncio.get_running_loop().time() + 60
        task = asyncio.create_task(fetcher.fetch(UrlEntry(url=URL), deadline=deadline, progress=progress))
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert progress.attempts == 1


class Trickle(httpx.AsyncByteStream):
    """A body that never ends: one byte every ``interval`` seconds."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while True:
            await asyncio.sleep(self.interval)
            yield b"."

    async def aclose(self) -> None:
        self.closed = True


async def test_request_timeout_caps_the_whole_attempt_even_when_bytes_keep_coming() -> None:
    body = Trickle(0.02)
    script = Script(lambda n, r: httpx.Response(200, stream=body))
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    result, progress = await fetch(script, policy=policy(request_timeout_s=0.3, max_body_bytes=10**9))
    elapsed = loop.time() - t0
    assert result.outcome is Outcome.TIMED_OUT
    assert result.error is not None
    assert result.error.type == "request_timeout"
    assert progress.attempts == 1
    # uvloop's clock (libuv's) counts whole milliseconds: the timer may read up to 1 ms early.
    assert 0.3 - 0.001 <= elapsed < 0.3 + 1.0
    assert body.closed  # the response was closed, not left streaming


async def test_request_timeout_caps_every_redirect_hop_together() -> None:
    async def slow_redirects(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.15)
        return answer(302, b"", {"Location": "/next"})

    progress = FetchProgress()
    async with mock_client(slow_redirects) as client:
        fetcher = Fetcher(client, policy(request_timeout_s=0.4, max_redirects=10))
        deadline = asyncio.get_running_loop().time() + 10
        result = await fetcher.fetch(UrlEntry(url=URL), deadline=deadline, progress=progress)
    assert result.outcome is Outcome.TIMED_OUT


# -- body and redirects ------------------------------------------------------------------


async def test_body_over_the_cap_fails_and_is_not_retried() -> None:
    script = Script(lambda n, r: answer(200, b"x" * 1_001))
    result, progress = await fetch(script)
    assert result.outcome is Outcome.FAILED
    assert result.error is not None
    assert result.error.type == "response_too_large"
    assert progress.attempts == 1


async def test_body_size_is_counted_as_sent_not_decoded() -> None:
    import gzip

    packed = gzip.compress(b"\0" * 100_000)
    script = Script(lambda n, r: answer(200, packed, {"Content-Encoding": "gzip"}))
    result, _ = await fetch(script)
    assert (result.outcome, result.bytes) == (Outcome.OK, len(packed))


async def test_redirects_are_followed_up_to_the_limit() -> None:
    script = Script(lambda n, r: answer(302, b"", {"Location": f"/hop{n}"}) if n <= 3 else answer(200))
    result, progress = await fetch(script)  # max_redirects=3
    assert (result.outcome, result.status_code, progress.attempts) == (Outcome.OK, 200, 1)
    assert [r.url.path for r in script.requests] == ["/x", "/hop1", "/hop2", "/hop3"]

    loop = Script(lambda n, r: answer(302, b"", {"Location": "/x"}))
    result, progress = await fetch(loop)
    assert result.outcome is Outcome.FAILED
    assert result.error is not None
    assert result.error.type == "too_many_redirects"
    assert loop.calls == 4  # the request and 3 redirects
    assert progress.attempts == 1


async def test_redirects_are_reported_when_not_followed() -> None:
    script = Script(lambda n, r: answer(301, b"", {"Location": "/elsewhere"}))
    result, _ = await fetch(script, policy=policy(follow_redirects=False))
    assert (result.outcome, result.status_code) == (Outcome.OK, 301)
    assert script.calls == 1


async def test_json_body_method_and_headers_are_sent() -> None:
    script = statuses(200)
    entry = UrlEntry.model_validate(
        {"url": URL, "method": "POST", "headers": {"X-Sig": "abc"}, "json": {"event": "deploy", "n": [1]}}
    )
    await fetch(script, entry)
    (request,) = script.requests
    assert request.method == "POST"
    assert request.headers["X-Sig"] == "abc"
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.content) == {"event": "deploy", "n": [1]}


async def test_an_explicit_content_type_is_kept_and_no_json_means_no_body() -> None:
    script = statuses(200)
    entry = UrlEntry.model_validate(
        {
            "url": URL,
            "method": "PUT",
            "headers": {"content-type": "application/merge-patch+json"},
            "json": None,
        }
    )
    await fetch(script, entry)
    await fetch(script, UrlEntry(url=URL))
    with_json, without = script.requests
    assert with_json.headers["content-type"] == "application/merge-patch+json"
    assert with_json.content == b"null"
    assert without.content == b""
    assert "content-type" not in without.headers


# -- waiting without a worker ----------------------------------------------------------


async def test_a_retry_s_own_backoff_is_slept_in_the_step_not_answered_later() -> None:
    script = statuses(503, 200)
    progress = FetchProgress()
    async with mock_client(script) as client:
        fetcher = Fetcher(client, policy(backoff_base_s=0.05, backoff_cap_s=0.05), rng=random.Random(7))
        deadline = asyncio.get_running_loop().time() + 10
        result = await fetcher.step(UrlEntry(url=URL), deadline=deadline, progress=progress)
    assert isinstance(result, FetchResult)
    assert (result.outcome, progress.attempts, progress.throttled, script.calls) == (Outcome.OK, 2, 0, 2)


async def test_step_answers_later_for_a_paused_host_s_turn_and_counts_the_wait_once() -> None:
    script = statuses(429, 200, headers={"Retry-After": "1"})
    progress = FetchProgress()
    async with mock_client(script) as client:
        fetcher = Fetcher(client, FAST)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        first = await fetcher.step(UrlEntry(url=URL), deadline=deadline, progress=progress)
        assert isinstance(first, Later)
        assert first.at - loop.time() > 0.9  # the host's pause, not a backoff of its own
        assert (progress.throttled, progress.retry_after_s) == (1, 1.0)
        early = await fetcher.step(UrlEntry(url=URL), deadline=deadline, progress=progress)
        assert isinstance(early, Later)  # run again before its turn: it waits again, uncounted
        assert early.at == first.at
        assert (progress.throttled, script.calls) == (1, 1)
        await asyncio.sleep(max(0.0, early.at - loop.time()))
        last = await fetcher.step(UrlEntry(url=URL), deadline=deadline, progress=progress)
    assert isinstance(last, FetchResult)
    assert (last.outcome, progress.attempts, progress.throttled, script.calls) == (Outcome.OK, 2, 1, 2)
