"""``fanout monitors plan|apply`` of regional monitors against one moto server serving three
regions: the same stack (``--stack``, its outputs per region) in each; a regional monitor's
schedule in each of its regions with the same expression, start and input; the plan per region."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from fanout.cli.main import cli
from fanout.config import load_settings
from fanout.core.requests import parse_invoke_request
from fanout.entry.schedule import scheduled
from tests.support import MotoAws, point_aws_at

HOME, EU, AP = "us-east-1", "eu-west-1", "ap-southeast-2"
FLEET = """\
defaults:
  schedule: rate(5 minutes)
  quorum: 2
monitors:
  - name: shop
    regions: [us-east-1, eu-west-1, ap-southeast-2]
    urls: [https://shop.example.com/health]
  - name: api
    regions: [us-east-1, eu-west-1]
    quorum: 1
    region_silent_after: 5
    schedule: cron(*/10 * * * ? *)
    urls: [https://api.example.com/health]
  - name: plain
    urls: [https://www.example.com/]
"""


@pytest.fixture(scope="module")
def aws() -> Iterator[MotoAws]:
    with MotoAws() as moto:
        yield moto


@pytest.fixture
def stack(aws: MotoAws, monkeypatch: pytest.MonkeyPatch) -> str:
    """The same stack (a fresh name) in each region, its outputs naming that region's parts."""
    point_aws_at(monkeypatch, aws.endpoint)
    name = f"fanout-{uuid.uuid4().hex[:8]}"
    role = aws.resources.scheduler_role_arn
    for region in (HOME, EU, AP):
        group = f"{name}-{region}"
        aws.client("scheduler", region).create_schedule_group(Name=group)
        outputs = {
            "MonitorScheduleGroupName": group,
            "FanoutFunctionAliasArn": f"arn:aws:lambda:{region}:123456789012:function:{name}:live",
            "MonitorSchedulerRoleArn": role,
        }
        template = {
            "Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": group}}},
            "Outputs": {k: {"Value": v} for k, v in outputs.items()},
        }
        aws.client("cloudformation", region).create_stack(StackName=name, TemplateBody=json.dumps(template))
    return name


