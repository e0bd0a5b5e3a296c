"""Which way in an event came, told apart by shape, and the module that answers it:

- API Gateway HTTP API (payload v2): ``version == "2.0"`` and ``requestContext.http`` -> ``api``;
- the shard queue (an SQS event source mapping: ``Records`` from ``aws:sqs``) -> ``sqs``;
- an EventBridge schedule (envelope or constant ``Input``) -> ``schedule``, then ``direct``;
- anything else is a direct invoke -> ``direct``.
"""

from __future__ import annotations

from typing import Any

from fanout.config import get_settings
from fanout.core.budget import LambdaContextLike
from fanout.core.documents import Source
from fanout.entry import direct
from fanout.entry.schedule import scheduled
from fanout.runs.invocation import Invocation


def is_http_api_event(event: object) -> bool:
    return (
        isinstance(event, dict)
        and event.get("version") == "2.0"
        and isinstance(event.get("requestContext"), dict)
        and "http" in event["requestContext"]
    )


def is_sqs_event(event: object) -> bool:
    """A batch from an SQS event source mapping (the shard queue)."""
    if not isinstance(event, dict):
        return False
    records = event.get("Records")
    return (
        isinstance(records, list)
        and bool(records)
        and all(isinstance(r, dict) and r.get("eventSource") == "aws:sqs" for r in records)
    )


def handle_event(event: object, context: LambdaContextLike) -> dict[str, Any]:
    """Answer any of the ways in; bad input gets a typed error, never an exception. The
    invocation's loop is closed before this returns."""
    invocation = Invocation.begin(context, get_settings())
    try:
        return _dispatch(event, invocation)
    finally:
        invocation.close()


def _dispatch(event: object, invocation: Invocation) -> dict[str, Any]:
    if is_sqs_event(event):
        assert isinstance(event, dict)
        from fanout.entry import sqs  # the shard consumer: only for the shard queue's events

        return sqs.consume(event, invocation)
    if is_http_api_event(event):
        assert isinstance(event, dict)
        # The HTTP API (the resolver, its routes and request validation): built on its first event.
        from fanout.entry import api

        return api.answer(event, invocation)
    if isinstance(event, dict) and (schedule := scheduled(event)) is not None:
        return direct.answer(schedule.payload, Source.SCHEDULE, invocation, event_id=schedule.event_id)
    return direct.answer(event, Source.DIRECT, invocation, event_id=None)
