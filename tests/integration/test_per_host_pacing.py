"""Per-host rates and pauses as the origins see them: ``devtools.stamping_target`` hosts note when
each request came, and the assertions are on counts and orderings of those stamps (a slower
machine only spreads them further), never on how fast this machine is."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest

from devtools.stamping_target import StampingTarget
from fanout.config import Settings
from fanout.core.requests import parse_request
from fanout.runs.fetch_run import fetch_run
from tests.support import ARRIVAL_JITTER_S, most_in_any_window, run_context

pytestmark = pytest.mark.anyio
CLOCK_SLACK_S = 0.05  # a wall clock read on either side of a Retry-After's whole seconds


@pytest.fixture
def host_a() -> Iterator[StampingTarget]:
    with StampingTarget() as host:
        yield host


@pytest.fixture
def host_b() -> Iterator[StampingTarget]:
    with StampingTarget() as host:
        yield host


async def run(settings: Settings, urls: list[Any], budget_s: float = 10.0, **options: Any) -> dict[str, Any]:
    request = parse_request({"urls": urls, "options": options}, settings)
    return (await fetch_run(request, run_context(budget_s), settings=settings)).to_json()


async def test_a_rate_spaces_one_hosts_requests_and_leaves_another_host_alone(
    settings: Settings, host_a: StampingTarget, host_b: StampingTarget
) -> None:
    urls = [host_a.url(f"/ok?n={i}") for i in range(10)] + [host_b.url(f"/ok?n={i}") for i in range(10)]
    rates = [{"url": u, "per_host_rps": 10.0} for u in urls[:10]] + urls[10:]
    doc = await run(settings, rates, per_host_concurrency=8)
    assert {r["outcome"] for r in doc["results"]} == {"ok"}
    a = host_a.seen()
    assert len(a) == 10
    # 10 rps, bursts of 1: grants 0.1 s apart, so 0.9 s from the first to the last, and a 0.3 s window
    # holds 3 grants (plus those the jitter moves in: at most 5). Without the rate: 8 at once.
    assert a[-1].at - a[0].at >= 9 * 0.1 - ARRIVAL_JITTER_S
    assert most_in_any_window(a, 0.3) <= 5
    assert sum(r.get("throttled", 0) for r in doc["results"][:10]) >= 7  # at most 8 in flight, 1 went at once
    # The other host has no rate: nothing of it waited.
    assert all("throttled" not in r for r in doc["results"][10:])
    assert len(host_b.seen()) == 10


async def test_bursts_are_at_most_per_host_burst(settings: Settings, host_a: StampingTarget) -> None:
    doc = await run(
        settings, [host_a.url(f"/ok?n={i}") for i in range(12)], per_host_rps=4.0, per_host_burst=4
    )
    assert doc["summary"]["ok"] == 12
    a = host_a.seen()
    # A bucket of 4 tokens refilled at 4 per second: grants within any 0.5 s + jitter (< 0.75 s), at
    # most 4 + 2 requests; the last 8 tokens take 2 s to come.
    assert most_in_any_window(a, 0.5) <= 6
    assert a[-1].at - a[0].at >= (12 - 4) / 4 - ARRIVAL_JITTER_S
    # The first 4 go at once (without the burst they would come 0.25 s apart: 0.75 s for 4).
    assert a[3].at - a[0].at < 0.5


@pytest.mark.parametrize(("form", "status"), [("seconds", 429), ("date", 429), ("seconds", 503)])
async def test_retry_after_pauses_the_host_while_other_hosts_go_on(
    settings: Settings, host_a: StampingTarget, host_b: StampingTarget, form: str, status: int
) -> None:
    date = "&date=1" if form == "date" else ""
    busy = host_a.url(f"/busy/k?times=1&after=3&status={status}{date}")
    others = [host_b.url(f"/ok?n={i}") for i in range(20)]
    # In flight: the paused URL and 5 of the other host's; the paused host's others start once those are done.
    urls = [busy, *others, *(host_a.url(f"/ok?n={i}") for i in range(4))]
    doc = await run(settings, urls, concurrency=6, per_host_concurrency=5, retries=2)
    assert doc["summary"]["ok"] == 25
    told, *after = host_a.seen()
    assert (told.path, told.status) == ("/busy/k", status)
    assert told.retry_until_wall is not None
    # Nothing reached the paused host before its Retry-After ended: neither the retry nor the others.
    assert len(after) == 5
    assert all(s.wall >= told.retry_until_wall - CLOCK_SLACK_S for s in after)
    # The other host went on meanwhile: all of it was done before the pause ended.
    assert max(s.wall for s in host_b.seen()) < told.retry_until_wall
    first = doc["results"][0]
    assert (first["attempts"], first["status_code"]) == (2, 200)
    assert first["throttled"] >= 1
    if form == "seconds":
        assert first["retry_after_ms"] == 3000
    else:
        assert 1000 <= first["retry_after_ms"] <= 3000  # a date has whole seconds
    assert all(r["throttled"] == 1 for r in doc["results"][21:])  # each waited for the pause
    assert all("throttled" not in r and "retry_after_ms" not in r for r in doc["results"][1:21])


async def test_a_paused_host_s_retries_hold_no_worker_other_hosts_need(
    settings: Settings, host_a: StampingTarget, host_b: StampingTarget
) -> None:
    """As many URLs of the paused host as there are workers: their retries wait for the pause
    parked, not in the workers, so the other host's URLs behind them go on meanwhile (with the
    retries in the workers, nothing of the other host would start before the pause ended)."""
    busy = [host_a.url(f"/busy/k{i}?times=1&after=2") for i in range(2)]
    others = [host_b.url(f"/ok?n={i}") for i in range(10)]
    doc = await run(settings, [*busy, *others], concurrency=2, retries=2)
    assert doc["summary"]["ok"] == 12
    told = [s for s in host_a.seen() if s.status == 429]
    assert len(told) == 2
    pause_ends = min(s.retry_until_wall for s in told if s.retry_until_wall is not None)
    assert len(host_b.seen()) == 10
    assert max(s.wall for s in host_b.seen()) < pause_ends  # all of it while the host was paused
    retries = [s for s in host_a.seen() if s.status == 200]
    assert len(retries) == 2
    assert all(s.wall >= pause_ends - CLOCK_SLACK_S for s in retries)
    for result in doc["results"][:2]:
        assert (result["attempts"], result["status_code"], result["retry_after_ms"]) == (2, 200, 2000)
        assert result["throttled"] == 1


async def test_a_url_whose_turn_finds_no_free_slot_before_the_deadline_is_cut_as_waiting(
    settings: Settings, host_a: StampingTarget, host_b: StampingTarget
) -> None:
    """One slot: the paused URL gives it up to the other host's URL, which never answers in time;
    its turn comes (1 s) but no slot does. It ends ``cancelled`` (a shard would continue it) with
    what it was told, and no time in flight."""
    urls = [host_a.url("/busy/k?times=1&after=1"), host_b.url("/ok?delay_ms=10000")]
    doc = await run(settings, urls, budget_s=2.5, concurrency=1, retries=2)
    told, stalled = doc["results"]
    assert (told["outcome"], told["attempts"], told["retry_after_ms"], told["throttled"]) == (
        "cancelled",
        1,
        1000,
        1,
    )
    assert told.get("elapsed_ms") is None
    assert stalled["outcome"] == "cancelled"
    assert stalled["elapsed_ms"] > 1000  # cut in flight
    assert doc["deadline_reached"]
    assert [s.path for s in host_a.seen()] == ["/busy/k"]


async def test_turns_that_waited_for_a_slot_are_taken_again_not_sent_in_a_burst(
    settings: Settings, host_a: StampingTarget, host_b: StampingTarget
) -> None:
    """1 request a second at host A, 2 slots. A's first URL goes; its next three take turns 1, 2
    and 3 s away and wait without a slot while the other host's two URLs hold both slots for 4 s.
    When the slots free, those turns are long past: the three must still come a second apart, not
    together."""
    a_urls = [{"url": host_a.url(f"/ok?n={i}"), "per_host_rps": 1.0} for i in range(4)]
    b_urls = [host_b.url(f"/ok?n={i}&delay_ms=4000") for i in range(2)]
    doc = await run(settings, [*a_urls, *b_urls], budget_s=12.0, concurrency=2)
    assert doc["summary"]["ok"] == 6
    a = host_a.seen()
    assert len(a) == 4
    b_done = min(s.at for s in host_b.seen()) + 4.0
    assert a[1].at >= b_done - ARRIVAL_JITTER_S  # they did wait for a slot
    # 1 rps, bursts of 1: a second between requests (without the fix, the three came at once).
    assert most_in_any_window(a[1:], 0.5) == 1
    assert a[3].at - a[1].at >= 2 * 1.0 - ARRIVAL_JITTER_S


async def test_a_pause_past_the_deadline_ends_the_url_with_its_429_and_is_never_cut_short(
    settings: Settings, host_a: StampingTarget, host_b: StampingTarget
) -> None:
    urls = [host_a.url("/busy/k?times=5&after=30"), host_a.url("/ok"), host_b.url("/ok")]
    doc = await run(settings, urls, budget_s=3.0, per_host_concurrency=1, retries=3)
    told, other, elsewhere = doc["results"]
    assert (told["outcome"], told["status_code"], told["attempts"]) == ("http_error", 429, 1)
    assert told["retry_after_ms"] == 30_000
    # The host's other URL is never sent: its turn is past the deadline. A continuation may take it.
    assert (other["outcome"], other["attempts"], other["error"]["type"]) == ("not_started", 0, "host_paused")
    assert elsewhere["outcome"] == "ok"
    assert [s.path for s in host_a.seen()] == ["/busy/k"]
    assert not doc["deadline_reached"]  # answered at once, not slept until the deadline


async def test_a_retry_after_from_a_redirect_hop_pauses_that_hop_s_host(
    settings: Settings, host_a: StampingTarget, host_b: StampingTarget
) -> None:
    hop = host_b.url("/busy/k?times=1&after=2")
    urls = [host_a.url(f"/to?url={quote(hop, safe='')}"), host_b.url("/ok")]
    doc = await run(settings, urls, per_host_concurrency=1, concurrency=1, retries=2)
    assert doc["summary"]["ok"] == 2
    redirected, _ = doc["results"]
    assert (redirected["attempts"], redirected["retry_after_ms"]) == (2, 2000)
    assert redirected["throttled"] >= 1
    told, *after = host_b.seen()
    assert (told.path, told.status) == ("/busy/k", 429)
    assert told.retry_until_wall is not None
    assert all(s.wall >= told.retry_until_wall - CLOCK_SLACK_S for s in after)
    # The retry went to the first host at once (it is not paused) and waited at the hop.
    first_host = host_a.seen()
    assert len(first_host) == 2
    assert first_host[1].wall < told.retry_until_wall


async def test_a_hop_to_a_host_paused_past_the_deadline_leaves_the_answer_the_url_had(
    settings: Settings, host_a: StampingTarget, host_b: StampingTarget
) -> None:
    """The URL's hop is told 429 (2 s), and its retry waits at the hop; meanwhile (at 1 s) another
    URL of that host is told 30 s, past the deadline. The retry's hop is never sent, and the URL
    ends with the 429 it had and the wait it was told, not a failure. (About 1 s of slack each
    way: the first hop long before the other URL's answer, that answer long before the turn.)"""
    hop = host_b.url("/busy/k?times=1&after=2")
    told_late = host_b.url("/busy/j?times=5&after=30&delay_ms=1000")
    urls = [host_a.url(f"/to?url={quote(hop, safe='')}"), told_late]
    doc = await run(settings, urls, budget_s=4.0, concurrency=2, retries=2)
    redirected, other = doc["results"]
    outcome = redirected["outcome"], redirected["status_code"], redirected["attempts"]
    assert outcome == ("http_error", 429, 2)
    assert redirected["retry_after_ms"] == 2000
    assert (other["outcome"], other["status_code"], other["retry_after_ms"]) == ("http_error", 429, 30_000)
    assert sorted(s.path for s in host_b.seen()) == ["/busy/j", "/busy/k"]  # nothing after the pause
    assert [s.path for s in host_a.seen()] == ["/to", "/to"]  # the retry was made, up to its hop
    assert not doc["deadline_reached"]


async def test_a_first_attempt_whose_hop_is_paused_past_the_deadline_ends_failed_host_paused(
    settings: Settings, host_a: StampingTarget, host_b: StampingTarget
) -> None:
    hop = host_b.url("/ok")
    slow_redirect = host_a.url(f"/to?url={quote(hop, safe='')}&delay_ms=1000")
    urls = [slow_redirect, host_b.url("/busy/j?times=5&after=30")]
    doc = await run(settings, urls, budget_s=4.0, concurrency=2, retries=2)
    redirected, other = doc["results"]
    assert (redirected["outcome"], redirected["attempts"], redirected["error"]["type"]) == (
        "failed",
        1,
        "host_paused",
    )
    assert other["retry_after_ms"] == 30_000
    assert [s.path for s in host_b.seen()] == ["/busy/j"]  # the hop was never sent
