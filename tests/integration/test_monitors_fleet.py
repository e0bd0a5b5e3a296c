"""``fanout monitors plan|apply`` against moto in server mode (EventBridge Scheduler, S3, DynamoDB):
the schedule group, the scheduler role and the schedules' dead-letter queue made from
template.yaml; the command line in-process, pointed at moto by ``AWS_ENDPOINT_URL``."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from fanout.cli.main import cli
from fanout.cli.schedules import RETRY_POLICY
from fanout.config import load_settings
from fanout.core.requests import TargetsRequest, parse_invoke_request
from fanout.entry.schedule import scheduled
from tests.support import MotoAws, load_template, point_aws_at

FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:fanout-FanoutFunction:live"
FLEET = """\
defaults:
  schedule: rate(5 minutes)
  options: {request_timeout_s: 10, retries: 1}
  failure_threshold: 2
monitors:
  - name: payments-api
    group: payments
    tags: {team: payments}
    schedule: rate(1 minute)
    urls: [https://api.example.com/health]
    thresholds: {p95_ms: "<800"}
  - name: docs-links
    schedule: cron(0 6 * * ? *)
    timezone: Europe/Paris
    targets: {sitemap: https://docs.example.com/sitemap.xml}
  - name: www
    enabled: false
    urls: [https://www.example.com/, {url: https://www.example.com/login, method: HEAD}]
"""


@pytest.fixture(scope="module")
def aws() -> Iterator[MotoAws]:
    with MotoAws() as moto:
        yield moto


@pytest.fixture
def where(aws: MotoAws, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """A fresh schedule group (and the rest of the deployment) as command-line options."""
    point_aws_at(monkeypatch, aws.endpoint)
    group = f"fleet-{uuid.uuid4().hex[:8]}"
    aws.client("scheduler").create_schedule_group(Name=group)
    return [
        "--group", group, "--function-arn", FUNCTION, "--role-arn", aws.resources.scheduler_role_arn,
        "--dead-letter-arn", aws.queue_arn(aws.resources.schedule_dead_letter_queue_url),
        "--bucket", aws.resources.bucket, "--monitors-table", aws.resources.monitors_table,
    ]  # fmt: skip


def fanout(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "monitors.yaml"
    path.write_text(text)
    return str(path)


def schedules(aws: MotoAws, group: str) -> dict[str, dict[str, Any]]:
    scheduler = aws.client("scheduler")
    names = [s["Name"] for s in scheduler.list_schedules(GroupName=group)["Schedules"]]
    return {n: scheduler.get_schedule(Name=n, GroupName=group) for n in names}


def add_foreign_schedules(aws: MotoAws, group: str) -> None:
    """Two schedules in the group that are not fanout's: one named otherwise, one by hand."""
    scheduler = aws.client("scheduler")
    target = {"Arn": FUNCTION, "RoleArn": aws.resources.scheduler_role_arn, "Input": "{}"}
    foreign = {"FlexibleTimeWindow": {"Mode": "OFF"}, "ScheduleExpression": "rate(1 hour)", "Target": target}
    scheduler.create_schedule(Name="someone-else", GroupName=group, **foreign)
    scheduler.create_schedule(Name="fanout.lookalike", GroupName=group, Description="hand-made", **foreign)


def check_payments_schedule(aws: MotoAws, where: list[str], payments: dict[str, Any]) -> None:
    """payments-api's schedule as FLEET has it: its expression, target, and an input the function's
    schedule entry reads as a valid request with the monitor's settings."""
    assert payments["ScheduleExpression"] == "rate(1 minute)"
    assert payments["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert payments["State"] == "ENABLED"
    target = payments["Target"]
    assert target["Arn"] == FUNCTION
    assert target["RoleArn"] == aws.resources.scheduler_role_arn
    assert target["RetryPolicy"] == RETRY_POLICY
    assert target["DeadLetterConfig"]["Arn"] == where[7]
    # The input is what the function's schedule entry reads, and a valid request there.
    event = json.loads(target["Input"])
    assert event["event_id"] == "<aws.scheduler.schedule-arn>@<aws.scheduler.scheduled-time>"
    delivery = scheduled(event)
    assert delivery is not None
    request = parse_invoke_request(delivery.payload, load_settings())
    assert request.monitor is not None
    assert (request.monitor.name, request.monitor.failure_threshold) == ("payments-api", 2)
    assert (request.monitor.group, request.monitor.tags) == ("payments", {"team": "payments"})
    assert request.options.thresholds == {"p95_ms": "<800"}
    assert request.options.retries == 1


def changed_fleet() -> str:
    """FLEET changed (a success threshold in its defaults, payments-api every 2 minutes) and with
    www, its last monitor, removed."""
    changed = FLEET.replace("retries: 1}", "retries: 1}\n  success_threshold: 1").replace(
        "    schedule: rate(1 minute)\n", "    schedule: rate(2 minutes)\n"
    )
    return changed[: changed.index("  - name: www")]


def test_create_change_delete_and_reapply(aws: MotoAws, where: list[str], tmp_path: Path) -> None:
    group = where[1]
    add_foreign_schedules(aws, group)
    path = write(tmp_path, FLEET)

    planned = fanout("monitors", "plan", path, *where, "--detailed-exitcode")
    assert planned.exit_code == 4, planned.output
    assert "Plan: 3 to create, 0 to update, 0 to delete, 0 unchanged." in planned.output
    assert "(2 other schedule(s) in the group are not fanout's and are left alone.)" in planned.output
    applied = fanout("monitors", "apply", path, *where, "--yes")
    assert applied.exit_code == 0, applied.output
    assert "Applied 3 of 3 change(s)." in applied.output

    found = schedules(aws, group)
    assert set(found) == {
        "someone-else",
        "fanout.lookalike",
        "fanout.payments-api",
        "fanout.docs-links",
        "fanout.www",
    }
    check_payments_schedule(aws, where, found["fanout.payments-api"])
    assert found["fanout.www"]["State"] == "DISABLED"
    assert found["fanout.docs-links"]["ScheduleExpressionTimezone"] == "Europe/Paris"

    # Change one monitor, remove another.
    path = write(tmp_path, changed_fleet())
    planned = fanout("monitors", "plan", path, *where, "--detailed-exitcode")
    assert planned.exit_code == 4, planned.output
    assert "Plan: 0 to create, 2 to update, 1 to delete, 0 unchanged." in planned.output
    assert "~ update payments-api (schedule fanout.payments-api)" in planned.output
    assert '    ~ schedule: "rate(1 minute)" -> "rate(2 minutes)"' in planned.output
    assert "    + input.monitor.success_threshold: 1" in planned.output
    assert "- delete www (schedule fanout.www)" in planned.output
    applied = fanout("monitors", "apply", path, *where, "--yes", "--detailed-exitcode")
    assert applied.exit_code == 4, applied.output
    found = schedules(aws, group)
    assert set(found) == {"someone-else", "fanout.lookalike", "fanout.payments-api", "fanout.docs-links"}
    assert found["fanout.payments-api"]["ScheduleExpression"] == "rate(2 minutes)"
    assert found["someone-else"]["Target"]["Input"] == "{}"

    again = fanout("monitors", "apply", path, *where, "--yes", "--detailed-exitcode")
    assert again.exit_code == 0, again.output
    assert "Plan: 0 to create, 0 to update, 0 to delete, 2 unchanged." in again.output
    assert "Applied" not in again.output


def test_purge_deletes_a_removed_monitors_states(aws: MotoAws, where: list[str], tmp_path: Path) -> None:
    table = aws.resources.monitors_table
    ddb = aws.client("dynamodb")
    name = f"gone-{uuid.uuid4().hex[:6]}"
    fleet = f"monitors:\n  - {{name: {name}, schedule: rate(1 hour), urls: ['https://a.example/']}}\n"
    assert fanout("monitors", "apply", write(tmp_path, fleet), *where, "--yes").exit_code == 0
    items = [
        ("monitors", name),
        (f"monitor#{name}", "url#1"),
        (f"monitor#{name}", "threshold#2"),
        ("monitor#kept", "url#1"),
    ]
    for pk, sk in items:
        ddb.put_item(TableName=table, Item={"pk": {"S": pk}, "sk": {"S": sk}})
    empty = write(tmp_path, "monitors: []\n")
    applied = fanout("monitors", "apply", empty, *where, "--yes", "--purge")
    assert applied.exit_code == 0, applied.output
    assert "Purged 3 state item(s) of 1 removed monitor(s)." in applied.output
    left = {
        (pk, sk)
        for pk, sk in items
        if "Item" in ddb.get_item(TableName=table, Key={"pk": {"S": pk}, "sk": {"S": sk}})
    }
    assert left == {("monitor#kept", "url#1")}


def test_a_url_list_too_large_for_a_schedule_goes_to_the_bucket(
    aws: MotoAws, where: list[str], tmp_path: Path
) -> None:
    urls = [f"https://site.example/page/{i:05d}/{'x' * 40}" for i in range(5_000)]  # ~330 KB of JSON
    fleet = "monitors:\n  - name: big\n    schedule: rate(1 hour)\n    urls:\n" + "".join(
        f"      - {u}\n" for u in urls
    )
    path = write(tmp_path, fleet)
    assert fanout("monitors", "apply", path, *where, "--yes").exit_code == 0
    event = json.loads(schedules(aws, where[1])["fanout.big"]["Target"]["Input"])
    assert "urls" not in event
    request = parse_invoke_request(scheduled(event).payload, load_settings())  # type: ignore[union-attr]
    assert isinstance(request, TargetsRequest)
    bucket, key = request.targets.removeprefix("s3://").split("/", 1)
    assert bucket == aws.resources.bucket
    assert key.startswith("monitors/big/")
    stored = json.loads(aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
    assert stored == urls
    again = fanout("monitors", "plan", path, *where, "--detailed-exitcode")
    assert again.exit_code == 0, again.output


def test_the_retry_policy_is_the_templates() -> None:
    schedule = load_template()["Resources"]["FanoutFunction"]["Properties"]["Events"]["Schedule"][
        "Properties"
    ]
    assert schedule["RetryPolicy"] == RETRY_POLICY


def test_a_bad_file_plans_nothing_and_missing_where_is_a_usage_error(
    where: list[str], tmp_path: Path
) -> None:
    bad = fanout("monitors", "plan", write(tmp_path, "monitors:\n  - name: A\n"), *where)
    assert bad.exit_code == 2
    assert "monitors.0.name" in bad.output
    missing = fanout("monitors", "plan", write(tmp_path, "monitors: []\n"), "--group", "g")
    assert missing.exit_code == 2
    assert "--function-arn, --role-arn" in missing.output
