"""The fetcher's classification of a failed attempt (``fetch.failures``), row by row, and what it
leaves alone."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from fanout.core.requests import UrlEntry
from fanout.core.results import ErrorInfo, Outcome
from fanout.errors import DnsError, DnsTimeout, EgressBlocked, RedirectLimit, ResponseTooLarge
from fanout.fetch.client import FanoutClient
from fanout.fetch.failures import FAILURES, classify
from fanout.fetch.fetcher import Fetcher, FetchPolicy, FetchProgress
from fanout.fetch.trace import AttemptTrace

REQUEST = httpx.Request("GET", "http://svc.test/x")

CASES = [
    # (what the attempt raised, outcome, error type, may another attempt help)
    (TimeoutError(), Outcome.TIMED_OUT, "request_timeout", False),
    (
        EgressBlocked("address_blocked:private", "10.0.0.1 is private"),
        Outcome.BLOCKED,
        "address_blocked:private",
        False,
    ),
    (DnsTimeout("no answer"), Outcome.TIMED_OUT, "DNSTimeout", False),
    (DnsError("SERVFAIL", temporary=True), Outcome.FAILED, "DNSError", True),
    (DnsError("no such name"), Outcome.FAILED, "DNSError", False),
    (ResponseTooLarge("too big"), Outcome.FAILED, "response_too_large", False),
    (RedirectLimit("too many"), Outcome.FAILED, "too_many_redirects", False),
    (httpx.ConnectTimeout("slow", request=REQUEST), Outcome.TIMED_OUT, "ConnectTimeout", True),
    (httpx.ReadTimeout("slow", request=REQUEST), Outcome.TIMED_OUT, "ReadTimeout", False),
    (httpx.ConnectError("refused", request=REQUEST), Outcome.FAILED, "ConnectError", True),
    (httpx.RemoteProtocolError("bad", request=REQUEST), Outcome.FAILED, "RemoteProtocolError", False),
    (httpx.ReadError("reset", request=REQUEST), Outcome.FAILED, "ReadError", False),
    (httpx.InvalidURL("no"), Outcome.FAILED, "InvalidURL", False),
    (httpx.StreamConsumed(), Outcome.FAILED, "StreamConsumed", False),
]


@pytest.mark.parametrize(("exc", "outcome", "error_type", "retryable"), CASES, ids=lambda v: repr(v)[:40])
def test_each_failure_has_its_outcome_error_and_retry_rule(
    exc: Exception, outcome: Outcome, error_type: str, retryable: bool
) -> None:
    assert isinstance(exc, FAILURES)
    kind = classify(exc)
    error = kind.describe(exc, AttemptTrace(), 2.0)
    assert (kind.outcome, error.type, kind.retryable(exc)) == (outcome, error_type, retryable)
    assert error.message


def test_an_attempt_that_timed_out_waiting_for_dns_says_so() -> None:
    trace = AttemptTrace(resolving="slow.test")
    error = classify(TimeoutError()).describe(TimeoutError(), trace, 1.5)
    assert error == ErrorInfo("DNSTimeout", "no DNS answer for 'slow.test' within 1.5 s")


def test_cancellation_and_programming_errors_are_not_failures() -> None:
    assert not issubclass(asyncio.CancelledError, FAILURES)
    assert not isinstance(RuntimeError("bug"), FAILURES)
    assert not isinstance(KeyError("bug"), FAILURES)


@pytest.mark.anyio
async def test_an_error_that_is_not_a_fetch_failure_goes_up_as_is() -> None:
    def broken(request: httpx.Request) -> httpx.Response:
        raise RuntimeError("a bug, not a fetch failure")

    progress = FetchProgress()
    policy = FetchPolicy(
        request_timeout_s=2.0, retries=2, follow_redirects=True, max_redirects=3, max_body_bytes=1_000
    )
    async with FanoutClient(transport=httpx.MockTransport(broken), user_agent="fanout-test") as client:
        fetcher = Fetcher(client, policy)
        deadline = asyncio.get_running_loop().time() + 10
        with pytest.raises(RuntimeError, match="a bug"):
            await fetcher.fetch(UrlEntry(url="http://svc.test/x"), deadline=deadline, progress=progress)
    assert progress.attempts == 1
