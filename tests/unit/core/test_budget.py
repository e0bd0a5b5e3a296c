"""The run's deadline: clamped remaining time, a margin that grows with the URLs (``answer_by``),
a cleanup allowance that grows with the fetches in flight (``work_by``), and the reserves cut
from the end of the work (``fetch_by`` <= ``persist_by`` <= ``work_by``)."""

from __future__ import annotations

import math
import time

import pytest

from fanout.config import Settings
from fanout.core.budget import (
    CLEANUP_COST,
    LAMBDA_MAX_REMAINING_MS,
    InvocationClock,
    RunDeadline,
    clamp_remaining_ms,
    cleanup_s,
    margin_s,
)

SETTINGS = Settings(
    deadline_margin_base_ms=250.0,
    deadline_margin_per_url_ms=0.5,
    deadline_cleanup_per_url_ms=0.2,
    max_concurrency=1_000,
)
NOW = 1_000.0
FIFTEEN_MIN_S = 15 * 60


@pytest.fixture(autouse=True)
def _nothing_learned() -> None:
    """These tests check the setting's allowance: no cleanup cost learned by earlier runs."""
    CLEANUP_COST.forget()


def compute_deadline(
    remaining_ms: float,
    *,
    n_urls: int,
    settings: Settings,
    now: float | None = None,
    cap_s: float | None = None,
    in_flight: int | None = None,
) -> RunDeadline:
    """The deadline of an invocation started ``now`` with ``remaining_ms`` left."""
    clock = InvocationClock.begin(remaining_ms, now=now)
    return clock.deadline(n_urls, settings, cap_s=cap_s, in_flight=in_flight)


@pytest.mark.parametrize(
    ("remaining_ms", "clamped"),
    [
        (12_345, 12_345.0),
        (0, 0.0),
        (-1, 0.0),
        (-(10**9), 0.0),
        (float("nan"), 0.0),
        (float("-inf"), 0.0),
        (float("inf"), FIFTEEN_MIN_S * 1000.0),
        (FIFTEEN_MIN_S * 1000 + 1, FIFTEEN_MIN_S * 1000.0),
        (2**63, FIFTEEN_MIN_S * 1000.0),
    ],
)
def test_absurd_remaining_times_are_clamped(remaining_ms: float, clamped: float) -> None:
    assert clamp_remaining_ms(remaining_ms) == clamped
    assert LAMBDA_MAX_REMAINING_MS == FIFTEEN_MIN_S * 1000


def test_margin_is_a_base_plus_an_allowance_per_url() -> None:
    assert margin_s(0, SETTINGS) == pytest.approx(0.25)
    assert margin_s(1, SETTINGS) == pytest.approx(0.2505)
    assert margin_s(1_000, SETTINGS) == pytest.approx(0.75)
    assert margin_s(10_000, SETTINGS) > margin_s(1_000, SETTINGS) > margin_s(10, SETTINGS)


def test_margin_is_configurable() -> None:
    bigger = SETTINGS.model_copy(
        update={"deadline_margin_base_ms": 1_000.0, "deadline_margin_per_url_ms": 2.0}
    )
    assert margin_s(100, bigger) == pytest.approx(1.2)
    d = compute_deadline(10_000, n_urls=100, settings=bigger, now=NOW)
    assert d.answer_by == pytest.approx(NOW + 10 - 1.2)
    assert d.work_by == pytest.approx(NOW + 10 - 1.2 - 100 * 0.2 / 1000)


def test_answer_by_is_now_plus_remaining_minus_margin() -> None:
    d = compute_deadline(30_000, n_urls=100, settings=SETTINGS, now=NOW)
    assert d.margin_s == pytest.approx(0.3)
    assert d.timeout_at - d.started == pytest.approx(30.0)
    assert d.answer_by == pytest.approx(NOW + 29.7)


def test_work_by_is_answer_by_minus_the_cleanup_of_the_fetches_in_flight() -> None:
    d = compute_deadline(30_000, n_urls=100, settings=SETTINGS, now=NOW)
    assert d.cleanup_s == pytest.approx(0.02)  # 100 in flight at most, 0.2 ms each
    assert d.work_by == pytest.approx(NOW + 29.68)
    assert d.work_budget_s == pytest.approx(29.68)
    assert d.answer_by - d.work_by == pytest.approx(d.cleanup_s)


