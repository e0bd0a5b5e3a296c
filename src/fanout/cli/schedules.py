"""What a monitor's EventBridge Scheduler schedule is, and how a deployed one differs from it.

One schedule per monitor, in the stack's schedule group, named ``fanout.<monitor>`` and described
``fanout monitor <name> ...``: only schedules with both marks are fanout's to change or delete
(Scheduler tags groups, not schedules), so anything else in the group is left alone. Its input is
the monitor's request in the shape ``fanout.entry.schedule`` reads (``"source": "schedule"`` and an
``event_id`` of the schedule's ARN and scheduled time: the same for every retry, the run's
idempotency key); the retry policy and the dead-letter queue are the template's.

A regional monitor (``regions``) has the same schedule in each of its regions, its input carrying
the scheduled time (``scheduled_at``: the round its observations form in the home region). A
rate() schedule starts on a grid of its period counted from the Unix epoch (``StartDate``: the
next point of the grid), so every region, whenever applied, has the same scheduled times; cron()
and at() times are the same everywhere by themselves.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from fanout.cli.monitors_file import FleetMonitor

NAME_PREFIX = "fanout."
DESCRIPTION_MARK = "fanout monitor "
MAX_SCHEDULE_NAME = 64
MAX_INPUT_BYTES = 256 * 1024
EVENT_ID = "<aws.scheduler.schedule-arn>@<aws.scheduler.scheduled-time>"
RETRY_POLICY = {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 3600}  # the template's
TARGETS_PREFIX = "monitors/"
SCHEDULED_TIME = "<aws.scheduler.scheduled-time>"
_RATE = re.compile(r"^rate\((\d+) (minute|hour|day)s?\)$")
_UNIT_S = {"minute": 60, "hour": 3_600, "day": 86_400}


@dataclass(frozen=True, slots=True)
class Deployment:
    """Where the schedules go and what they invoke (a stack's outputs, or given one by one)."""

    group: str
    function_arn: str
    role_arn: str
    dead_letter_arn: str | None = None
    bucket: str | None = None
    monitors_table: str | None = None


def schedule_name(monitor: str) -> str:
    """``fanout.<monitor>``; a name too long for Scheduler keeps its start and a hash of the rest."""
    name = NAME_PREFIX + monitor
    if len(name) <= MAX_SCHEDULE_NAME:
        return name
    digest = hashlib.sha256(monitor.encode()).hexdigest()[:8]
    return f"{name[: MAX_SCHEDULE_NAME - 9]}.{digest}"


def is_managed(name: str, description: str | None) -> bool:
    return name.startswith(NAME_PREFIX) and (description or "").startswith(DESCRIPTION_MARK)


@dataclass(frozen=True, slots=True)
class Upload:
    """A URL list stored in the bucket because the input would be too large for a schedule."""

    bucket: str
    key: str
    body: bytes


@dataclass(frozen=True, slots=True)
class Desired:
    monitor: str
    name: str
    definition: dict[str, Any]  # create_schedule / update_schedule's arguments
    upload: Upload | None = None


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _input(request: Mapping[str, Any], monitor: str, deployment: Deployment) -> tuple[str, Upload | None]:
    text = _compact({"source": "schedule", "event_id": EVENT_ID, **request})
    if len(text.encode()) <= MAX_INPUT_BYTES or "urls" not in request:
        return text, None
    if not deployment.bucket:
        raise ValueError(f"{monitor}: its input is over 256 KB and no bucket was given (--bucket or --stack)")
    body = _compact(request["urls"]).encode()
    key = f"{TARGETS_PREFIX}{monitor}/{hashlib.sha256(body).hexdigest()[:16]}.json"
    moved = {k: v for k, v in request.items() if k != "urls"}
    text = _compact(
        {"source": "schedule", "event_id": EVENT_ID, "targets": f"s3://{deployment.bucket}/{key}", **moved}
    )
    return text, Upload(deployment.bucket, key, body)


def rate_period_s(expression: str) -> int | None:
    """A rate() expression's period in seconds (None for cron() and at())."""
    match = _RATE.match(expression)
    return int(match[1]) * _UNIT_S[match[2]] if match else None


def aligned_start(period_s: int, now: float) -> datetime:
    """The next point after ``now`` of the grid of ``period_s`` counted from the Unix epoch."""
    return datetime.fromtimestamp(math.floor(now / period_s + 1) * period_s, UTC)


def _start_of(value: Any) -> float | None:
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, str):
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    return None


def desired(item: FleetMonitor, deployment: Deployment, *, now: float | None = None) -> Desired:
    """The schedule ``item`` becomes (raises ``ValueError`` when it cannot be one)."""
    m = item.monitor
    request = item.request
    if m.regions:
        request = {**request, "scheduled_at": SCHEDULED_TIME}
    text, upload = _input(request, m.name, deployment)
    target: dict[str, Any] = {
        "Arn": deployment.function_arn,
        "RoleArn": deployment.role_arn,
        "Input": text,
        "RetryPolicy": dict(RETRY_POLICY),
    }
    if deployment.dead_letter_arn:
        target["DeadLetterConfig"] = {"Arn": deployment.dead_letter_arn}
    name = schedule_name(m.name)
    definition: dict[str, Any] = {
        "Name": name,
        "GroupName": deployment.group,
        "Description": f"{DESCRIPTION_MARK}{m.name} (managed by fanout monitors apply)",
        "ScheduleExpression": m.schedule,
        "ScheduleExpressionTimezone": m.timezone or "UTC",
        "State": "DISABLED" if m.enabled is False else "ENABLED",
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "Target": target,
    }
    period = rate_period_s(m.schedule) if m.regions else None
    if period is not None:
        definition["StartDate"] = aligned_start(period, time.time() if now is None else now)
    return Desired(m.name, name, definition, upload)


