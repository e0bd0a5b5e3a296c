"""Sharded runs, the pure part: modes, messages and their sizes, leftovers, the merge (``runs.shards``)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from fanout.aws.shard_queue import batches
from fanout.config import SQS_MAX_MESSAGE_BYTES, ConfigError, get_settings, load_settings
from fanout.core.documents import RunDocument, Source
from fanout.core.requests import UrlEntry, parse_request
from fanout.core.results import Outcome, Summary, UrlResult
from fanout.errors import MergeError, RequestInvalid, ShardInvalid
from fanout.runs.shards import outcome as shards_outcome
from fanout.runs.shards import plan as shards
from fanout.runs.shards.outcome import ShardOutcome
from fanout.runs.shards.plan import RunHeader, ShardMessage

SETTINGS = get_settings()
HEADER = RunHeader(
    run_id="0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
    source=Source.DIRECT,
    started_at="2026-11-25T01:53:12.391Z",
    options=parse_request({"urls": ["https://e.example/"]}, get_settings()).options,
)


def indexed(urls: list[Any]) -> list[tuple[int, Any]]:
    entries = parse_request({"urls": urls}, get_settings()).entries()
    return [(i, shards.encode_entry(e)) for i, e in enumerate(entries)]


# -- mode --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "n", "source", "on", "expected"),
    [
        ("auto", SETTINGS.shard_threshold_api, "api", True, "inline"),
        ("auto", SETTINGS.shard_threshold_api + 1, "api", True, "sharded"),
        ("auto", SETTINGS.shard_threshold_api + 1, "direct", True, "inline"),
        ("auto", SETTINGS.shard_threshold + 1, "schedule", True, "sharded"),
        ("auto", SETTINGS.shard_threshold + 1, "schedule", False, "inline"),
        ("sharded", 1, "schedule", True, "sharded"),
        ("inline", SETTINGS.shard_threshold + 1, "direct", True, "inline"),
    ],
)
def test_which_runs_are_sharded(mode: str, n: int, source: Any, on: bool, expected: str) -> None:
    request = parse_request({"urls": ["https://e.example/"] * n, "mode": mode}, get_settings())
    assert shards.run_mode(request, Source(source), SETTINGS, sharding_on=on) == expected


def test_the_request_fields_are_strict() -> None:
    assert parse_request({"urls": ["https://e.example/"]}, get_settings()).mode == "auto"
    for bad in ({"mode": "later"}, {"carry_over": "yes"}):
        with pytest.raises(RequestInvalid):
            parse_request({"urls": ["https://e.example/"], **bad}, get_settings())


# -- messages ----------------------------------------------------------------------------


def test_an_entry_is_sent_as_short_as_it_can_be_and_comes_back_the_same() -> None:
    urls: list[Any] = [
        "https://e.example/a",
        {"url": "https://e.example/b", "method": "POST", "json": {"n": 1}, "retry": True},
        {"url": "https://e.example/c", "headers": {"X-Sig": "abc"}},
    ]
    pairs = indexed(urls)
    assert pairs[0] == (0, "https://e.example/a")
    message = ShardMessage(HEADER, "00000-g0", 0, tuple(pairs))
    back = shards.parse_message(message.body())
    assert back == message
    assert back.request().entries() == parse_request({"urls": urls}, get_settings()).entries()
    assert back.request().options == HEADER.options


def test_a_runs_shard_size_is_its_own_else_the_deployments_and_never_above_its_most_urls() -> None:
    deployment = SETTINGS.model_copy(update={"shard_size": 500, "max_urls": 2_000, "min_shard_size": 5})

    def options(**given: Any) -> Any:
        return parse_request({"urls": ["https://e.example/"], "options": given}, deployment).options

    assert shards.shard_size(deployment, options()) == 500
    assert shards.shard_size(deployment, options(shard_size=2_000)) == 2_000
    assert shards.shard_size(deployment, options(shard_size=5)) == 5
    # FANOUT_SHARD_SIZE above FANOUT_MAX_URLS: a shard is still a request the function takes.
    above = deployment.model_copy(update={"shard_size": 5_000})
    assert shards.shard_size(above, options()) == 2_000


def test_shards_hold_at_most_shard_size_entries_and_max_bytes_in_input_order() -> None:
    pairs = indexed([f"https://e.example/{i}?q={'x' * (i % 50)}" for i in range(1_234)])
    messages = shards.split(HEADER, pairs, shard_size=100, max_bytes=SETTINGS.shard_message_max_bytes)
    assert [len(m.entries) for m in messages] == [100] * 12 + [34]
    assert [i for m in messages for i, _ in m.entries] == list(range(1_234))
    assert [m.shard for m in messages[:2]] == ["00000-g0", "00001-g0"]

    small = shards.split(HEADER, pairs, shard_size=1_000, max_bytes=10_000)
    assert all(len(m.body()) <= 10_000 for m in small)
    assert len(small) > 2
    assert [i for m in small for i, _ in m.entries] == list(range(1_234))


def test_a_message_at_the_largest_shard_id_still_fits() -> None:
    pairs = indexed([f"https://e.example/{'y' * 900}/{i}" for i in range(2_000)])
    max_bytes = 50_000
    messages = shards.split(HEADER, pairs, shard_size=2_000, max_bytes=max_bytes, first_number=99_990)
    for message in messages:
        worst = dataclasses.replace(message, shard="99999-g999", generation=999)
        assert len(worst.body()) <= max_bytes
        assert message.body().isascii()


def test_an_entry_too_large_for_any_message_is_named() -> None:
    request = parse_request(
        {
            "urls": [
                "https://e.example/",
                {"url": "https://e.example/", "method": "POST", "json": "é" * 50_000},
            ]
        },
        get_settings(),
    )
    errors = shards.oversized(HEADER, shards.encoded_entries(request), 100_000, loc="targets")
    assert [(e["loc"], e["type"]) for e in errors] == [("targets.1", "entry_too_large")]
    with pytest.raises(ShardInvalid):
        shards.split(
            HEADER, [(0, shards.encode_entry(request.entries()[1]))], shard_size=10, max_bytes=100_000
        )


def test_a_requests_encoded_entries_are_its_entries_encoded_without_a_model_per_bare_url() -> None:
    request = parse_request(
        {
            "urls": [
                "https://e.example/a",
                {"url": "https://e.example/b"},
                {"url": "https://e.example/c", "method": "GET"},
                {"url": "https://e.example/d", "method": "POST", "json": {"k": "é"}},
                "https://e.example/é?q=\u2028",
            ]
        },
        get_settings(),
    )
    encoded = shards.encoded_entries(request)
    assert encoded == [shards.encode_entry(e) for e in request.entries()]
    assert encoded[:3] == ["https://e.example/a", "https://e.example/b", "https://e.example/c"]
    assert isinstance(encoded[3], dict)


@pytest.mark.parametrize(
    "entry",
    ["https://e.example/", 'https://e.example/é"\u2028', {"url": "https://e.example/", "method": "POST"}],
)
@pytest.mark.parametrize("index", [0, 9, 10, 123_456])
def test_an_entrys_size_is_what_it_adds_to_the_message_body(entry: Any, index: int) -> None:
    bare = ShardMessage(HEADER, "00000-g0", 0, ())
    one = ShardMessage(HEADER, "00000-g0", 0, ((index, entry),))
    two = ShardMessage(HEADER, "00000-g0", 0, ((index, entry), (index, entry)))
    assert len(one.body()) - len(bare.body()) == shards.entry_bytes(index, entry) - 1
    assert len(two.body()) - len(one.body()) == shards.entry_bytes(index, entry)


def test_send_calls_hold_ten_messages_and_256_kib_at_most() -> None:
    bodies = ["a" * 100] * 25 + ["b" * 200_000, "c" * 200_000, "d" * 10]
    calls = batches(bodies)
    assert [len(c) for c in calls] == [10, 10, 6, 2]
    assert all(sum(len(b) for b in c) <= SQS_MAX_MESSAGE_BYTES for c in calls)
    assert [b for c in calls for b in c] == bodies


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[]",
        json.dumps({"v": 2}),
        json.dumps({"v": 1, "run_id": "x", "shard": "00000-g0"}),
        ShardMessage(HEADER, "00000-g0", 0, ((0, "https://e.example/"),))
        .body()
        .replace('"shard":"00000-g0"', '"shard":"zz"'),
        ShardMessage(HEADER, "00000-g0", 0, ()).body(),
        ShardMessage(HEADER, "00000-g0", 0, ((True, "https://e.example/"),)).body(),
    ],
)
def test_anything_but_a_shard_is_a_poison_message(body: str) -> None:
    with pytest.raises(ShardInvalid):
        shards.parse_message(body)


def test_a_shard_with_a_bad_entry_is_a_poison_message() -> None:
    message = ShardMessage(HEADER, "00000-g0", 0, ((0, {"url": "https://e.example/", "method": "FETCH"}),))
    with pytest.raises(ShardInvalid, match="00000-g0"):
        shards.parse_message(message.body()).request()


# -- leftovers and generations --------------------------------------------------------------


def result(url: str, outcome: Outcome) -> UrlResult:
    return UrlResult(url, outcome, None, 0, None, None, None)


def shard_document(outcomes: list[Outcome], *, deadline: bool = True, stopped: bool = False) -> RunDocument:
    results = tuple(result(f"https://e.example/{i}", o) for i, o in enumerate(outcomes))
    return RunDocument(
        run_id=HEADER.run_id,
        source=HEADER.source,
        started_at=HEADER.started_at,
        summary=Summary.of_results(results),
        results=results,
        deadline_reached=deadline,
        stopped_on_error=stopped,
    )


URLS: list[Any] = [
    "https://e.example/0",
    "https://e.example/1",
    "https://e.example/2",
    {"url": "https://e.example/3", "method": "POST"},
    {"url": "https://e.example/4", "method": "POST", "retry": True},
]
OUTCOMES = [Outcome.OK, Outcome.NOT_STARTED, Outcome.CANCELLED, Outcome.CANCELLED, Outcome.CANCELLED]


def test_leftovers_are_what_the_deadline_cut_and_may_run_again() -> None:
    entries = parse_request({"urls": URLS}, get_settings()).entries()
    assert shards_outcome.leftover_indexes(shard_document(OUTCOMES), entries) == [1, 2, 4]
    assert shards_outcome.leftover_indexes(shard_document(OUTCOMES, deadline=False), entries) == []
    assert shards_outcome.leftover_indexes(shard_document(OUTCOMES, stopped=True), entries) == []


def test_a_shard_continues_its_leftovers_as_the_next_generation() -> None:
    message = ShardMessage(
        HEADER, "00007-g1", 1, tuple((10 + i, e) for i, (_, e) in enumerate(indexed(URLS)))
    )
    entries = message.request().entries()
    outcome = shards_outcome.shard_outcome(message, entries, shard_document(OUTCOMES), max_generations=3)
    assert [i for i, _ in outcome.results] == [10, 13]
    assert [i for i, _ in outcome.leftovers] == [11, 12, 14]
    assert outcome.continuation == "00007-g2"
    assert outcome.counts()["cancelled"] == 1  # the POST: final, not repeated
    following = shards_outcome.continuation(HEADER, outcome)
    assert following is not None
    assert (following.shard, following.generation) == ("00007-g2", 2)
    assert [i for i, _ in following.entries] == [11, 12, 14]
    assert ShardOutcome.from_json(json.loads(json.dumps(outcome.to_json()))) == outcome


def test_past_the_last_generation_leftovers_are_given_up_with_their_outcome() -> None:
    message = ShardMessage(HEADER, "00007-g3", 3, tuple(indexed(URLS)))
    outcome = shards_outcome.shard_outcome(
        message, message.request().entries(), shard_document(OUTCOMES), max_generations=3
    )
    assert outcome.leftovers == ()
    assert outcome.continuation is None
    assert outcome.given_up == 3
    given_up = {i: r for i, r in outcome.results if r.error}
    assert sorted(given_up) == [1, 2, 4]
    assert {r.error.type for r in given_up.values() if r.error} == {"given_up"}
    assert [given_up[i].outcome.value for i in (1, 2, 4)] == ["not_started", "cancelled", "cancelled"]
    assert shards_outcome.continuation(HEADER, outcome) is None


def test_the_inline_pseudo_shard_continues_as_generation_one() -> None:
    assert shards.continuation_id(shards.INLINE_SHARD, 1) == "00000-g1"


# -- the merge ---------------------------------------------------------------------------


def outcome_of(shard: str, pairs: list[tuple[int, str]]) -> ShardOutcome:
    return ShardOutcome(shard, 0, tuple((i, result(u, Outcome.OK)) for i, u in pairs), (), None, 0)


def test_the_merge_puts_every_result_back_in_input_order() -> None:
    merged = shards_outcome.merge(
        4,
        [outcome_of("00001-g0", [(3, "d"), (1, "b")]), outcome_of("00000-g0", [(0, "a")]),
         outcome_of("00001-g1", [(2, "c")])],
    )  # fmt: skip
    assert [r.url for r in merged] == ["a", "b", "c", "d"]


@pytest.mark.parametrize(
    "outcomes",
    [
        [outcome_of("a", [(0, "a"), (1, "b")]), outcome_of("b", [(1, "b")])],
        [outcome_of("a", [(0, "a")])],
        [outcome_of("a", [(0, "a"), (1, "b"), (2, "c")])],
    ],
    ids=["twice", "missing", "out-of-range"],
)
def test_a_merge_that_is_not_exactly_once_is_refused(outcomes: list[ShardOutcome]) -> None:
    with pytest.raises(MergeError):
        shards_outcome.merge(2, outcomes)


# -- settings --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "env",
    [
        {"FANOUT_SHARD_SIZE": "0"},
        {"FANOUT_SHARD_THRESHOLD_API": "0"},
        {"FANOUT_SHARD_MESSAGE_MAX_BYTES": "262145"},
        {"FANOUT_SHARD_MESSAGE_MAX_BYTES": "9999"},
        {"FANOUT_SHARD_MAX_GENERATIONS": "-1"},
        {"FANOUT_SHARD_FINISH_BUDGET_S": "0"},
    ],
)
def test_bad_shard_settings_are_refused(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        load_settings(env)


def test_an_entry_is_a_url_entry() -> None:
    assert isinstance(parse_request({"urls": ["https://e.example/"]}, get_settings()).entries()[0], UrlEntry)
