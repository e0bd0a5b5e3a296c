"""Retries against a real server (point 6): what is retried, when, and what never is."""

from __future__ import annotations

import asyncio

import pytest

from tests.support import SLACK_S, Fanout, unique

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("status", [429, 502, 503, 504])
async def test_retryable_status_recovers_on_the_next_attempt(fanout: Fanout, status: int) -> None:
    key = unique("recover")
    doc = await fanout.run([fanout.url(f"/flaky/{key}?fail=1&status={status}")], retries=2)
    (result,) = doc["results"]
    assert (result["outcome"], result["status_code"], result["attempts"]) == ("ok", 200, 2)
    assert fanout.hits(f"/flaky/{key}") == 2


@pytest.mark.parametrize("status", [400, 404, 500, 501])
async def test_other_statuses_are_not_retried(fanout: Fanout, status: int) -> None:
    key = unique("final")
    doc = await fanout.run([fanout.url(f"/flaky/{key}?fail=1&status={status}")], retries=3)
    (result,) = doc["results"]
    assert (result["outcome"], result["status_code"], result["attempts"]) == ("http_error", status, 1)
    assert fanout.hits(f"/flaky/{key}") == 1


async def test_retries_stop_at_the_limit(fanout: Fanout) -> None:
    key = unique("limit")
    doc = await fanout.run([fanout.url(f"/flaky/{key}?fail=10&status=502")], retries=3)
    (result,) = doc["results"]
    assert (result["outcome"], result["status_code"], result["attempts"]) == ("http_error", 502, 4)
    assert fanout.hits(f"/flaky/{key}") == 4


async def test_retry_after_is_honoured(fanout: Fanout) -> None:
    key = unique("after")
    doc = await fanout.run([fanout.url(f"/flaky/{key}?fail=1&retry_after=1")], retries=1)
    (result,) = doc["results"]
    assert (result["outcome"], result["attempts"]) == ("ok", 2)
    assert 1000 <= result["elapsed_ms"] < (1 + SLACK_S) * 1000


async def test_retry_after_beyond_the_deadline_returns_the_answer_at_once(fanout: Fanout) -> None:
    key = unique("toolate")
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    doc = await fanout.run([fanout.url(f"/flaky/{key}?fail=1&retry_after=30")], budget_s=3.0, retries=2)
    elapsed = loop.time() - t0
    (result,) = doc["results"]
    # Not slept until the deadline (which would report "cancelled"), not retried early.
    assert (result["outcome"], result["status_code"], result["attempts"]) == ("http_error", 503, 1)
    assert not doc["deadline_reached"]
    assert elapsed < SLACK_S
    assert fanout.hits(f"/flaky/{key}") == 1


async def test_no_retry_when_too_little_time_is_left_for_another_attempt(fanout: Fanout) -> None:
    # The first attempt takes 0.8 s of a 1.0 s budget: no room for another one
    # (backoff + the minimum attempt time of 0.2 s), so its answer is the result.
    doc = await fanout.run([fanout.url("/status/503?delay_ms=800")], budget_s=1.0, retries=3)
    (result,) = doc["results"]
    assert (result["outcome"], result["status_code"], result["attempts"]) == ("http_error", 503, 1)
    assert not doc["deadline_reached"]
    assert fanout.hits("/status/503") == 1


@pytest.mark.parametrize("method", ["POST", "PATCH"])
async def test_non_idempotent_methods_are_not_retried_by_default(fanout: Fanout, method: str) -> None:
    key = unique(method)
    entry = {"url": fanout.url(f"/flaky/{key}?fail=1"), "method": method, "json": {"n": 1}}
    doc = await fanout.run([entry], retries=2)
    (result,) = doc["results"]
    assert (result["outcome"], result["status_code"], result["attempts"]) == ("http_error", 503, 1)
    assert fanout.hits(f"/flaky/{key}") == 1


@pytest.mark.parametrize("method", ["POST", "PATCH"])
async def test_non_idempotent_methods_are_retried_when_the_entry_allows(fanout: Fanout, method: str) -> None:
    key = unique(method)
    entry = {"url": fanout.url(f"/flaky/{key}?fail=1"), "method": method, "json": {"n": 1}, "retry": True}
    doc = await fanout.run([entry], retries=2)
    (result,) = doc["results"]
    assert (result["outcome"], result["status_code"], result["attempts"]) == ("ok", 200, 2)
    assert fanout.hits(f"/flaky/{key}") == 2


async def test_idempotent_method_is_not_retried_when_the_entry_forbids(fanout: Fanout) -> None:
    key = unique("noretry")
    entry = {"url": fanout.url(f"/flaky/{key}?fail=1"), "method": "PUT", "retry": False}
    doc = await fanout.run([entry], retries=2)
    (result,) = doc["results"]
    assert (result["outcome"], result["attempts"]) == ("http_error", 1)


async def test_a_timeout_is_not_retried(fanout: Fanout) -> None:
    doc = await fanout.run([fanout.url("/hang")], request_timeout_s=0.3, retries=3)
    (result,) = doc["results"]
    assert (result["outcome"], result["attempts"]) == ("timed_out", 1)
    assert fanout.hits("/hang") == 1
