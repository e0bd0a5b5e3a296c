"""Rounds, in pure code: the truth tables of docs/monitors.md#regions (3 regions, quorum 1, 2, 3),
duplicates, late votes, closed rounds, the state machine on round verdicts, region liveness."""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest

from fanout.core.alerts import alert_message
from fanout.core.monitors import Health, MonitorSpec, Observation, SubjectState, advance
from fanout.core.regional import region_heard, region_subject, regions_summary, voted
from fanout.core.rounds import (
    OPEN_ROUNDS,
    Liveness,
    RoundBook,
    Vote,
    facts_with,
    heard,
    round_epoch,
    round_of_start,
    vote,
)

REGIONS = ("ap-southeast-2", "eu-west-1", "us-east-1")
T0 = 1_796_000_040.0  # 2026-11-30T00:54:00Z
R0 = round_of_start(T0)
MAX_AGE = 900.0
WORDS = {True: "pass", False: "fail", None: "neutral"}


def rid(i: int) -> str:
    """The i-th round (one a minute from R0)."""
    return round_of_start(T0 + 60 * i)


def ballot(region: str, passed: bool | None, at: float = T0) -> Vote:
    return Vote(
        region, passed, {True: "ok", False: "check_failed", None: "cancelled"}[passed], at, 503, 100.0
    )


def verdict_of(votes: list[tuple[str, bool | None]], quorum: int) -> str:
    """The verdict of one round after ``votes`` (in the order they arrive)."""
    book, decided = RoundBook(), []
    for region, passed in votes:
        result = vote(book, R0, ballot(region, passed), quorum=quorum, now=T0, max_age_s=MAX_AGE)
        book = result.book
        if result.decided is not None:
            decided.append(result.decided.verdict)
    assert len(decided) <= 1, "a round is decided once"
    return "undecided" if not decided else WORDS[decided[0]]


# Each region: passed, failed, neutral (the run's doing) or missing (no report in the round).
WORDS_OF_A_REGION = (True, False, None, "missing")


def every_round() -> list[list[tuple[str, bool | None]]]:
    """Every round of 3 regions: each region's word, in every order of arrival."""
    rounds = []
    for words in itertools.product(WORDS_OF_A_REGION, repeat=3):
        present = [(r, w) for r, w in zip(REGIONS, words, strict=True) if w != "missing"]
        rounds += [list(order) for order in itertools.permutations(present)]  # type: ignore[arg-type]
    return rounds


@pytest.mark.parametrize("quorum", [2, 3])
def test_the_truth_table_for_quorum_2_and_3_is_the_same_in_every_order(quorum: int) -> None:
    """quorum 2 of 3: failed by 2 or 3 regions fails, passed by 2 or 3 passes, else undecided;
    quorum 3: only all three agreeing decide."""
    for votes in every_round():
        fails = sum(p is False for _, p in votes)
        passes = sum(p is True for _, p in votes)
        expected = "fail" if fails >= quorum else "pass" if passes >= quorum else "undecided"
        assert verdict_of(votes, quorum) == expected, votes


def test_the_truth_table_for_quorum_1_is_the_first_word_that_is_not_neutral() -> None:
    for votes in every_round():
        first = next((p for _, p in votes if p is not None), "none")
        expected = "undecided" if first == "none" else WORDS[first]
        assert verdict_of(votes, 1) == expected, votes


@pytest.mark.parametrize(
    ("words", "quorum", "expected"),
    [
        ("fail fail fail", 2, "fail"),
        ("fail fail pass", 2, "fail"),
        ("fail pass pass", 2, "pass"),
        ("fail pass missing", 2, "undecided"),
        ("fail neutral missing", 2, "undecided"),
        ("fail fail missing", 2, "fail"),
        ("fail fail pass", 3, "undecided"),
        ("fail fail fail", 3, "fail"),
        ("pass pass pass", 3, "pass"),
        ("fail pass pass", 1, "fail"),
        ("pass fail fail", 1, "pass"),
        ("neutral fail pass", 1, "fail"),
    ],
)
def test_the_rows_docs_monitors_md_lists(words: str, quorum: int, expected: str) -> None:
    parse = {"pass": True, "fail": False, "neutral": None}
    votes = [(r, parse[w]) for r, w in zip(REGIONS, words.split(), strict=True) if w != "missing"]
    assert verdict_of(votes, quorum) == expected


