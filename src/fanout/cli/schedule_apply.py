"""The deployed side of ``fanout monitors plan|apply``: reading fanout's schedules from the group,
and making the planned changes (boto3, the usual AWS environment: ``AWS_ENDPOINT_URL`` points it
at moto).

Calls run concurrently, at most ``CONCURRENCY`` at once; botocore's standard retry mode backs off
on throttling (``MAX_ATTEMPTS``). A schedule is created or updated whole, in one call (Scheduler's
``UpdateSchedule`` replaces the definition), so a failed apply leaves each schedule old or new,
never a mix; each change is reported applied or failed, and applying again finishes the job.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from fanout.aws.monitor_codec import state_key, summary_key
from fanout.cli.errors import CliError
from fanout.cli.schedules import Change, Deployment, is_managed

CONCURRENCY = 8
MAX_ATTEMPTS = 10
STACK_OUTPUTS = {
    "group": "MonitorScheduleGroupName",
    "function_arn": "FanoutFunctionAliasArn",
    "role_arn": "MonitorSchedulerRoleArn",
    "dead_letter_arn": "ScheduleDeadLetterQueueArn",
    "bucket": "ReportsBucketName",
    "monitors_table": "MonitorsTableName",
}


class AwsFailed(CliError):
    """An AWS call of plan or apply failed (the message says which and why)."""


def client(service: str, region: str | None = None) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(
        retries={"mode": "standard", "max_attempts": MAX_ATTEMPTS}, max_pool_connections=CONCURRENCY * 2
    )
    return boto3.client(service, region_name=region, config=config)  # type: ignore[call-overload]


def _aws_errors() -> tuple[type[Exception], ...]:
    import botocore.exceptions

    return (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError)


def stack_deployment(stack: str, region: str | None) -> Deployment:
    """The deployment a stack's outputs name (docs/deploy.md)."""
    try:
        described = client("cloudformation", region).describe_stacks(StackName=stack)
    except _aws_errors() as exc:
        raise AwsFailed(f"cannot read stack {stack}: {exc}") from None
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described["Stacks"][0].get("Outputs", [])}
    missing = [
        key
        for field, key in STACK_OUTPUTS.items()
        if field in ("group", "function_arn", "role_arn") and key not in outputs
    ]
    if missing:
        raise AwsFailed(f"stack {stack} has no output {', '.join(missing)} (deploy the current template)")
    found: dict[str, Any] = {field: outputs.get(key) for field, key in STACK_OUTPUTS.items()}
    return Deployment(**found)


def _each(calls: Iterable[Callable[[], Any]]) -> list[Any]:
    """Every call's answer (or the exception it raised), in order, at most CONCURRENCY at once."""

    def guarded(call: Callable[[], Any]) -> Any:
        try:
            return call()
        except _aws_errors() as exc:
            return exc

    with ThreadPoolExecutor(max_workers=CONCURRENCY) as pool:
        return list(pool.map(guarded, calls))


def deployed_schedules(scheduler: Any, group: str) -> tuple[dict[str, dict[str, Any]], int]:
    """fanout's schedules in ``group`` by name (as get_schedule answers), and how many others."""
    names: list[str] = []
    foreign = 0
    try:
        for page in scheduler.get_paginator("list_schedules").paginate(GroupName=group):
            for s in page.get("Schedules", []):
                if s["Name"].startswith("fanout."):
                    names.append(s["Name"])
                else:
                    foreign += 1
    except _aws_errors() as exc:
        raise AwsFailed(f"cannot list the schedules of group {group}: {exc}") from None
    answers = _each(functools.partial(scheduler.get_schedule, Name=n, GroupName=group) for n in names)
    found: dict[str, dict[str, Any]] = {}
    for name, answer in zip(names, answers, strict=True):
        if isinstance(answer, Exception):
            raise AwsFailed(f"cannot read schedule {name}: {answer}")
        if is_managed(name, answer.get("Description")):
            found[name] = answer
        else:
            foreign += 1
    return found, foreign


@dataclass(frozen=True, slots=True)
class Applied:
    change: Change
    error: str | None = None  # None: applied


def _apply_one(change: Change, group: str, scheduler: Any, s3: Any) -> None:
    if change.kind == "delete":
        with contextlib.suppress(scheduler.exceptions.ResourceNotFoundException):
            scheduler.delete_schedule(Name=change.name, GroupName=group)
        return
    assert change.desired is not None
    upload = change.desired.upload
    if upload is not None:
        s3.put_object(Bucket=upload.bucket, Key=upload.key, Body=upload.body, ContentType="application/json")
    if change.kind == "create":
        try:
            scheduler.create_schedule(**change.desired.definition)
            return
        except scheduler.exceptions.ConflictException:
            pass  # made meanwhile (an apply before this one): replace it whole
    scheduler.update_schedule(**change.desired.definition)


def apply_changes(changes: list[Change], deployment: Deployment, region: str | None) -> list[Applied]:
    """Make each change; what became of each, in order."""
    scheduler, s3 = client("scheduler", region), client("s3", region)
    answers = _each(functools.partial(_apply_one, c, deployment.group, scheduler, s3) for c in changes)
    return [Applied(c, None if a is None else str(a)) for c, a in zip(changes, answers, strict=True)]


def purge_states(monitors: Iterable[str], table: str, region: str | None) -> int:
    """Delete the states of ``monitors`` now (``--purge``; otherwise they expire); how many items."""
    ddb = client("dynamodb", region)
    deleted = 0
    for monitor in monitors:
        keys: list[Mapping[str, Any]] = [summary_key(monitor)]
        for page in ddb.get_paginator("query").paginate(
            TableName=table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": state_key(monitor, "")["pk"]},
            ProjectionExpression="pk, sk",
        ):
            keys.extend(page.get("Items", []))
        for start in range(0, len(keys), 25):
            _delete_batch(ddb, table, keys[start : start + 25])
        deleted += len(keys)
    return deleted


def _delete_batch(ddb: Any, table: str, keys: list[Mapping[str, Any]]) -> None:
    requests: list[Any] = [{"DeleteRequest": {"Key": dict(k)}} for k in keys]
    for _ in range(MAX_ATTEMPTS):
        answer = ddb.batch_write_item(RequestItems={table: requests})
        requests = answer.get("UnprocessedItems", {}).get(table, [])
        if not requests:
            return
    raise AwsFailed(f"{len(requests)} state item(s) of {table} still unprocessed")
