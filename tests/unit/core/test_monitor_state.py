"""The monitor's state machine, its history counters and run thresholds, in pure code."""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fanout.config import get_settings
from fanout.core.monitors import (
    APPLIED_KEPT,
    PENDING_KEPT,
    Health,
    MonitorSpec,
    Observation,
    SubjectState,
    advance,
    claim,
    passed,
    settle,
)
from fanout.core.requests import parse_request
from fanout.core.results import Outcome, UrlResult
from fanout.core.thresholds import evaluate
from fanout.core.uptime import DAYS_KEPT, HOURS_KEPT, History, percentile_ms
from fanout.errors import RequestInvalid

SPEC = MonitorSpec(name="prod", failure_threshold=2, success_threshold=1)
T0 = 1_796_000_000.0  # 2026-11-29


def obs(ok: bool | None, key: str, at: float = T0, latency: float | None = 10.0) -> Observation:
    return Observation(key, "run", at, ok, "ok" if ok else "failed", latency_ms=latency)


def run(
    state: SubjectState, verdicts: list[bool | None], spec: MonitorSpec = SPEC
) -> tuple[SubjectState, list[str]]:
    """Apply ``verdicts`` in order; the state and the alerts as 'from->to'."""
    alerts = []
    for i, ok in enumerate(verdicts):
        moved = advance(state, obs(ok, f"k{i}", T0 + i * 60), spec)
        state = moved.state
        if moved.alert is not None:
            alerts.append(f"{moved.alert.from_}->{moved.alert.to}")
    return state, alerts


def test_outcomes_count_as_the_issue_says() -> None:
    assert passed(Outcome.OK) is True
    for failing in (
        Outcome.HTTP_ERROR,
        Outcome.FAILED,
        Outcome.TIMED_OUT,
        Outcome.BLOCKED,
        Outcome.CHECK_FAILED,
    ):
        assert passed(failing) is False
    assert passed(Outcome.CANCELLED) is None
    assert passed(Outcome.NOT_STARTED) is None


def test_the_first_success_is_up_without_an_alert() -> None:
    state, alerts = run(SubjectState("u"), [True])
    assert (state.status, alerts) == (Health.UP, [])


def test_down_after_the_failure_threshold_then_up_after_the_success_threshold() -> None:
    state, alerts = run(SubjectState("u"), [True, False, False, False, True])
    assert alerts == ["up->down", "down->up"]
    assert state.status is Health.UP
    assert state.since == T0 + 4 * 60


def test_an_unknown_url_failing_from_the_start_goes_down() -> None:
    state, alerts = run(SubjectState("u"), [False, False])
    assert (state.status, alerts) == (Health.DOWN, ["unknown->down"])


def test_a_blip_below_the_threshold_alerts_nobody() -> None:
    _, alerts = run(SubjectState("u"), [True, False, True, False, True])
    assert alerts == []


def test_success_threshold_needs_consecutive_successes() -> None:
    spec = MonitorSpec(name="p", failure_threshold=1, success_threshold=3)
    state, alerts = run(SubjectState("u"), [True, False, True, True, False, True, True, True], spec)
    assert alerts == ["up->down", "down->up"]
    assert state.successes == 3


def test_neutral_observations_change_no_streak_and_no_uptime() -> None:
    before, _ = run(SubjectState("u"), [True, False])
    after = advance(before, obs(None, "cancelled"), SPEC)
    assert after.state is before
    assert after.alert is None


def test_an_observation_is_applied_once() -> None:
    state, _ = run(SubjectState("u"), [True, False])
    again = advance(state, obs(False, "k1"), SPEC)  # the same delivery's observation again
    assert again.state is state
    assert again.alert is None
    assert len(run(SubjectState("u"), [True] * (APPLIED_KEPT + 5))[0].applied) == APPLIED_KEPT


@given(st.lists(st.sampled_from([True, False, None]), max_size=60))
def test_alerts_alternate_and_match_the_final_status(verdicts: list[bool | None]) -> None:
    state, alerts = run(SubjectState("u"), verdicts)
    targets = [a.split("->")[1] for a in alerts]
    assert all(a != b for a, b in itertools.pairwise(targets))  # never DOWN twice in a row
    if alerts:
        assert targets[-1] == state.status.value
    assert state.failures < SPEC.failure_threshold or state.status is Health.DOWN


def test_pending_alerts_are_claimed_once_until_the_claim_runs_out() -> None:
    state, _ = run(SubjectState("u"), [True, False, False])
    assert len(state.pending) == 1
    mine, owned = claim(state, "run-a", until=T0 + 100, now=T0)
    assert [a.claimed_by for a in owned] == ["run-a"]
    theirs, none = claim(mine, "run-b", until=T0 + 200, now=T0 + 50)
    assert none == ()
    assert theirs is mine
    late, taken = claim(mine, "run-b", until=T0 + 300, now=T0 + 101)
    assert [a.claimed_by for a in taken] == ["run-b"]
    sent = settle(late, frozenset(a.id for a in taken), {})
    assert sent.pending == ()
    released = settle(mine, frozenset(), {a.id: () for a in owned})
    assert [(a.claimed_by, a.claimed_until) for a in released.pending] == [(None, 0.0)]


