"""Held leftovers (``runs.shards``): a URL cut while in flight carries how long it had, and a
generation that cannot give it twice that gives it up without fetching it again."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fanout.config import get_settings
from fanout.core.documents import RunDocument, Source
from fanout.core.requests import parse_request
from fanout.core.results import Outcome, Summary, UrlResult
from fanout.errors import ShardInvalid
from fanout.runs.shards import outcome as shards_outcome
from fanout.runs.shards import plan as shards
from fanout.runs.shards.outcome import HELD_GAIN, ShardOutcome
from fanout.runs.shards.plan import RunHeader, ShardMessage

HEADER = RunHeader(
    run_id="0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
    source=Source.DIRECT,
    started_at="2026-11-25T01:53:12.391Z",
    options=parse_request({"urls": ["https://e.example/"]}, get_settings()).options,
)
URLS = [f"https://e.example/{i}" for i in range(4)]


def message(generation: int = 0, held: tuple[tuple[int, float], ...] = ()) -> ShardMessage:
    return ShardMessage(HEADER, f"00002-g{generation}", generation, tuple(enumerate(URLS)), held)


def document(results: list[UrlResult]) -> RunDocument:
    return RunDocument(
        run_id=HEADER.run_id,
        source=HEADER.source,
        started_at=HEADER.started_at,
        summary=Summary.of_results(results),
        results=tuple(results),
        deadline_reached=True,
    )


def test_leftovers_cut_in_flight_carry_what_they_had_into_their_continuation() -> None:
    m = message()
    results = [
        UrlResult(URLS[0], Outcome.OK, 200, 1, 12.0),
        UrlResult(URLS[1], Outcome.CANCELLED, None, 1, 6_400.0),
        UrlResult(URLS[2], Outcome.NOT_STARTED),
        UrlResult(URLS[3], Outcome.CANCELLED, None, 1, 900.0),
    ]
    outcome = shards_outcome.shard_outcome(m, m.request().entries(), document(results), max_generations=3)
    assert [i for i, _ in outcome.leftovers] == [1, 2, 3]
    assert outcome.held == ((1, 6_400.0), (3, 900.0))  # never started: nothing held
    assert ShardOutcome.from_json(json.loads(json.dumps(outcome.to_json()))) == outcome
    following = shards_outcome.continuation(HEADER, outcome)
    assert following is not None
    parsed = shards.parse_message(following.body())
    assert parsed.held == ((1, 6_400.0), (3, 900.0))
    assert parsed.generation == 1


def test_a_generation_gives_up_what_it_cannot_give_twice_the_time_it_had() -> None:
    m = message(1, held=((1, 6_400.0), (3, 900.0)))
    left, entries, gave_up = shards_outcome.give_up_held(m, m.request().entries(), can_give_ms=6_500.0)
    assert [i for i, _ in left.entries] == [0, 2, 3]  # 3 had 900 ms: 6.5 s is more than twice that
    assert [e.url for e in entries] == [URLS[0], URLS[2], URLS[3]]
    assert left.held == ((3, 900.0),)
    ((index, result),) = gave_up
    assert index == 1
    assert result.outcome is Outcome.CANCELLED
    assert result.error is not None
    assert result.error.type == "given_up"
    assert "not fetched again" in result.error.message
    assert result.elapsed_ms == 6_400.0


def test_twice_the_time_it_had_is_enough_to_fetch_it_again() -> None:
    m = message(1, held=((1, 1_000.0),))
    left, _, gave_up = shards_outcome.give_up_held(m, m.request().entries(), can_give_ms=1_000.0 * HELD_GAIN)
    assert gave_up == []
    assert left == m


def test_given_up_and_fetched_results_merge_into_one_outcome_in_index_order() -> None:
    m = message(1, held=((1, 6_400.0),))
    left, entries, gave_up = shards_outcome.give_up_held(m, m.request().entries(), can_give_ms=6_000.0)
    fetched = [UrlResult(e.url, Outcome.OK, 200, 1, 5.0) for e in entries]
    outcome = shards_outcome.shard_outcome(
        left, entries, document(fetched), max_generations=3, gave_up=gave_up
    )
    assert [i for i, _ in outcome.results] == [0, 1, 2, 3]
    assert outcome.given_up == 1
    assert outcome.continuation is None
    assert outcome.counts()["cancelled"] == 1
    assert outcome.counts()["ok"] == 3


def test_when_everything_is_given_up_nothing_is_fetched() -> None:
    m = message(2, held=tuple((i, 5_000.0) for i in range(4)))
    left, entries, gave_up = shards_outcome.give_up_held(m, m.request().entries(), can_give_ms=5_000.0)
    assert left.entries == ()
    assert entries == []
    outcome = shards_outcome.shard_outcome(left, entries, None, max_generations=3, gave_up=gave_up)
    assert outcome.given_up == 4
    assert outcome.leftovers == ()
    assert outcome.continuation is None


@pytest.mark.parametrize("held", [[[1]], [[1, -5]], [["1", 5]], [[1, True]], "x", [[1, 1e12]]])
def test_held_times_that_are_not_index_and_milliseconds_make_a_poison_shard(held: Any) -> None:
    body = json.loads(message().body())
    body["held"] = held
    with pytest.raises(ShardInvalid):
        shards.parse_message(json.dumps(body))


def test_a_message_without_held_times_parses_as_before() -> None:
    body = message().body()
    assert "held" not in json.loads(body)
    assert shards.parse_message(body).held == ()


def test_held_times_count_in_a_messages_size_and_are_dropped_when_they_do_not_fit() -> None:
    entries = [(i, f"https://e.example/{'x' * 50}/{i}") for i in range(40)]
    held = dict.fromkeys(range(40), 1234.5)
    with_held = shards.split(HEADER, entries, shard_size=40, max_bytes=10_000, held=held)
    assert all(len(m.body()) <= 10_000 for m in with_held)
    assert sum(len(m.held) for m in with_held) == 40
    big = ShardMessage(HEADER, "00000-g1", 1, tuple(entries), tuple(held.items()))
    limit = len(big.body()) - 1
    assert shards.fits(big, limit).held == ()
    assert shards.fits(big, len(big.body())) is big
