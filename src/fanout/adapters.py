"""Event-source adapters: turn whatever Lambda was handed into (source, request body).

Three ways in, told apart by shape:

- API Gateway HTTP API (payload v2): ``version == "2.0"`` and ``requestContext.http``;
  answered by the HTTP front door (``http_api``), not here.
- EventBridge schedule: the "Scheduled Event" envelope (``detail-type`` and ``source``
  ``aws.events``/``aws.scheduler``, the request in ``detail``), or a rule's constant
  ``Input`` marked with ``"source": "schedule"``. The envelope's ``id``, or the constant
  Input's ``event_id`` (the template fills it from EventBridge Scheduler's context
  attributes), identifies the delivery: retries and duplicates carry the same one, and
  it is the run's idempotency key.
- Direct invoke: the request body itself (``{"urls": [...], "options": {...}}``).

And one way in that is the service's own: the shard queue (an SQS event source mapping:
``Records`` whose ``eventSource`` is ``aws:sqs``), answered by ``shard_runs.consume``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fanout.contract import Source

SCHEDULE_SOURCES = frozenset({"aws.events", "aws.scheduler"})


@dataclass(frozen=True, slots=True)
class Inbound:
    source: Source
    payload: object
    event_id: str | None = None


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


def _is_schedule_envelope(event: dict[str, Any]) -> bool:
    return event.get("source") in SCHEDULE_SOURCES and "detail-type" in event


def classify(event: object) -> Inbound:
    """Which way in ``event`` came, and the request body it carries."""
    if isinstance(event, dict):
        if _is_schedule_envelope(event):
            event_id = event.get("id")
            return Inbound(
                "schedule", event.get("detail"), event_id=event_id if isinstance(event_id, str) else None
            )
        if event.get("source") == "schedule":
            body = {k: v for k, v in event.items() if k not in ("source", "event_id")}
            event_id = event.get("event_id")
            return Inbound("schedule", body, event_id=event_id if isinstance(event_id, str) else None)
    return Inbound("direct", event)