def test_pending_alerts_are_bounded() -> None:
    spec = MonitorSpec(name="p", failure_threshold=1, success_threshold=1)
    state, alerts = run(SubjectState("u"), [False, True] * PENDING_KEPT, spec)
    assert len(alerts) == 2 * PENDING_KEPT
    assert len(state.pending) == PENDING_KEPT
    assert state.dropped_alerts == PENDING_KEPT


# -- history ------------------------------------------------------------------------------------


def test_uptime_over_24_hours_7_and_30_days() -> None:
    history = History()
    for day in range(40):
        for hour in range(0, 24, 6):
            at = T0 + day * 86_400 + hour * 3_600
            history = history.counted(at, passed=not (day == 39 and hour == 0), latency_ms=100.0)
    now = T0 + 39 * 86_400 + 18 * 3_600
    assert len(history.days) == DAYS_KEPT
    assert len(history.hours) <= HOURS_KEPT
    assert history.uptime_24h(now) == pytest.approx(3 / 4)
    assert history.uptime_days(now, 7) == pytest.approx(27 / 28)
    assert history.uptime_days(now, 30) == pytest.approx(119 / 120)
    closed = history.days[-2]
    assert closed.histogram == ()
    assert closed.p50_ms is not None


def test_latency_percentiles_come_from_the_day_s_histogram() -> None:
    history = History()
    for i in range(100):
        history = history.counted(T0 + i, True, latency_ms=float(i + 1))  # 1..100 ms
    today = history.today(T0 + 100)
    assert today is not None
    p50, p95 = today.latency
    assert p50 is not None
    assert 25 <= p50 <= 75
    assert p95 is not None
    assert 75 <= p95 <= 100
    assert percentile_ms((), 0.5) is None


# -- thresholds -----------------------------------------------------------------------------------


def test_thresholds_are_validated_with_the_request() -> None:
    ok = parse_request(
        {"urls": ["https://e.example/"], "options": {"thresholds": {"failed_rate": "<0.05"}}}, get_settings()
    )
    assert ok.options.thresholds == {"failed_rate": "<0.05"}
    for bad, loc, says in (
        ({"p42_ms": "<1"}, "options.thresholds", "not a run metric"),
        ({"p95_ms": "fast"}, "options.thresholds.p95_ms", "should match pattern"),
    ):
        with pytest.raises(RequestInvalid) as caught:
            parse_request({"urls": ["https://e.example/"], "options": {"thresholds": bad}}, get_settings())
        [error] = caught.value.errors
        assert error["loc"] == loc
        assert says in error["msg"]
    with pytest.raises(RequestInvalid) as caught:
        parse_request({"urls": ["https://e.example/"], "monitor": {"name": "Prod Health"}}, get_settings())
    assert caught.value.errors[0]["loc"] == "monitor.name"


def test_thresholds_evaluate_rates_and_latencies() -> None:
    results = [UrlResult(f"u{i}", Outcome.OK, 200, 1, float(10 * (i + 1))) for i in range(18)]
    results += [
        UrlResult("x", Outcome.FAILED, None, 1, 5.0),
        UrlResult("y", Outcome.HTTP_ERROR, 500, 1, 900.0),
    ]
    results += [UrlResult("z", Outcome.CANCELLED)]  # the run's doing: in no rate
    got = {t.name: (t.ok, t.value) for t in evaluate(
        {"failed_rate": "<0.05", "ok_rate": ">=0.9", "p90_ms": "<800", "p95_ms": "<800", "max_ms": "<=900",
         "avg_ms": "< 200"},
        results,
    )}  # fmt: skip
    assert got["failed_rate"] == (False, 0.1)
    assert got["ok_rate"] == (True, 0.9)
    # 19 latencies (the failed URL has none), nearest rank: p90 the 18th, p95 the 19th
    assert got["p90_ms"] == (True, 180.0)
    assert got["p95_ms"] == (False, 900.0)
    assert got["max_ms"] == (True, 900.0)
    assert got["avg_ms"][0] is True
    assert evaluate({"p50_ms": "<1"}, [UrlResult("c", Outcome.CANCELLED)])[0].ok is None


def test_a_threshold_is_a_subject_of_its_own() -> None:
    [result] = evaluate({"p95_ms": "<800"}, [UrlResult("u", Outcome.OK, 200, 1, 10.0)])
    assert result.subject == "threshold:p95_ms<800"
    assert replace(result, ok=False).to_json() == {
        "name": "p95_ms",
        "condition": "<800",
        "ok": False,
        "value": 10.0,
    }
