"""Which way in an event came, by its shape alone (``entry.router``, ``entry.schedule``)."""

from __future__ import annotations

from typing import Any

import pytest

from devtools.events import load_event
from fanout.entry.router import is_http_api_event, is_sqs_event
from fanout.entry.schedule import scheduled

SQS_RECORD = {"messageId": "m", "body": "{}", "eventSource": "aws:sqs"}


def test_an_http_api_v2_event_is_the_api() -> None:
    event = load_event("api.json")
    assert is_http_api_event(event)
    assert not is_sqs_event(event)
    assert scheduled(event) is None


@pytest.mark.parametrize(
    "event",
    [
        {"version": "1.0", "requestContext": {"http": {}}},  # REST API (payload v1) is not served
        {"version": "2.0", "requestContext": {}},
        {"version": "2.0", "requestContext": "http"},
        {"urls": ["https://e.example/"]},
        [],
        None,
    ],
)
def test_anything_else_is_not_the_api(event: Any) -> None:
    assert not is_http_api_event(event)


def test_a_batch_from_the_shard_queue_is_sqs() -> None:
    assert is_sqs_event({"Records": [SQS_RECORD, SQS_RECORD]})
    assert not is_sqs_event({"Records": []})
    assert not is_sqs_event({"Records": [SQS_RECORD, {"eventSource": "aws:sns"}]})
    assert not is_sqs_event({"Records": "x"})


def test_the_scheduled_event_envelope_carries_the_request_and_its_delivery_id() -> None:
    event = load_event("schedule.json")
    found = scheduled(event)
    assert found is not None
    assert found.payload == event["detail"]
    assert found.event_id == event["id"]
    scheduler = event | {"source": "aws.scheduler"}
    assert scheduled(scheduler) is not None


def test_a_constant_input_is_the_request_marked_schedule() -> None:
    event = load_event("schedule-input.json")
    found = scheduled(event)
    assert found is not None
    assert isinstance(found.payload, dict)
    assert "source" not in found.payload
    assert "event_id" not in found.payload
    assert found.payload["urls"] == event["urls"]
    assert found.event_id == event.get("event_id")
    assert scheduled({"source": "schedule", "urls": [], "event_id": 7}) == type(found)({"urls": []}, None)


@pytest.mark.parametrize(
    "event",
    [
        {"urls": ["https://e.example/"]},
        {"source": "aws.events", "detail": {}},  # no detail-type: not the envelope
        {"source": "my.app", "detail-type": "x", "detail": {}},
    ],
)
def test_a_direct_request_is_not_a_schedule(event: dict[str, Any]) -> None:
    assert scheduled(event) is None
