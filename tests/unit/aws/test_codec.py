"""The runs table's items, without DynamoDB: what is written is what is read back."""

from __future__ import annotations

import pytest

from fanout.aws.codec import (
    DONE_SHARDS,
    RUN_KIND,
    TTL_ATTRIBUTE,
    expired,
    from_attr,
    item_record,
    record_item,
    to_attr,
)
from fanout.config import get_settings
from fanout.core.documents import SHARDED, RunDocument, RunStatus, Source
from fanout.core.records import Generations, ReportLocation, RunRecord
from fanout.core.requests import Options
from fanout.core.results import ErrorInfo, Outcome, Summary

STARTED = "2026-12-01T10:00:00.000Z"


def inline_record() -> RunRecord:
    document = RunDocument(
        run_id="01a2331a-3fe8-7221-a395-603fb1ce5fda",
        source=Source.API,
        started_at=STARTED,
        summary=Summary.of([Outcome.OK, Outcome.FAILED]),
        budget_ms=27_500.0,
        elapsed_ms=123.4,
        deadline_reached=False,
        stopped_on_error=False,
        targets="s3://bucket/list.txt",
        finished_at="2026-12-01T10:00:01.000Z",
    )
    return RunRecord(document, report=ReportLocation("bucket", "reports/2026/12/01/x.json.gz"))


def sharded_record() -> RunRecord:
    document = RunDocument(
        run_id="01a2331a-3fe8-7221-a395-603fb1ce5fdb",
        source=Source.SCHEDULE,
        started_at=STARTED,
        summary=Summary.of([Outcome.OK] * 3, total=10),
        mode=SHARDED,
        status=RunStatus.RUNNING,
        given_up=0,
        shards_total=4,
        shards_done=1,
        carried_over=7,
    )
    options = Options.model_validate({"concurrency": 20, "request_timeout_s": 3.5}, context=get_settings())
    error = ErrorInfo("ShardsNotSent", "refused")
    return RunRecord(
        document,
        options=options,
        max_generations=3,
        error=error,
        done_shards=frozenset({"inline"}),
        generations=Generations(
            sent=3, generation=1, cut=frozenset({"00001-g1"}), collector="00000-g0", sent_generation=0
        ),
    )


@pytest.mark.parametrize("record", [inline_record(), sharded_record()], ids=["inline", "sharded"])
def test_a_record_comes_back_as_it_was_written(record: RunRecord) -> None:
    item = record_item(record, expires_at=1_800_000_000)
    assert item["kind"] == {"S": RUN_KIND}
    assert item[TTL_ATTRIBUTE] == {"N": "1800000000"}
    back = item_record(item)
    assert back.document == record.document
    assert (back.report, back.options) == (record.report, record.options)
    assert (back.max_generations, back.error, back.done_shards, back.generations) == (
        record.max_generations,
        record.error,
        record.done_shards,
        record.generations,
    )
    assert back.expires_at == 1_800_000_000


def test_bookkeeping_is_stored_but_never_shown() -> None:
    item = record_item(sharded_record(), expires_at=1_800_000_000)
    assert item[DONE_SHARDS] == {"SS": ["inline"]}
    view = item_record(item).to_view().to_json()
    assert DONE_SHARDS not in view
    assert not {"shards_sent", "generation", "cut_shards", "collector", "sent_generation"} & set(view)
    assert "kind" not in view
    assert view["expires_at"] == "2027-01-15T08:00:00Z"
    assert view["progress"] == {"shards_done": 1, "shards_total": 4, "urls_done": 3, "urls_total": 10}
    assert view["summary"]["total"] == 10
    assert "progress" not in item_record(record_item(inline_record(), expires_at=1)).to_view().to_json()


@pytest.mark.parametrize(
    "value", [None, True, False, 0, -3, 2.5, "text", "", {"a": [1, {"b": None}]}, [], [1.5, "x"]]
)
def test_attribute_values_round_trip_without_decimals(value: object) -> None:
    assert from_attr(to_attr(value)) == value
    assert type(from_attr(to_attr(value))) is type(value)


def test_what_dynamodb_cannot_store_is_refused() -> None:
    with pytest.raises(TypeError):
        to_attr(object())


def test_an_item_past_its_ttl_is_expired_until_dynamodb_deletes_it() -> None:
    item = record_item(inline_record(), expires_at=1_000)
    assert expired(item, now=1_001)
    assert not expired(item, now=999)
    assert not expired({"run_id": {"S": "x"}}, now=1e12)


def test_a_record_from_before_generations_were_kept_reads_without_them() -> None:
    item = record_item(sharded_record(), expires_at=1_800_000_000)
    for name in ("shards_sent", "generation", "cut_shards", "collector", "sent_generation"):
        del item[name]
    assert item_record(item).generations is None


def test_a_generation_is_counted_when_every_shard_sent_is_and_places_are_held() -> None:
    record = sharded_record()  # 4 in all: 3 sent (1 counted), 1 place held by a cut shard
    assert record.generations is not None
    assert record.generations.cut_in(1) == ["00001-g1"]
    assert record.generations.cut_in(0) == []
    assert not record.generation_counted
    counted = RunRecord(record.document.replaced(shards_done=3), generations=record.generations)
    assert counted.generation_counted
    assert not counted.all_counted
    assert record.generations.unsent  # collected, not marked sent
    collected = Generations(sent=4, generation=2)
    assert not collected.unsent
    assert not RunRecord(record.document.replaced(shards_done=3), generations=collected).generation_counted
    assert RunRecord(record.document.replaced(shards_done=4), generations=collected).all_counted
