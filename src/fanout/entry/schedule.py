"""The EventBridge schedule: the "Scheduled Event" envelope, or a constant ``Input``.

- The envelope (``detail-type`` and ``source`` ``aws.events``/``aws.scheduler``) carries the
  request in ``detail``; its ``id`` identifies the delivery.
- A rule's or schedule's constant ``Input`` is the request itself, marked with
  ``"source": "schedule"``; its ``event_id`` (the template fills it from EventBridge
  Scheduler's schedule ARN and scheduled time) identifies the delivery.

Retries and duplicates carry the same id: the run's idempotency key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SCHEDULE_SOURCES = frozenset({"aws.events", "aws.scheduler"})


@dataclass(frozen=True, slots=True)
class Scheduled:
    payload: object
    event_id: str | None


def _id(value: object) -> str | None:
    return value if isinstance(value, str) else None


def scheduled(event: dict[str, Any]) -> Scheduled | None:
    """The request a schedule event carries, or None when ``event`` is not one."""
    if event.get("source") in SCHEDULE_SOURCES and "detail-type" in event:
        return Scheduled(event.get("detail"), _id(event.get("id")))
    if event.get("source") == "schedule":
        body = {k: v for k, v in event.items() if k not in ("source", "event_id")}
        return Scheduled(body, _id(event.get("event_id")))
    return None
