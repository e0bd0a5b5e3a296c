"""Documents exactly as the previous code wrote them (``previous/``, captured from its hand-written
``to_json`` before the documents became msgspec models) read back, and are written again the same:
stored reports, records and monitor states of a deployed version keep working after an upgrade."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from fanout.aws.codec import item_record, record_item
from fanout.aws.monitor_codec import item_state, state_item
from fanout.core.alerts import alert_message
from fanout.core.documents import RunDocument
from fanout.core.monitor_views import MonitorUrl
from fanout.core.records import RunView
from fanout.runs.shards.outcome import ShardOutcome

PREVIOUS = Path(__file__).parent / "previous"
EXPIRES_AT = 1_800_000_000


def previous(name: str) -> Any:
    return json.loads((PREVIOUS / name).read_text())


def test_a_stored_run_document_reads_back_and_is_written_the_same() -> None:
    data = previous("run_document.json")
    document = RunDocument.from_json(data)
    assert document.to_json() == data
    assert json.loads(document.to_bytes()) == data
    assert document.monitor is not None
    assert document.monitor.all_transitions == 5
    assert document.results is not None
    assert document.results[3].failed_checks == ("json:/status",)


@pytest.mark.parametrize("kind", ["inline", "sharded"])
def test_a_stored_run_item_reads_back_and_is_written_the_same(kind: str) -> None:
    item = previous("run_items.json")[kind]
    record = item_record(item)
    assert record.expires_at == EXPIRES_AT
    written = record_item(record, expires_at=EXPIRES_AT)
    assert written.keys() == item.keys()
    for name, attribute in item.items():
        if name in NESTED_REQUEST_PARTS:  # request parts, JSON in a string: fields added since are null
            assert _without_added_nulls(written[name]["S"], attribute["S"]) == json.loads(attribute["S"])
        else:
            assert written[name] == attribute, name


NESTED_REQUEST_PARTS = ("options", "monitor_spec")


def _without_added_nulls(written: str, previous_json: str) -> dict[str, Any]:
    """``written`` less the null fields the previous version did not have (options added since)."""
    before = json.loads(previous_json)
    return {k: v for k, v in json.loads(written).items() if k in before or v is not None}


def test_a_sharded_record_keeps_its_options_and_monitor() -> None:
    record = item_record(previous("run_items.json")["sharded"])
    assert record.options is not None
    assert record.options.concurrency == 20
    assert record.monitor is not None
    assert record.monitor.name == "prod"
    assert (record.observation_key, record.done_shards) == ("evt-1", frozenset({"inline"}))


def test_a_run_view_is_shown_as_before() -> None:
    document = RunDocument.from_json(previous("run_document.json"))
    record = replace(item_record(previous("run_items.json")["inline"]), expires_at=None)
    view = RunView.of(record, document.results, report=document.without_results())
    assert view.to_json() == previous("run_view.json")


def test_a_stored_shard_outcome_reads_back_and_is_written_the_same() -> None:
    data = previous("shard_outcome.json")
    assert ShardOutcome.from_json(data).to_json() == data


def test_a_monitor_state_its_alert_and_its_view_are_as_before() -> None:
    item = previous("monitor_state_item.json")
    state = item_state(item)
    assert state_item("prod", state, version=3, expires_at=EXPIRES_AT) == item
    alert = alert_message("prod", state.pending[0])[1].to_json()
    added = {"id", "event", "incident", "group", "changes"}  # the alert document's fields since (issue 23)
    added |= {"region", "regions"}  # ... and since issue 25 (a regional monitor's alerts)
    assert {k: v for k, v in alert.items() if k not in added} == previous("alert.json")
    assert (alert["id"], alert["event"], alert["group"]) == (state.pending[0].id, "changed", None)
    view = MonitorUrl.of(state, 1_780_000_200.0).to_json()
    assert view.pop("suppressed_by") == []  # the view's field since (issue 23)
    assert view.pop("regions") == []  # ... and since issue 25 (a regional monitor's URL per region)
    assert view == previous("monitor_url_view.json")
