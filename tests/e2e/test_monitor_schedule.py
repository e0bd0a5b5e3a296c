"""A monitors file applied to moto (``fanout monitors apply``), then its schedule's input, as
EventBridge Scheduler delivers it, invoked through the Lambda Runtime Interface Emulator: the
monitor's state appears on moto (the table, and ``GET /monitors/{name}`` through the function)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

import fanout.config
from devtools.demo_monitor import FUNCTION_ARN, api_get, delivered
from devtools.demo_target import DemoTarget
from devtools.rie import LambdaEmulator, function_error
from fanout.aws.monitor_codec import state_key
from fanout.cli.main import main as fanout_cli
from tests.support import E2E_ENV, MotoAws, check_document, point_aws_at

FLEET = """\
defaults:
  options: {{retries: 0, expect: {{status: ["200-299"]}}}}
monitors:
  - name: e2e-payments
    group: payments
    tags: {{team: payments, env: e2e}}
    schedule: rate(1 minute)
    urls: ["{base}/health", "{base}/status/503"]
    options: {{headers: {{X-Checked-By: e2e}}}}
  - name: e2e-other
    schedule: rate(1 hour)
    urls: ["{base}/ok"]
"""


@pytest.fixture(scope="module")
def aws() -> Iterator[MotoAws]:
    with MotoAws() as moto:
        yield moto


def test_a_schedule_input_applied_from_a_file_produces_the_monitor_s_state(
    aws: MotoAws, target: DemoTarget, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    point_aws_at(monkeypatch, aws.endpoint)
    monkeypatch.setenv("EGRESS_ALLOW_CIDRS", "127.0.0.0/8")  # validate lets the loopback target through
    monkeypatch.setattr(fanout.config, "_current", None)
    path = tmp_path / "monitors.yaml"
    path.write_text(FLEET.format(base=target.base_url), encoding="utf-8")
    r = aws.resources
    where = ["--group", r.schedule_group, "--function-arn", FUNCTION_ARN, "--role-arn", r.scheduler_role_arn]
    assert fanout_cli(["monitors", "apply", str(path), *where, "--yes"]) == 0

    event = delivered(aws, "e2e-payments", datetime(2026, 12, 1, 9, 30, tzinfo=UTC))
    assert event["event_id"].endswith(
        "schedule/" + r.schedule_group + "/fanout.e2e-payments@2026-12-01T09:30:00Z"
    )
    with LambdaEmulator(timeout_s=10, env=E2E_ENV | aws.function_env()) as rie:
        answer, _ = rie.invoke(event)
        outcomes = check_document(
            answer, rie, [target.url("/health"), target.url("/status/503")], source="schedule"
        )
        assert outcomes == ["ok", "check_failed"]
        assert (answer["monitor"]["name"], answer["monitor"]["up"], answer["monitor"]["unknown"]) == (
            "e2e-payments",
            1,
            1,
        )
        view, _ = rie.invoke(api_get("/monitors/e2e-payments"))
        assert function_error(view) is None, rie.log_tail()
    assert view["statusCode"] == 200, view["body"]
    shown = json.loads(view["body"])
    assert (shown["group"], shown["tags"], shown["up"], shown["unknown"]) == (
        "payments",
        {"team": "payments", "env": "e2e"},
        1,
        1,
    )

    items = aws.client("dynamodb").query(
        TableName=r.monitors_table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": state_key("e2e-payments", "")["pk"]},
    )["Items"]
    states = {i["subject"]["S"]: i["status"]["S"] for i in items if "subject" in i}
    assert states == {target.url("/health"): "up", target.url("/status/503"): "unknown"}
