"""Regional monitors, the home region's side, on moto in server mode: region reports applied through
``apply_region_reports`` (and through the reports queue's SQS events, via the handler), the alerts
read back from a queue subscribed to the alert topic (docs/monitors.md#regions)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import pytest

from fanout.config import Settings
from fanout.core.regions import RegionObservation, RegionReport
from fanout.core.rounds import round_of_start
from fanout.runs.region_home import Applied, apply_region_reports
from fanout.runs.stores import RunStores, StoreConfig
from tests.support import Deployment, MotoAws, api_request, body_of, call, unique

pytestmark = pytest.mark.deployment("monitors", "alerts")

EU, US, AP = "eu-west-1", "us-east-1", "ap-southeast-2"
REGIONS = [AP, EU, US]
URL = "https://shop.example/health"
_BASE = {"epoch_s": time.time()}


@pytest.fixture(autouse=True)
def _rounds_start_now() -> None:
    """Each test's rounds count from its own start: the tier can run longer than the 15-minute round
    bound after this module is imported, and a base taken at import would make round 0 a late report."""
    _BASE["epoch_s"] = time.time()


def rid(i: int) -> str:
    """The i-th round of a test (a minute apart, from the test's start)."""
    return round_of_start(_BASE["epoch_s"] + 60 * i)


def report(name: str, region: str, i: int, ok: bool, *, key: str | None = None, **spec: Any) -> RegionReport:
    """``region``'s report of round ``i``: ``URL`` passed or failed (HTTP 200 or 503)."""
    seen = RegionObservation(
        subject=URL,
        passed=ok,
        outcome="ok" if ok else "check_failed",
        at=time.time(),
        status_code=200 if ok else 503,
        latency_ms=40.0 if ok else 900.0,
        checks_failed=() if ok else ("status",),
    )
    monitor = {"name": name, "regions": REGIONS, "failure_threshold": 1} | spec
    return RegionReport(
        monitor=monitor,
        region=region,
        scheduled_at=rid(i),
        run_id=f"run-{region}-{i}",
        key=key or f"{region}-{i}-{uuid.uuid4().hex[:6]}",
        sent_at=time.time(),
        observations=(seen,),
    )


async def _applied(reports: list[RegionReport], settings: Settings) -> list[Applied]:
    async with RunStores(StoreConfig.from_settings(settings)) as stores:
        before = asyncio.get_running_loop().time() + 20
        return await apply_region_reports(reports, stores=stores, settings=settings, before=before)


def apply(deployed: Deployment, *reports: RegionReport) -> list[Applied]:
    return asyncio.run(_applied(list(reports), deployed.settings))


async def _racing(a: RegionReport, b: RegionReport, settings: Settings) -> list[Applied]:
    """Two reports applied at once, each on clients of its own (two home invocations)."""
    done = await asyncio.gather(_applied([a], settings), _applied([b], settings))
    return [x for d in done for x in d]


def alerts(aws: MotoAws, queue: str, name: str) -> list[dict[str, Any]]:
    """The topic's messages of ``name``: subject, the ``to`` attribute, the body."""
    found = []
    for envelope in aws.received(queue):
        attributes = {k: v["Value"] for k, v in envelope["MessageAttributes"].items()}
        if attributes.get("monitor") == name:
            found.append(
                {
                    "subject": envelope["Subject"],
                    "to": attributes["to"],
                    "body": json.loads(envelope["Message"]),
                }
            )
    return found


@pytest.fixture
def inbox(aws: MotoAws) -> str:
    return aws.alert_inbox()


def test_one_region_failing_alerts_nobody_two_make_one_down_naming_them_and_two_recovering_one_up(
    deployed: Deployment, aws: MotoAws, inbox: str
) -> None:
    name = unique("geo").lower()
    apply(deployed, report(name, EU, 0, True), report(name, US, 0, True), report(name, AP, 0, True))
    apply(deployed, report(name, EU, 1, False), report(name, US, 1, True), report(name, AP, 1, True))
    assert alerts(aws, inbox, name) == []
    applied = apply(
        deployed, report(name, EU, 2, False), report(name, US, 2, False), report(name, AP, 2, True)
    )
    assert [a.report.all_transitions for a in applied if a.report] == [0, 1, 0]  # US's report decided it
    [down] = alerts(aws, inbox, name)
    assert down["subject"] == f"[fanout] {name}: {URL} is DOWN (in {EU}, {US})"
    assert down["to"] == "down"
    assert [
        (r["region"], r["passed"], r["status_code"], r["latency_ms"]) for r in down["body"]["regions"]
    ] == [
        (EU, False, 503, 900.0),
        (US, False, 503, 900.0),
    ]
    assert (down["body"]["outcome"], down["body"]["status_code"], down["body"]["region"]) == (
        "check_failed",
        503,
        None,
    )
    apply(deployed, report(name, AP, 3, True), report(name, EU, 3, False), report(name, US, 3, True))
    [up] = alerts(aws, inbox, name)
    assert up["subject"] == f"[fanout] {name}: {URL} is UP (in {AP}, {US})"
    assert up["body"]["incident"] == down["body"]["incident"]

    view = body_of(call(api_request("GET", f"/monitors/{name}")))
    assert (view["urls"], view["up"], view["quorum"]) == (1, 1, 2)
    assert [(r["region"], r["status"]) for r in view["regions"]] == [
        (AP, "reporting"),
        (EU, "reporting"),
        (US, "reporting"),
    ]
    [url] = view["urls_page"]
    by_region = {r["region"]: r for r in url["regions"]}
    assert {r: (x["outcome"], x["status_code"], x["latency_ms"]) for r, x in by_region.items()} == {
        AP: ("ok", 200, 40.0),
        EU: ("check_failed", 503, 900.0),
        US: ("ok", 200, 40.0),
    }
    [today] = by_region[EU]["days"]
    assert (today["ok"], today["failed"], today["p50_ms"] is not None) == (1, 3, True)


def test_the_same_round_twice_and_two_reports_racing_alert_exactly_once(
    deployed: Deployment, aws: MotoAws, inbox: str
) -> None:
    name = unique("race").lower()
    first = report(name, EU, 0, False)
    apply(deployed, first, first, report(name, EU, 0, False))  # the same round, three deliveries
    assert alerts(aws, inbox, name) == []
    applied = asyncio.run(_racing(report(name, US, 0, False), report(name, AP, 0, False), deployed.settings))
    assert sum(a.report.all_transitions for a in applied if a.report) == 1
    assert sum(a.report.notified for a in applied if a.report) == 1
    again = apply(deployed, report(name, US, 0, False, key="another-delivery"))
    assert again[0].report is not None
    assert again[0].report.all_transitions == 0
    assert [m["to"] for m in alerts(aws, inbox, name)] == ["down"]


@pytest.mark.parametrize(
    ("quorum", "failing", "down"), [(1, [EU], True), (3, [EU, US], False), (3, REGIONS, True)]
)
def test_quorum_1_and_quorum_3(
    deployed: Deployment, aws: MotoAws, inbox: str, quorum: int, failing: list[str], down: bool
) -> None:
    name = unique(f"q{quorum}").lower()
    reports = [
        report(name, r, 0, r not in failing, quorum=quorum)
        for r in [*failing, *(set(REGIONS) - set(failing))]
    ]
    apply(deployed, *reports)
    assert [m["to"] for m in alerts(aws, inbox, name)] == (["down"] if down else [])


def test_a_region_silent_three_rounds_is_one_region_silent_then_one_region_back_and_no_url_alert(
    deployed: Deployment, aws: MotoAws, inbox: str
) -> None:
    name = unique("quiet").lower()
    apply(deployed, *(report(name, r, 0, True) for r in REGIONS))
    for i in (1, 2, 3):
        apply(deployed, report(name, EU, i, True), report(name, US, i, True))
    [silent] = alerts(aws, inbox, name)
    assert silent["subject"] == f"[fanout] {name}: region {AP} is SILENT (missed 3 rounds)"
    assert (silent["to"], silent["body"]["event"], silent["body"]["region"], silent["body"]["url"]) == (
        "region_silent",
        "region_silent",
        AP,
        None,
    )
    view = body_of(call(api_request("GET", f"/monitors/{name}")))
    assert [(r["region"], r["status"], r["missed"]) for r in view["regions"]] == [
        (AP, "silent", 3),
        (EU, "reporting", 0),
        (US, "reporting", 0),
    ]
    apply(deployed, report(name, AP, 4, True), report(name, EU, 4, True))
    [back] = alerts(aws, inbox, name)
    assert (back["to"], back["body"]["region"], back["body"]["incident"]) == (
        "region_back",
        AP,
        silent["body"]["incident"],
    )
    assert view["down"] == 0


def test_a_report_past_the_round_bound_is_dropped_and_counted(deployed: Deployment) -> None:
    name = unique("late").lower()
    late = report(name, EU, -30, False)  # 30 minutes ago: past the 15-minute bound
    [dropped] = apply(deployed, late)
    assert (dropped.report, dropped.dropped) == (None, "late")
    unlisted = report(name, "sa-east-1", 0, False)
    assert apply(deployed, unlisted)[0].dropped == "region not listed"


def sqs_event(aws: MotoAws, queue: str, bodies: list[str]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The reports queue's Lambda event for ``bodies`` (sent, then received as the event source would)."""
    sqs = aws.client("sqs")
    for body in bodies:
        sqs.send_message(QueueUrl=queue, MessageBody=body)
    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, AttributeNames=["All"])["Messages"]
    records = [
        {
            "messageId": m["MessageId"],
            "receiptHandle": m["ReceiptHandle"],
            "body": m["Body"],
            "attributes": m["Attributes"],
            "messageAttributes": {},
            "md5OfBody": m["MD5OfBody"],
            "eventSource": "aws:sqs",
            "eventSourceARN": aws.queue_arn(queue),
            "awsRegion": EU,
        }
        for m in messages
    ]
    return {"Records": records}, messages


def test_the_reports_queue_applies_each_report_and_fails_only_those_not_applied(
    deployed: Deployment, aws: MotoAws, inbox: str
) -> None:
    name = unique("queue").lower()
    queue = aws.client("sqs").create_queue(QueueName=f"reports-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    bodies = [report(name, r, 0, False).to_bytes().decode() for r in (EU, US)]
    broken = '{"monitor": {}, "region": "eu-west-1", "observations": [], "scheduled_at": "never"}'
    event, messages = sqs_event(aws, queue, [*bodies, broken])
    assert len(messages) == 3
    answer = call(event, 20_000)
    bad = next(m["MessageId"] for m in messages if "never" in m["Body"])
    assert answer == {"batchItemFailures": [{"itemIdentifier": bad}]}
    [down] = alerts(aws, inbox, name)
    assert down["subject"].endswith(f"is DOWN (in {EU}, {US})")
    deployed.configure(monitors_table_name="")
    event, messages = sqs_event(aws, queue, [report(name, AP, 0, False).to_bytes().decode()])
    assert call(event, 20_000) == {"batchItemFailures": [{"itemIdentifier": messages[0]["MessageId"]}]}