def test_in_flight_defaults_to_the_most_a_request_can_have() -> None:
    assert cleanup_s(1_000, SETTINGS) == pytest.approx(0.2)
    many = compute_deadline(30_000, n_urls=5_000, settings=SETTINGS, now=NOW)
    assert many.cleanup_s == pytest.approx(cleanup_s(1_000, SETTINGS))  # min(URLs, max_concurrency)
    few = compute_deadline(30_000, n_urls=3, settings=SETTINGS, now=NOW)
    assert few.cleanup_s == pytest.approx(cleanup_s(3, SETTINGS))


def test_in_flight_given_by_the_request_sets_the_cleanup() -> None:
    d = compute_deadline(30_000, n_urls=5_000, settings=SETTINGS, now=NOW, in_flight=64)
    default = compute_deadline(30_000, n_urls=5_000, settings=SETTINGS, now=NOW)
    assert d.cleanup_s == pytest.approx(64 * 0.2 / 1000)
    assert d.answer_by == default.answer_by  # the margin does not depend on it
    assert d.work_by > default.work_by
    assert compute_deadline(30_000, n_urls=5, settings=SETTINGS, now=NOW, in_flight=-3).cleanup_s == 0.0


def test_no_cleanup_allowance_makes_both_deadlines_one() -> None:
    none = SETTINGS.model_copy(update={"deadline_cleanup_per_url_ms": 0.0})
    d = compute_deadline(30_000, n_urls=1_000, settings=none, now=NOW)
    assert d.work_by == d.answer_by == pytest.approx(NOW + 30 - 0.75)


def test_more_urls_leave_a_smaller_budget() -> None:
    few = compute_deadline(30_000, n_urls=10, settings=SETTINGS, now=NOW)
    many = compute_deadline(30_000, n_urls=5_000, settings=SETTINGS, now=NOW)
    margins = (5_000 - 10) * 0.5 / 1000
    cleanups = (1_000 - 10) * 0.2 / 1000
    assert many.work_budget_s == pytest.approx(few.work_budget_s - margins - cleanups)
    assert many.work_by < few.work_by


@pytest.mark.parametrize("remaining_ms", [0, 100, 250, -5_000, float("nan")])
def test_less_time_than_the_margin_gives_no_budget(remaining_ms: float) -> None:
    d = compute_deadline(remaining_ms, n_urls=1, settings=SETTINGS, now=NOW)
    assert d.work_budget_s == 0.0
    assert d.work_by == d.answer_by == NOW
    assert d.cleanup_s == 0.0


def test_less_time_than_margin_and_cleanup_starts_nothing_and_returns_by_the_return_deadline() -> None:
    d = compute_deadline(850, n_urls=1_000, settings=SETTINGS, now=NOW)  # margin 750 ms, cleanup 200
    assert d.work_budget_s == 0.0
    assert d.work_by == NOW
    assert d.answer_by == pytest.approx(NOW + 0.1)
    assert d.cleanup_s == pytest.approx(0.1)


def test_huge_remaining_time_is_capped_at_fifteen_minutes() -> None:
    d = compute_deadline(10**12, n_urls=0, settings=SETTINGS, now=NOW)
    assert d.timeout_at - d.started == FIFTEEN_MIN_S
    assert d.work_budget_s == pytest.approx(FIFTEEN_MIN_S - 0.25)
    assert math.isfinite(d.work_by)


