"""The pacer alone, on the running loop's clock: turns, bursts, pauses, slowing down."""

from __future__ import annotations

import asyncio
import time
from email.utils import formatdate
from itertools import pairwise

import pytest

from fanout.fetch.pacing import RECOVERY_SHARE, SLOWEST_SHARE, TURN_SLACK_S, HostPaused, Pacer, retry_after_s

pytestmark = pytest.mark.anyio
FAR = float("inf")


async def test_turns_at_a_rate_are_one_interval_apart() -> None:
    pacer = Pacer(10.0)
    turns = [pacer.reserve("a", FAR) for _ in range(4)]
    assert [round(b - a, 6) for a, b in pairwise(turns)] == [0.1, 0.1, 0.1]
    assert pacer.reserve("b", FAR) <= asyncio.get_running_loop().time()  # another host: at once


async def test_a_burst_goes_at_once_then_the_rate_holds() -> None:
    pacer = Pacer(2.0, burst=3)
    now = asyncio.get_running_loop().time()
    turns = [pacer.reserve("a", FAR) for _ in range(5)]
    assert all(t <= now + 0.05 for t in turns[:3])
    assert turns[3] >= turns[0] + 0.5
    assert turns[4] >= turns[3] + 0.5


async def test_without_a_rate_nothing_is_tracked_until_a_pause() -> None:
    pacer = Pacer()
    assert pacer.idle
    assert await pacer.turn("a", FAR) is False
    pacer.told_to_wait("a", 0.2)
    assert not pacer.idle
    loop = asyncio.get_running_loop()
    assert pacer.reserve("a", FAR) >= loop.time() + 0.15
    assert pacer.reserve("b", FAR) <= loop.time()  # only that host is paused


async def test_a_turn_past_the_limit_is_refused_and_not_taken() -> None:
    pacer = Pacer(1.0)
    now = asyncio.get_running_loop().time()
    first = pacer.reserve("a", FAR)
    with pytest.raises(HostPaused) as refused:
        pacer.reserve("a", now + 0.5)
    assert refused.value.told_s is None
    assert pacer.reserve("a", FAR) == pytest.approx(first + 1.0)
    pacer.told_to_wait("a", 30)
    with pytest.raises(HostPaused, match="Retry-After") as paused:
        pacer.reserve("a", now + 10)
    assert paused.value.told_s == 30


async def test_a_turn_taken_before_a_pause_waits_for_the_pause() -> None:
    pacer = Pacer()
    loop = asyncio.get_running_loop()
    pacer.told_to_wait("a", 0.0)  # tracked, not paused
    taken = pacer.reserve("a", FAR)
    pacer.told_to_wait("a", 0.2)
    until = loop.time() + 0.2
    at = pacer.hold("a", FAR, taken)
    assert at is not None
    assert at >= until - 0.001


async def test_a_turn_is_due_when_it_has_come_and_its_host_is_not_paused() -> None:
    pacer = Pacer(10.0)
    now = pacer.reserve("a", FAR)  # the first turn: now
    later = pacer.reserve("a", FAR)  # a tenth of a second on
    assert pacer.hold("a", FAR, now) is None
    assert pacer.hold("a", FAR, later) == later
    pacer.told_to_wait("a", 0.2)  # paused since the turn was taken: waiting to do after all
    assert pacer.hold("a", FAR, now) is not None


async def test_a_turn_within_the_clocks_millisecond_is_due() -> None:
    # uvloop counts whole milliseconds: a timer set for a turn may wake its job half of one early.
    pacer = Pacer(10.0)
    pacer.reserve("a", FAR)
    later = pacer.reserve("a", FAR)
    now = asyncio.get_running_loop().time()
    assert pacer.hold("a", FAR, now + TURN_SLACK_S / 2) is None
    assert pacer.hold("a", FAR, later) == later


async def test_a_turn_more_than_one_interval_late_is_taken_again() -> None:
    """A job parked for its turn that then waited for a free worker: its old turn would bunch with
    the turns given since, so a new one is reserved (after them)."""
    pacer = Pacer(10.0)
    pacer.reserve("a", FAR)
    second = pacer.reserve("a", FAR)
    stale = asyncio.get_running_loop().time() - 1.0  # a turn a second past: ten intervals
    at = pacer.hold("a", FAR, stale)
    assert at is not None
    assert at == pytest.approx(second + 0.1)


@pytest.mark.parametrize("status", [429, 503])
async def test_what_a_host_answered_pauses_slows_or_restores_it(status: int) -> None:
    pacer = Pacer(8.0)
    loop = asyncio.get_running_loop()
    pacer.heard("a", status, 0.2)  # with Retry-After: a pause, and half the rate
    assert pacer.rps_of("a") == 4.0
    with pytest.raises(HostPaused):
        pacer.reserve("a", loop.time() + 0.1)
    pacer.heard("b", 429, None)  # a 429 without Retry-After: half the rate, no pause
    assert pacer.rps_of("b") == 4.0
    assert pacer.reserve("b", loop.time()) <= loop.time()
    pacer.heard("c", 503, None)  # a 503 without it neither pauses nor slows the host
    assert pacer.rps_of("c") == 8.0
    pacer.heard("b", 200, None)  # a good answer gives back a twentieth of the rate
    assert pacer.rps_of("b") == pytest.approx(4.0 + 8.0 / 20)


async def test_a_429_halves_the_rate_and_good_answers_give_it_back_step_by_step() -> None:
    pacer = Pacer(8.0)
    pacer.slow_down("a")
    assert pacer.rps_of("a") == 4.0
    steps = 0
    while pacer.rps_of("a") != 8.0:
        pacer.answered("a")
        steps += 1
    assert steps == round(0.5 / RECOVERY_SHARE)
    for _ in range(20):
        pacer.slow_down("a")
    assert pacer.rps_of("a") == 8.0 * SLOWEST_SHARE
    unpaced = Pacer()
    unpaced.slow_down("a")
    assert unpaced.rps_of("a") is None  # no rate to lower: the pause alone applies


def test_retry_after_in_seconds_or_as_an_http_date() -> None:
    assert retry_after_s({"retry-after": "120"}) == 120.0
    in_a_minute = retry_after_s({"retry-after": formatdate(time.time() + 60, usegmt=True)})
    assert in_a_minute is not None
    assert 58 <= in_a_minute <= 60
    assert retry_after_s({"retry-after": formatdate(time.time() - 60, usegmt=True)}) == 0.0
    assert retry_after_s({"retry-after": "soon"}) is None
    assert retry_after_s({}) is None