def test_a_region_votes_once_per_round() -> None:
    book = RoundBook()
    for _ in range(3):
        book = vote(book, R0, ballot("eu-west-1", False), quorum=2, now=T0, max_age_s=MAX_AGE).book
    assert [len(r.votes) for r in book.open] == [1]
    again = vote(book, R0, ballot("eu-west-1", False), quorum=2, now=T0, max_age_s=MAX_AGE)
    assert (again.taken, again.decided, again.book) == (False, None, book)


def test_a_vote_after_the_decision_is_kept_for_the_figures_and_decides_nothing() -> None:
    book = RoundBook()
    for region in REGIONS[:2]:
        book = vote(book, R0, ballot(region, False), quorum=2, now=T0, max_age_s=MAX_AGE).book
    late = vote(book, R0, ballot(REGIONS[2], True), quorum=2, now=T0, max_age_s=MAX_AGE)
    assert (late.taken, late.decided) == (True, None)
    assert [(len(r.votes), r.verdict) for r in late.book.open] == [(3, False)]


def test_rounds_older_than_the_bound_close_undecided_and_their_votes_are_dropped() -> None:
    book = vote(RoundBook(), R0, ballot("eu-west-1", False), quorum=2, now=T0, max_age_s=MAX_AGE).book
    later = T0 + MAX_AGE + 1
    late = vote(book, R0, ballot("us-east-1", False), quorum=2, now=later, max_age_s=MAX_AGE)
    assert (late.taken, late.decided) == (False, None)
    assert (late.book.open, late.book.closed_through, late.book.undecided, late.book.late_dropped) == (
        (),
        R0,
        1,
        1,
    )


def test_open_rounds_are_bounded_and_a_pushed_out_round_stays_closed() -> None:
    book = RoundBook()
    for i in range(OPEN_ROUNDS + 2):
        book = vote(book, rid(i), ballot("eu-west-1", False), quorum=2, now=T0 + 600, max_age_s=MAX_AGE).book
    assert [r.id for r in book.open] == [rid(i) for i in range(2, OPEN_ROUNDS + 2)]
    assert (book.closed_through, book.undecided) == (rid(1), 2)
    closed = vote(book, rid(1), ballot("us-east-1", False), quorum=2, now=T0 + 600, max_age_s=MAX_AGE)
    assert (closed.taken, closed.decided, closed.book.late_dropped) == (False, None, 1)


# -- the state machine on round verdicts -----------------------------------------------------------

SPEC = MonitorSpec(name="geo", regions=list(REGIONS), failure_threshold=2)


def region_obs(region: str, i: int, passed: bool | None) -> Observation:
    at = T0 + 60 * i + 5
    outcome = {True: "ok", False: "check_failed", None: "cancelled"}[passed]
    status = 200 if passed else 503
    return Observation(
        f"{region}-{i}",
        f"run-{region}-{i}",
        at,
        passed,
        outcome,
        status,
        latency_ms=50.0,
        region=region,
        round=rid(i),
    )


def rounds_applied(
    state: SubjectState, words: list[dict[str, bool | None]], spec: MonitorSpec = SPEC
) -> tuple[SubjectState, list[str]]:
    """Apply each round's words (region -> passed), in order; the alerts as 'from->to [regions]'."""
    alerts = []
    for i, word in enumerate(words):
        for region, passed in word.items():
            now = T0 + 60 * i + 10
            state, decided = voted(state, region_obs(region, i, passed), spec, now=now, max_age_s=MAX_AGE)
            if decided is None:
                continue
            moved = advance(state, decided, spec)
            state = moved.state
            if moved.alert is not None:
                _, message = alert_message(spec.name, moved.alert)
                names = ",".join(r.region for r in message.agreeing)
                alerts.append(f"{moved.alert.from_}->{moved.alert.to} [{names}]")
    return state, alerts