def test_api_cap_bounds_the_budget_and_keeps_the_margin() -> None:
    capped = compute_deadline(60_000, n_urls=0, settings=SETTINGS, cap_s=28.0, now=NOW)
    assert capped.work_budget_s == pytest.approx(28.0 - 0.25)
    assert capped.work_by == pytest.approx(NOW + 27.75)
    # The cap bounds the return deadline; the cleanup comes off it as without a cap.
    urls = compute_deadline(60_000, n_urls=100, settings=SETTINGS, cap_s=28.0, now=NOW)
    assert urls.answer_by == pytest.approx(NOW + 28.0 - 0.3)
    assert urls.work_by == pytest.approx(NOW + 28.0 - 0.3 - 0.02)
    # The remaining time still wins when it is shorter than the cap.
    short = compute_deadline(10_000, n_urls=0, settings=SETTINGS, cap_s=28.0, now=NOW)
    assert short.work_budget_s == pytest.approx(9.75)
    # A cap below the margin leaves nothing.
    assert compute_deadline(60_000, n_urls=0, settings=SETTINGS, cap_s=0.1, now=NOW).work_budget_s == 0.0


def test_deadline_is_on_the_monotonic_clock_by_default() -> None:
    before = time.monotonic()
    d = compute_deadline(5_000, n_urls=10, settings=SETTINGS)
    after = time.monotonic()
    assert before + d.work_budget_s <= d.work_by <= after + d.work_budget_s
    assert d.work_by < d.answer_by <= after + 5.0 - d.margin_s


@pytest.mark.parametrize(
    ("budget_s", "persist_s", "after_s", "fanout_s"),
    [
        (10.0, 1.5, 1.5, 7.0),
        (10.0, 1.5, 0.0, 8.5),
        (10.0, 0.0, 0.0, 10.0),
        (2.0, 1.5, 1.5, 1.0),
        (0.0, 1.5, 0.0, 0.0),
    ],
)
def test_the_budget_is_sliced_from_its_end_and_the_reserves_take_at_most_half(
    budget_s: float, persist_s: float, after_s: float, fanout_s: float
) -> None:
    bare = SETTINGS.model_copy(update={"deadline_margin_per_url_ms": 0.0, "deadline_cleanup_per_url_ms": 0.0})
    clock = InvocationClock.begin(budget_s * 1000 + 250, now=100.0)  # 250 ms: the margin's base
    deadline = clock.deadline(0, bare, persist_s=persist_s, after_s=after_s)
    assert deadline.work_budget_s == pytest.approx(budget_s)
    assert deadline.fetch_budget_s == pytest.approx(fanout_s)
    assert deadline.fetch_by == pytest.approx(100.0 + fanout_s)
    assert deadline.fetch_by <= deadline.persist_by <= deadline.work_by <= deadline.answer_by
    assert (deadline.persist_by - deadline.fetch_by) / max(budget_s, 1e-9) <= 0.5 + 1e-9
    assert deadline.monitor_by == deadline.fetch_by  # no monitor: no monitor slice


@pytest.mark.parametrize(
    ("budget_s", "monitor_s", "persist_s", "after_s", "slices"),
    [
        (10.0, 3.0, 1.5, 0.5, (5.0, 3.0, 1.5, 0.5)),
        (4.0, 3.0, 1.5, 0.5, (2.0, 1.2, 0.6, 0.2)),  # the reserves scaled to half the budget
    ],
)
def test_a_monitor_run_keeps_its_slice_between_the_fetches_and_persistence(
    budget_s: float, monitor_s: float, persist_s: float, after_s: float, slices: tuple[float, ...]
) -> None:
    bare = SETTINGS.model_copy(update={"deadline_margin_per_url_ms": 0.0, "deadline_cleanup_per_url_ms": 0.0})
    clock = InvocationClock.begin(budget_s * 1000 + 250, now=100.0)
    d = clock.deadline(0, bare, monitor_s=monitor_s, persist_s=persist_s, after_s=after_s)
    got = (
        d.fetch_by - 100.0,
        d.monitor_by - d.fetch_by,
        d.persist_by - d.monitor_by,
        d.work_by - d.persist_by,
    )
    assert got == pytest.approx(slices)


def test_a_shard_shares_what_is_left_of_the_invocation() -> None:
    clock = InvocationClock.begin(9_000, now=NOW)
    first = clock.share(3, now=NOW + 1.0)
    assert first.started == NOW + 1.0
    assert first.remaining_ms == pytest.approx(8_000 / 3)
    assert clock.share(1, now=NOW + 10.0).remaining_ms == 0.0