def comparable(definition: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of a schedule this tool sets, named for people, the input as JSON."""
    target = definition.get("Target") or {}
    try:
        payload = json.loads(target.get("Input") or "null")
    except ValueError:
        payload = target.get("Input")
    start = _start_of(definition.get("StartDate"))
    period = rate_period_s(str(definition.get("ScheduleExpression") or ""))
    if start is not None and period is not None and start % period == 0:
        start_shown: Any = f"on the {period} s grid"  # any point of it: the same scheduled times
    else:
        start_shown = None if start is None else datetime.fromtimestamp(start, UTC).isoformat()
    return {
        "schedule": definition.get("ScheduleExpression"),
        "start": start_shown,
        "timezone": definition.get("ScheduleExpressionTimezone") or "UTC",
        "state": definition.get("State"),
        "description": definition.get("Description"),
        "flexible_window": (definition.get("FlexibleTimeWindow") or {}).get("Mode"),
        "target": target.get("Arn"),
        "role": target.get("RoleArn"),
        "retry_policy": target.get("RetryPolicy"),
        "dead_letter": (target.get("DeadLetterConfig") or {}).get("Arn"),
        "input": payload,
    }


def _leaves(value: Any, path: str = "") -> dict[str, Any]:
    if isinstance(value, Mapping) and value:
        out: dict[str, Any] = {}
        for key, inner in value.items():
            out.update(_leaves(inner, f"{path}.{key}" if path else str(key)))
        return out
    return {path: value}


def field_diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """``path: old -> new`` for each field that differs (lists compared whole)."""
    before, after = _leaves(comparable(old)), _leaves(comparable(new))
    lines = []
    for path in sorted(set(before) | set(after)):
        if path not in after:
            lines.append(f"- {path}: {_compact(before[path])}")
        elif path not in before:
            lines.append(f"+ {path}: {_compact(after[path])}")
        elif before[path] != after[path]:
            lines.append(f"~ {path}: {_compact(before[path])} -> {_compact(after[path])}")
    return lines


@dataclass(frozen=True, slots=True)
class Change:
    kind: Literal["create", "update", "delete"]
    name: str  # the schedule's
    monitor: str
    desired: Desired | None = None
    diff: tuple[str, ...] = ()
    region: str | None = None  # where the schedule is (None: the one region of a plan)


@dataclass
class Plan:
    changes: list[Change] = field(default_factory=list)
    unchanged: int = 0
    foreign: int = 0  # schedules in the group that are not fanout's (left alone)

    def lines(self) -> list[str]:
        """The plan as people read it (a change in one of several regions says which)."""
        out: list[str] = []
        for c in self.changes:
            sign = {"create": "+", "update": "~", "delete": "-"}[c.kind]
            where = f" in {c.region}" if c.region else ""
            out.append(f"{sign} {c.kind} {c.monitor} (schedule {c.name}{where})")
            out.extend(f"    {line}" for line in c.diff)
        counts = {k: sum(c.kind == k for c in self.changes) for k in ("create", "update", "delete")}
        summary = ", ".join(f"{n} to {k}" for k, n in counts.items())
        out.append(f"Plan: {summary}, {self.unchanged} unchanged.")
        if self.foreign:
            out.append(
                f"({self.foreign} other schedule(s) in the group are not fanout's and are left alone.)"
            )
        return out


def plan(
    wanted: list[Desired],
    deployed: Mapping[str, Mapping[str, Any]],
    *,
    foreign: int = 0,
    region: str | None = None,
) -> Plan:
    """The changes that make ``deployed`` (fanout's schedules by name, as get_schedule answers) what
    ``wanted`` says: creates and updates in the file's order, then deletes by name (in ``region``,
    when the plan is one of several regions')."""
    result = Plan(foreign=foreign)
    for d in wanted:
        current = deployed.get(d.name)
        if current is None:
            result.changes.append(Change("create", d.name, d.monitor, d, region=region))
        elif comparable(current) != comparable(d.definition):
            diff = tuple(field_diff(current, d.definition))
            result.changes.append(Change("update", d.name, d.monitor, d, diff, region=region))
        else:
            result.unchanged += 1
    names = {d.name for d in wanted}
    for name in sorted(set(deployed) - names):
        description = str(deployed[name].get("Description") or "")
        monitor = description.removeprefix(DESCRIPTION_MARK).split(" ", 1)[0]
        result.changes.append(Change("delete", name, monitor, region=region))
    return result


def regions_deployed(deployed: Mapping[str, Mapping[str, Any]]) -> set[str]:
    """The regions the deployed regional schedules say their monitors are in (where a monitor
    that left a region still has its schedule)."""
    found: set[str] = set()
    for definition in deployed.values():
        payload = comparable(definition)["input"]
        monitor = payload.get("monitor") if isinstance(payload, Mapping) else None
        if isinstance(monitor, Mapping) and isinstance(monitor.get("regions"), list):
            found |= {str(r) for r in monitor["regions"]}
    return found