EU, US, AP = "eu-west-1", "us-east-1", "ap-southeast-2"


def test_one_region_failing_never_makes_a_url_down() -> None:
    words = [{EU: False, US: True, AP: True}] * 5
    state, alerts = rounds_applied(SubjectState("https://a/"), words)
    assert (state.status, alerts, state.failures) == (Health.UP, [], 0)


def test_two_regions_failing_two_rounds_make_one_down_naming_them_and_two_recovering_one_up() -> None:
    words = [
        {EU: True, US: True, AP: True},
        {EU: False, US: False, AP: True},
        {EU: False, AP: True, US: False},
        {EU: False, US: False},
        {EU: True, AP: True, US: True},
    ]
    state, alerts = rounds_applied(SubjectState("https://a/"), words)
    assert alerts == [f"up->down [{EU},{US}]", f"down->up [{AP},{EU}]"]
    assert state.status is Health.UP
    assert [f.region for f in state.region_facts] == sorted(REGIONS)
    assert {f.region: f.last.passed for f in state.region_facts} == {EU: True, US: True, AP: True}


def test_undecided_rounds_change_no_streak() -> None:
    words = [{EU: False, US: True}, {EU: False, US: True}, {EU: False, US: True}]  # AP never reports
    state, alerts = rounds_applied(SubjectState("https://a/"), words)
    assert (state.status, state.failures, state.successes, alerts) == (Health.UNKNOWN, 0, 0, [])
    assert [r.verdict for r in state.rounds.open] == [None, None, None]


def test_quorum_1_follows_the_first_word_and_quorum_3_needs_every_region() -> None:
    one = SPEC.model_copy(update={"quorum": 1, "failure_threshold": 1})
    _, alerts = rounds_applied(SubjectState("https://a/"), [{EU: True}, {US: False, EU: True}], one)
    assert alerts == [f"up->down [{US}]"]
    every = SPEC.model_copy(update={"quorum": 3, "failure_threshold": 1})
    words = [
        {EU: True, US: True, AP: True},
        {EU: False, US: False, AP: True},
        {EU: False, US: False, AP: False},
    ]
    _, alerts = rounds_applied(SubjectState("https://a/"), words, every)
    assert alerts == [f"up->down [{AP},{EU},{US}]"]


def test_the_same_round_delivered_twice_decides_once() -> None:
    state = SubjectState("https://a/")
    decisions = []
    for region in (EU, EU, US, US, AP):
        state, decided = voted(state, region_obs(region, 0, False), SPEC, now=T0 + 10, max_age_s=MAX_AGE)
        decisions.append(decided is not None)
    assert decisions == [False, False, True, False, False]


def test_region_figures_keep_each_region_s_last_word_and_its_days() -> None:
    facts = ()
    for i in range(4):
        facts = facts_with(facts, replace(ballot(EU, i % 2 == 0, T0 + i), latency_ms=100.0 * (i + 1)))
    [eu] = facts
    assert (eu.last.at, eu.last.passed) == (T0 + 3, False)
    assert [(d.ok, d.failed) for d in eu.days] == [(2, 2)]
    assert eu.days[0].latency[0] is not None
    late = facts_with(facts, ballot(EU, True, T0 - 86_400 * 2))  # a day already gone: last word only
    assert late[0].days == eu.days
    assert late[0].last == eu.last


# -- region liveness ------------------------------------------------------------------------------


def heard_obs(region: str, i: int) -> Observation:
    return Observation(
        f"{region}-{i}", f"run-{region}-{i}", T0 + 60 * i, True, "reported", region=region, round=rid(i)
    )


