"""The cleanup allowance learned from runs cut by their deadline (``core.budget.CleanupCost``): what
the deadline reserves for cancelling and awaiting the fetches in flight follows what it cost."""

from __future__ import annotations

import pytest

from fanout.config import Settings
from fanout.core.budget import CleanupCost, InvocationClock, RunDeadline, cleanup_s

SETTINGS = Settings(deadline_cleanup_per_url_ms=0.2, max_concurrency=1_000)


def deadline(fetch_by: float = 10.0, *, reserve_s: float = 0.0, timeout_at: float = 20.0) -> RunDeadline:
    work_by = fetch_by + reserve_s
    return RunDeadline(0.0, fetch_by, fetch_by, fetch_by, work_by, work_by + 0.2, timeout_at)


def learned(cost: CleanupCost, spent_s: list[float], in_flight: int = 1_000) -> CleanupCost:
    for spent in spent_s:
        cost.cut(deadline(), in_flight)
        cost.answered(now=10.0 + spent)
    return cost


def test_before_any_run_is_cut_the_setting_is_the_allowance() -> None:
    assert CleanupCost().seconds(1_000, SETTINGS) == pytest.approx(cleanup_s(1_000, SETTINGS))


def test_the_allowance_is_the_median_cost_per_fetch_of_the_last_cut_runs() -> None:
    cost = learned(CleanupCost(), [0.12, 0.10, 0.50])  # one slow outlier
    assert cost.seconds(1_000, SETTINGS) == pytest.approx(0.12)
    assert cost.seconds(500, SETTINGS) == pytest.approx(0.06)  # per fetch in flight


def test_only_the_last_runs_count() -> None:
    cost = learned(CleanupCost(), [0.5] * CleanupCost.SAMPLES + [0.1] * CleanupCost.SAMPLES)
    assert cost.seconds(1_000, SETTINGS) == pytest.approx(0.1)


def test_few_fetches_in_flight_neither_teach_nor_use_the_learned_cost() -> None:
    cost = learned(CleanupCost(), [0.05], in_flight=CleanupCost.LEARN_MIN - 1)
    assert cost.seconds(1_000, SETTINGS) == pytest.approx(0.2)  # nothing learned
    learned(cost, [0.1])
    assert cost.seconds(CleanupCost.LEARN_MIN - 1, SETTINGS) == cleanup_s(CleanupCost.LEARN_MIN - 1, SETTINGS)


def test_a_run_with_a_reserve_after_its_fetches_teaches_nothing() -> None:
    cost = CleanupCost()
    cost.cut(deadline(reserve_s=1.0), 1_000)  # persistence would be counted as cleanup
    cost.answered(now=11.5)
    assert cost.seconds(1_000, SETTINGS) == pytest.approx(0.2)


def test_an_answer_outside_the_cut_runs_invocation_teaches_nothing() -> None:
    cost = CleanupCost()
    cost.cut(deadline(timeout_at=12.0), 1_000)
    cost.answered(now=30.0)  # a later invocation's answer: the cut run never answered
    cost.answered(now=10.1)  # nothing cut since
    assert cost.seconds(1_000, SETTINGS) == pytest.approx(0.2)


def test_the_learned_cost_stays_within_bounds_of_the_setting() -> None:
    low, high = CleanupCost.BOUNDS
    assert learned(CleanupCost(), [0.001]).seconds(1_000, SETTINGS) == pytest.approx(0.2 * low)
    assert learned(CleanupCost(), [9.0]).seconds(1_000, SETTINGS) == pytest.approx(0.2 * high)


def test_a_zero_setting_turns_the_allowance_off() -> None:
    cost = learned(CleanupCost(), [0.1])
    assert cost.seconds(1_000, Settings(deadline_cleanup_per_url_ms=0.0)) == 0.0


def test_the_deadline_uses_the_processs_learned_cost(monkeypatch: pytest.MonkeyPatch) -> None:
    from fanout.core import budget

    cost = learned(CleanupCost(), [0.1])
    monkeypatch.setattr(budget, "CLEANUP_COST", cost)
    d = InvocationClock(started=0.0, remaining_ms=5_000).deadline(1_000, SETTINGS)
    assert d.cleanup_s == pytest.approx(0.1)
    assert d.answer_by - d.fetch_by == pytest.approx(0.1)


@pytest.mark.parametrize(
    ("memory_mb", "per_fetch_ms"),
    [(0, 0.1), (1_769, 0.1), (3_008, 0.1), (1_024, 0.1 * 1_769 / 1_024), (128, 0.1 * 1_769 / 128)],
)
def test_the_allowance_grows_as_the_share_of_a_vcpu_shrinks(memory_mb: int, per_fetch_ms: float) -> None:
    settings = Settings(deadline_cleanup_per_url_ms=0.1, function_memory_mb=memory_mb)
    assert cleanup_s(1_000, settings) == pytest.approx(per_fetch_ms)  # 1,000 x ms / 1,000
    assert CleanupCost().seconds(1_000, settings) == pytest.approx(per_fetch_ms)  # nothing learned yet


def test_the_memory_size_is_read_from_lambdas_variable() -> None:
    from fanout.config import ConfigError, load_settings

    assert load_settings({"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024"}).function_memory_mb == 1_024
    assert load_settings({}).function_memory_mb == 0
    with pytest.raises(ConfigError, match="AWS_LAMBDA_FUNCTION_MEMORY_SIZE"):
        load_settings({"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "-1"})
