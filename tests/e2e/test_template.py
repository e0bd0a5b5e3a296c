"""template.yaml: it validates, lints and builds, and what it wires matches the code."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from samcli.yamlhelper import yaml_parse

from fanout.config import get_settings
from fanout.core.requests import parse_request
from fanout.entry.schedule import scheduled

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
SAM = str(Path(sys.executable).parent / "sam")
PYENV_313 = Path(os.environ.get("PYENV_ROOT", "/root/.pyenv")) / "versions" / "3.13.0" / "bin"

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    parsed: dict[str, Any] = yaml_parse(TEMPLATE.read_text())
    return parsed


def sam_env() -> dict[str, str]:
    env = dict(os.environ, SAM_CLI_TELEMETRY="0", AWS_DEFAULT_REGION="us-east-1")
    if PYENV_313.is_dir():
        env["PATH"] = f"{PYENV_313}{os.pathsep}{env['PATH']}"
    return env


def test_sam_validate_lint() -> None:
    result = subprocess.run(
        [SAM, "validate", "--lint", "--template-file", str(TEMPLATE), "--region", "us-east-1"],
        capture_output=True,
        text=True,
        env=sam_env(),
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_sam_build_packages_the_handler_and_pinned_dependencies(tmp_path: Path) -> None:
    if shutil.which("python3.13", path=sam_env()["PATH"]) is None:
        pytest.fail("sam build needs python3.13 on PATH (pyenv install 3.13.0, or put it on PATH)")
    result = subprocess.run(
        [
            SAM,
            "build",
            "--template-file",
            str(TEMPLATE),
            "--build-dir",
            str(tmp_path / "build"),
            "--cache-dir",
            str(tmp_path / "cache"),
        ],
        capture_output=True,
        text=True,
        env=sam_env(),
        timeout=900,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    built = tmp_path / "build" / "FanoutFunction"
    assert (built / "fanout" / "handler.py").is_file()
    pins = [
        line.split("==")[0]
        for line in (ROOT / "src/requirements.txt").read_text().splitlines()
        if "==" in line
    ]
    installed = {p.name.split("-")[0].lower().replace("_", "-") for p in built.glob("*.dist-info")}
    assert {p.lower().replace("_", "-") for p in pins} <= installed


def test_function_wiring_matches_the_code(template: dict[str, Any]) -> None:
    function = template["Resources"]["FanoutFunction"]["Properties"]
    glob = template["Globals"]["Function"]
    assert function["CodeUri"] == "src/"
    assert function["Handler"] == "fanout.handler.lambda_handler"
    assert glob["Runtime"] == "python3.13"
    assert template["Parameters"]["Architecture"]["Default"] == "arm64"
    assert template["Parameters"]["FunctionTimeout"]["MaxValue"] == 900
    route = template["Resources"]["FanoutRoute"]["Properties"]
    assert route["RouteKey"] == "POST /fanout"
    assert route["AuthorizationType"] == {"Fn::If": ["UseJwt", "JWT", "AWS_IAM"]}
    integration = template["Resources"]["FanoutIntegration"]["Properties"]
    assert integration["PayloadFormatVersion"] == "2.0"
    assert get_settings().api_deadline_cap_s * 1000 < integration["TimeoutInMillis"]


def test_async_invocations_have_retries_bounded_and_a_failure_destination(template: dict[str, Any]) -> None:
    config = template["Resources"]["FanoutFunction"]["Properties"]["EventInvokeConfig"]
    assert config["DestinationConfig"]["OnFailure"]["Type"] == "SQS"
    assert "MaximumRetryAttempts" in config
    assert "MaximumEventAgeInSeconds" in config
    schedule = template["Resources"]["FanoutFunction"]["Properties"]["Events"]["Schedule"]["Properties"]
    assert schedule["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": ["ScheduleDeadLetterQueue", "Arn"]}


def render_schedule_input(template: dict[str, Any], urls: list[str], monitor: str = "") -> Any:
    """The schedule's constant Input as EventBridge would deliver it, from the template (with the
    ``MonitorName`` parameter set to ``monitor``)."""
    sub = template["Resources"]["FanoutFunction"]["Properties"]["Events"]["Schedule"]["Properties"]["Input"]
    text, variables = sub["Fn::Sub"]
    parameters = template["Parameters"]
    timeout = parameters["ScheduleRequestTimeoutSeconds"]["Default"]
    assert variables["Urls"] == {"Fn::Join": ['", "', {"Ref": "ScheduleUrls"}]}
    condition, when_on, when_off = variables["Monitor"]["Fn::If"]
    assert template["Conditions"][condition] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "MonitorName"}, ""]}]}
    rendered = when_off
    if monitor:
        rendered = when_on["Fn::Sub"].replace("${MonitorName}", monitor)
        for name in ("MonitorFailureThreshold", "MonitorSuccessThreshold"):
            rendered = rendered.replace("${" + name + "}", str(parameters[name]["Default"]))
    text = text.replace("${Urls}", '", "'.join(urls)).replace("${Timeout}", str(timeout))
    return json.loads(text.replace("${Monitor}", rendered))


@pytest.mark.parametrize("monitor", ["", "prod-health"])
def test_the_schedules_input_is_a_valid_scheduled_request(template: dict[str, Any], monitor: str) -> None:
    default_urls = template["Parameters"]["ScheduleUrls"]["Default"].split(",")
    event = render_schedule_input(template, [*default_urls, "https://example.org/health"], monitor)
    inbound = scheduled(event)
    assert inbound is not None, "the template's Input is recognised as the schedule's"
    request = parse_request(inbound.payload)
    assert [e.url for e in request.entries()] == [*default_urls, "https://example.org/health"]
    if monitor:
        assert request.monitor is not None
        assert (
            request.monitor.name,
            request.monitor.failure_threshold,
            request.monitor.success_threshold,
        ) == (
            monitor,
            2,
            1,
        )
    else:
        assert request.monitor is None


def test_the_heartbeat_alarm_watches_the_monitor_s_metric(template: dict[str, Any]) -> None:
    alarm = template["Resources"]["MonitorHeartbeatAlarm"]
    assert alarm["Condition"] == "HasMonitor"
    props = alarm["Properties"]
    assert (
        props["Namespace"]
        == template["Globals"]["Function"]["Environment"]["Variables"]["POWERTOOLS_METRICS_NAMESPACE"]
    )
    assert props["Dimensions"] == [{"Name": "monitor", "Value": {"Ref": "MonitorName"}}]
    assert props["AlarmActions"] == [{"Ref": "AlertTopic"}]
    env = template["Globals"]["Function"]["Environment"]["Variables"]
    assert env["MONITORS_TABLE_NAME"] == {"Ref": "MonitorsTable"}
    assert env["ALERT_TOPIC_ARN"] == {"Ref": "AlertTopic"}
