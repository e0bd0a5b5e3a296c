"""template.yaml: it validates, lints and builds, and what it wires matches the code."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
from samcli.yamlhelper import yaml_parse
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator

from fanout.config import get_settings
from fanout.core.requests import parse_request
from fanout.entry.api import ROUTES
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
    events = function["Events"]
    routes = {
        (e["Properties"]["Method"], e["Properties"]["Path"]): e["Properties"]
        for e in events.values()
        if e["Type"] == "HttpApi"
    }
    served = {(m, path) for path, methods in ROUTES.items() for m in methods}
    assert set(routes) == served, "template.yaml's HttpApi events are the routes entry/api.py serves"
    for props in routes.values():
        assert props["ApiId"] == {"Ref": "FanoutHttpApi"}
        assert props["PayloadFormatVersion"] == "2.0"
        assert get_settings().api_deadline_cap_s * 1000 < props["TimeoutInMillis"] <= 30_000
    body = template["Resources"]["FanoutHttpApi"]["Properties"]["DefinitionBody"]
    security = {"Fn::If": ["UseJwt", [{"JwtAuthorizer": []}], [{"sigv4": []}]]}
    for method, path in served:
        assert body["paths"][path][method.lower()]["security"] == security, (method, path)


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
    request = parse_request(inbound.payload, get_settings())
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


def cfn_condition(template: dict[str, Any], name: str, parameters: dict[str, str]) -> bool:
    """Evaluates one of the template's conditions as CloudFormation does (parameter values are
    strings), for the few functions the template's conditions use."""

    def value(node: Any) -> Any:
        if isinstance(node, dict) and "Ref" in node:
            return parameters[node["Ref"]]
        if isinstance(node, dict) and "Fn::Equals" in node:
            left, right = node["Fn::Equals"]
            return str(value(left)) == str(value(right))
        if isinstance(node, dict) and "Fn::Not" in node:
            return not value(node["Fn::Not"][0])
        assert not isinstance(node, dict), f"unexpected function in condition {name}: {node}"
        return node

    result = value(template["Conditions"][name])
    assert isinstance(result, bool)
    return result


def transformed(template: dict[str, Any]) -> dict[str, Any]:
    """The template after SAM's transform, as CloudFormation receives it (samtranslator, offline;
    the local CodeUri swapped for an S3 one, as `sam package` would)."""
    copy = json.loads(json.dumps(template))
    copy["Resources"]["FanoutFunction"]["Properties"]["CodeUri"] = "s3://artifacts/fanout.zip"
    session = boto3.session.Session(region_name="us-east-1")
    out: dict[str, Any] = Translator(None, Parser(), boto_session=session).translate(
        copy, parameter_values={}, get_managed_policy_map=dict
    )
    return out


def test_reserved_concurrency_caps_the_function_and_leaves_room_for_the_api(template: dict[str, Any]) -> None:
    parameters = template["Parameters"]
    reserved = parameters["ReservedConcurrency"]
    assert (reserved["Type"], reserved["Default"], reserved["MinValue"]) == ("Number", 100, -1)
    resources = transformed(template)["Resources"]
    [function] = [r for r in resources.values() if r["Type"] == "AWS::Lambda::Function"]
    expected = {"Fn::If": ["HasReservedConcurrency", {"Ref": "ReservedConcurrency"}, {"Ref": "AWS::NoValue"}]}
    assert function["Properties"]["ReservedConcurrentExecutions"] == expected
    defaults = {name: str(p.get("Default", "")) for name, p in parameters.items()}
    assert cfn_condition(template, "HasReservedConcurrency", defaults)
    assert cfn_condition(template, "HasReservedConcurrency", {**defaults, "ReservedConcurrency": "0"})
    assert not cfn_condition(template, "HasReservedConcurrency", {**defaults, "ReservedConcurrency": "-1"})
    # The queues run inside the same ceiling: the shard queue's cap and the region reports queue's,
    # plus an API burst, fit under it.
    mappings = {
        r["Properties"]["EventSourceArn"]["Fn::GetAtt"][0]: r["Properties"]["ScalingConfig"][
            "MaximumConcurrency"
        ]
        for r in resources.values()
        if r["Type"] == "AWS::Lambda::EventSourceMapping"
    }
    assert mappings == {"ShardQueue": {"Ref": "ShardMaximumConcurrency"}, "RegionReportsQueue": 2}
    shards, burst = (
        parameters["ShardMaximumConcurrency"]["Default"],
        parameters["ThrottlingBurstLimit"]["Default"],
    )
    assert shards + mappings["RegionReportsQueue"] + burst <= reserved["Default"]


def test_state_tables_have_point_in_time_recovery(template: dict[str, Any]) -> None:
    for name in ("RunsTable", "MonitorsTable"):
        props = template["Resources"][name]["Properties"]
        assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}, name
        assert props["SSESpecification"] == {"SSEEnabled": True}, name


def test_api_access_logs_are_json_lines_with_the_caller(template: dict[str, Any]) -> None:
    settings = template["Resources"]["FanoutHttpApi"]["Properties"]["AccessLogSettings"]
    assert settings["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}
    line = json.loads(settings["Format"])
    assert {"requestId", "ip", "caller", "jwtSubject", "routeKey", "status"} <= set(line)
    group = template["Resources"]["ApiAccessLogGroup"]["Properties"]
    assert group["RetentionInDays"] == {"Ref": "LogRetentionDays"}


SKIP = re.compile(r"#\s*checkov:skip=")
SKIP_WITH_REASON = re.compile(r"#\s*checkov:skip=(CKV2?_AWS_\d+):(\S.{19,})$")
SKIP_ROW = re.compile(r"^\| `(CKV2?_AWS_\d+)`[^|]*\| ([^|]+) \| ([^|]+) \|$", re.MULTILINE)


def template_skips() -> set[tuple[str, str]]:
    """(check id, resource) of every `checkov:skip=` comment, from the resource it sits in."""
    skips: set[tuple[str, str]] = set()
    resource, in_resources = "", False
    for number, line in enumerate(TEMPLATE.read_text().splitlines(), 1):
        if re.match(r"^\S", line):
            in_resources = line.startswith("Resources:")
        elif in_resources and (found := re.match(r"^  ([A-Za-z0-9]+):\s*$", line)):
            resource = found[1]
        if SKIP.search(line):
            parsed = SKIP_WITH_REASON.search(line.strip())
            assert parsed, f"template.yaml:{number}: a skip needs one check id and its reason: {line.strip()}"
            assert in_resources, f"template.yaml:{number}: a skip outside Resources"
            assert resource, f"template.yaml:{number}: a skip before the first resource"
            assert (parsed[1], resource) not in skips, f"template.yaml:{number}: skipped twice"
            skips.add((parsed[1], resource))
    return skips


def test_every_checkov_skip_has_its_reason_in_the_security_chapter(template: dict[str, Any]) -> None:
    skips = template_skips()
    assert skips, "the template has checkov skips (make checkov fails without them)"
    assert {resource for _, resource in skips} <= set(template["Resources"])
    documented: set[tuple[str, str]] = set()
    for check, resources, reason in SKIP_ROW.findall((ROOT / "docs/security.md").read_text()):
        assert len(reason.split()) >= 8, f"docs/security.md: {check} needs its reason"
        documented |= {(check, name) for name in re.findall(r"`([A-Za-z0-9]+)`", resources)}
    assert documented == skips, (
        sorted(skips - documented),
        "undocumented",
        sorted(documented - skips),
        "stale",
    )