def fanout(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def schedules(aws: MotoAws, stack: str, region: str) -> dict[str, dict[str, Any]]:
    scheduler, group = aws.client("scheduler", region), f"{stack}-{region}"
    names = [s["Name"] for s in scheduler.list_schedules(GroupName=group)["Schedules"]]
    return {n: scheduler.get_schedule(Name=n, GroupName=group) for n in names}


def check_shop_alike_in_its_regions(shops: list[dict[str, Any]]) -> None:
    """shop's schedules in HOME, EU and AP: the same expression, start and input, each targeting
    the function in its own region."""
    assert len({s["ScheduleExpression"] for s in shops}) == 1
    starts = {s["StartDate"] for s in shops}
    assert len(starts) == 1, "the same scheduled times in every region"
    (start,) = starts
    assert isinstance(start, datetime)
    assert start.timestamp() % 300 == 0, "on the 5-minute grid"
    assert [s["Target"]["Arn"].split(":")[3] for s in shops] == [HOME, EU, AP]
    inputs = [json.loads(s["Target"]["Input"]) for s in shops]
    assert all(i == inputs[0] for i in inputs)
    assert inputs[0]["scheduled_at"] == "<aws.scheduler.scheduled-time>"
    assert inputs[0]["monitor"] == {"name": "shop", "regions": [HOME, EU, AP], "quorum": 2}


def check_the_scheduler_sends_a_regional_request(schedule: dict[str, Any]) -> None:
    """What the scheduler sends (its placeholders filled in) is a valid regional request."""
    event = json.loads(
        schedule["Target"]["Input"].replace("<aws.scheduler.scheduled-time>", "2026-12-07T03:50:00Z")
    )
    delivery = scheduled(event)
    assert delivery is not None
    request = parse_invoke_request(delivery.payload, load_settings())
    assert request.scheduled_at == "2026-12-07T03:50:00Z"
    assert request.monitor is not None
    assert request.monitor.round_quorum == 2


def test_a_regional_monitor_is_scheduled_in_each_of_its_regions_alike(
    aws: MotoAws, stack: str, tmp_path: Path
) -> None:
    path = tmp_path / "monitors.yaml"
    path.write_text(FLEET)
    where = ["--stack", stack, "--region", HOME]

    planned = fanout("monitors", "plan", str(path), *where, "--detailed-exitcode")
    assert planned.exit_code == 4, planned.output
    assert sorted(line for line in planned.output.splitlines() if line.startswith("+")) == [
        f"+ create api (schedule fanout.api in {EU})",
        f"+ create api (schedule fanout.api in {HOME})",
        f"+ create plain (schedule fanout.plain in {HOME})",
        f"+ create shop (schedule fanout.shop in {AP})",
        f"+ create shop (schedule fanout.shop in {EU})",
        f"+ create shop (schedule fanout.shop in {HOME})",
    ]
    applied = fanout("monitors", "apply", str(path), *where, "--yes")
    assert applied.exit_code == 0, applied.output
    assert "Applied 6 of 6 change(s)." in applied.output
    assert f"create shop in {AP}: applied" in applied.output

    found = {r: schedules(aws, stack, r) for r in (HOME, EU, AP)}
    assert {r: sorted(s) for r, s in found.items()} == {
        HOME: ["fanout.api", "fanout.plain", "fanout.shop"],
        EU: ["fanout.api", "fanout.shop"],
        AP: ["fanout.shop"],
    }
    check_shop_alike_in_its_regions([found[r]["fanout.shop"] for r in (HOME, EU, AP)])
    assert "StartDate" not in found[HOME]["fanout.api"]  # cron(): the same times everywhere
    assert "StartDate" not in found[HOME]["fanout.plain"]
    api = json.loads(found[EU]["fanout.api"]["Target"]["Input"])["monitor"]
    assert (api["quorum"], api["region_silent_after"]) == (1, 5)
    plain = json.loads(found[HOME]["fanout.plain"]["Target"]["Input"])
    assert "scheduled_at" not in plain
    assert "regions" not in plain["monitor"]
    check_the_scheduler_sends_a_regional_request(found[EU]["fanout.shop"])

    again = fanout("monitors", "plan", str(path), *where, "--detailed-exitcode")
    assert again.exit_code == 0, again.output
    assert "Plan: 0 to create, 0 to update, 0 to delete, 6 unchanged." in again.output


def test_a_monitor_that_leaves_a_region_has_its_schedule_deleted_there(
    aws: MotoAws, stack: str, tmp_path: Path
) -> None:
    path = tmp_path / "monitors.yaml"
    path.write_text(FLEET)
    where = ["--stack", stack, "--region", HOME]
    assert fanout("monitors", "apply", str(path), *where, "--yes").exit_code == 0

    path.write_text(
        FLEET.replace("regions: [us-east-1, eu-west-1, ap-southeast-2]", "regions: [us-east-1, eu-west-1]")
    )
    planned = fanout("monitors", "apply", str(path), *where, "--yes")
    assert planned.exit_code == 0, planned.output
    assert f"- delete shop (schedule fanout.shop in {AP})" in planned.output
    assert "Plan: 0 to create, 2 to update, 1 to delete, 3 unchanged." in planned.output
    assert f"~ update shop (schedule fanout.shop in {EU})" in planned.output
    assert schedules(aws, stack, AP) == {}

    # No monitor left regional: every regional schedule goes, found from the inputs deployed.
    path.write_text(
        "monitors:\n  - name: plain\n    schedule: rate(5 minutes)\n    urls: [https://www.example.com/]\n"
    )
    cleared = fanout("monitors", "apply", str(path), *where, "--yes")
    assert cleared.exit_code == 0, cleared.output
    assert {r: sorted(schedules(aws, stack, r)) for r in (HOME, EU)} == {HOME: ["fanout.plain"], EU: []}


def test_regional_monitors_without_a_stack_are_bad_input(aws: MotoAws, stack: str, tmp_path: Path) -> None:
    path = tmp_path / "monitors.yaml"
    path.write_text(FLEET)
    role = aws.resources.scheduler_role_arn
    args = [
        "--group",
        f"{stack}-{HOME}",
        "--function-arn",
        "arn:aws:lambda:us-east-1:1:function:f",
        "--role-arn",
        role,
    ]
    result = fanout("monitors", "plan", str(path), *args, "--region", HOME)
    assert result.exit_code == 2, result.output
    assert "regional monitors need --stack" in result.output