def liveness_run(
    rounds: list[list[str]], spec: MonitorSpec = SPEC
) -> tuple[dict[str, SubjectState], list[str]]:
    """Each round's reporting regions applied to every region's subject; the alerts made."""
    states = {r: SubjectState(region_subject(r)) for r in REGIONS}
    alerts = []
    for i, reporters in enumerate(rounds):
        for reporter in reporters:
            for region in REGIONS:
                moved = region_heard(states[region], heard_obs(reporter, i), spec)
                states[region] = moved.state
                if moved.alert is not None:
                    _, message = alert_message(spec.name, moved.alert)
                    alerts.append(f"{message.event} {message.region}")
    return states, alerts


def test_a_region_silent_three_rounds_is_alerted_once_and_back_once() -> None:
    rounds = [[EU, US, AP], [EU, US], [US, EU], [EU, US], [EU, US], [AP, EU, US], [EU, US, AP]]
    states, alerts = liveness_run(rounds)
    assert alerts == [f"region_silent {AP}", f"region_back {AP}"]
    assert {r: s.status for r, s in states.items()} == {EU: Health.UP, US: Health.UP, AP: Health.UP}


def test_a_region_that_never_reports_goes_silent_and_a_report_older_than_its_silence_is_not_back() -> None:
    states, alerts = liveness_run([[EU, US]] * 3)
    assert alerts == [f"region_silent {AP}"]
    assert states[AP].status is Health.DOWN
    assert regions_summary(SPEC, list(states.values()))["regions"][0] == {
        "region": AP,
        "status": "silent",
        "since": T0 + 120,
        "last_round": None,
        "missed": 3,
    }
    states, alerts = liveness_run([[EU, US]] * 6)
    old = region_heard(states[AP], heard_obs(AP, 0), SPEC)  # a round before the last 4: still silent
    assert (old.state.status, old.alert) == (Health.DOWN, None)
    kept = region_heard(states[AP], heard_obs(AP, 4), SPEC)  # kept by its outbox, delivered late: back
    assert (kept.state.status, kept.alert is not None) == (Health.UP, True)


def test_silent_after_is_the_monitor_s() -> None:
    spec = SPEC.model_copy(update={"region_silent_after": 1})
    _, alerts = liveness_run([[AP, EU, US], [EU, US], [EU, US, AP]], spec)
    assert alerts == [f"region_silent {AP}", f"region_back {AP}"]
    _, alerts = liveness_run([[EU, US, AP], [US, EU, AP]], spec)  # the last to report: not silent
    assert alerts == []


def test_a_silent_and_back_alert_share_their_incident() -> None:
    rounds = [[EU, US, AP], [EU, US], [EU, US], [EU, US], [EU, US, AP]]
    states = {r: SubjectState(region_subject(r)) for r in REGIONS}
    incidents = []
    for i, reporters in enumerate(rounds):
        for reporter in reporters:
            moved = region_heard(states[AP], heard_obs(reporter, i), SPEC)
            states[AP] = moved.state
            if moved.alert is not None:
                incidents.append(alert_message(SPEC.name, moved.alert)[1].incident)
    assert len(incidents) == 2
    assert incidents[0] == incidents[1]


def test_liveness_keeps_only_the_rounds_it_needs() -> None:
    live = Liveness()
    for i in range(20):
        live = heard(live, rid(i), reporter=AP if i == 0 else EU, region=AP, keep=4)
    assert [r for r, _ in live.known] == [rid(i) for i in range(16, 20)]
    assert (live.last, live.missed(AP, REGIONS)) == (rid(0), 3)  # US has not reported the newest
    live = heard(live, rid(19), reporter=US, region=AP, keep=4)
    assert live.missed(AP, REGIONS) == 4


@pytest.mark.parametrize("silent_after", [1, 2, 3])
def test_a_region_a_little_behind_the_others_has_missed_nothing(silent_after: int) -> None:
    spec = SPEC.model_copy(update={"region_silent_after": silent_after})
    _, alerts = liveness_run([[EU, US, AP], [EU, US, AP], [US, EU, AP], [EU, US, AP]], spec)
    assert alerts == []


def test_round_ids_are_minutes_and_epochs() -> None:
    assert R0 == "2026-11-30T00:54:00Z"
    assert round_epoch(R0) == T0
    assert round_of_start(T0 + 59.9) == R0
