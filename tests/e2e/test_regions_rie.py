"""Probes from several regions end to end (issue 25): one moto server serving every region, three
functions in the Lambda Runtime Interface Emulator with AWS_REGION us-east-1 (home), eu-west-1
and ap-southeast-2 (probes), each regional monitor's round delivered to the three as its schedules
would (the same ``scheduled_at``), one region after the other while the test switches the origin's
answer. The probes' reports go to the home region's queue, which the test pumps into the home
function as the SQS event source would (``batchItemFailures`` must be empty); alerts are received
by a webhook receiver on 127.0.0.1. ap-southeast-2 reaches its home region through a TCP proxy
the test can turn into a black hole (a partition)."""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from devtools.rie import LambdaEmulator, function_error
from tests.support import E2E_ENV, MotoAws, RecordingServer, TcpProxy, load_template

HOME, EU, AP = "us-east-1", "eu-west-1", "ap-southeast-2"
REGIONS = (HOME, EU, AP)
SECOND_HOME = "us-east-1 (2)"
TIMEOUT_S = 20
_BASE = {"epoch_s": 0}


@pytest.fixture(autouse=True)
def _rounds_from_the_next_minute() -> None:
    """Each test's rounds are a minute apart from the minute after its start: a base taken at import
    would make early rounds late (past the 15-minute round bound) in a tier that runs long."""
    _BASE["epoch_s"] = (int(time.time()) // 60 + 1) * 60


@dataclass
class Regions:
    """The three functions, the home region's reports queue, and what the pump moved."""

    aws: MotoAws
    world: RecordingServer  # the origin (/origin/<name>) and the webhook receiver (/hook/<name>)
    proxy: TcpProxy
    functions: dict[str, LambdaEmulator]
    home_queue: str
    pumped: list[dict[str, Any]] = field(default_factory=list)

    def deliver(self, region: str, request: dict[str, Any], round_: str) -> dict[str, Any]:
        """The region's schedule's delivery of ``round_`` (its event id: the same on a retry)."""
        name = request["monitor"]["name"]
        event_id = f"arn:aws:scheduler:{region}:123456789012:schedule/fanout/fanout.{name}@{round_}"
        event = {"source": "schedule", "event_id": event_id, **request, "scheduled_at": round_}
        rie = self.functions[region]
        answer, _ = rie.invoke(event)
        assert function_error(answer) is None, rie.log_tail()
        assert "monitor" in answer, answer
        monitor: dict[str, Any] = answer["monitor"]
        return monitor

    def waiting(self, most: int = 5) -> list[dict[str, Any]]:
        """Up to ``most`` reports from the home region's queue, as the event source receives them."""
        sqs = self.aws.client("sqs", HOME)
        got = sqs.receive_message(QueueUrl=self.home_queue, MaxNumberOfMessages=most, AttributeNames=["All"])
        messages: list[dict[str, Any]] = got.get("Messages", [])
        return messages

    def consume(self, messages: list[dict[str, Any]], function: str = HOME) -> None:
        """``messages`` as one SQS event into a home function: none may fail; then deleted, as the
        event source deletes what the function did not report failed."""
        arn = self.aws.queue_arn(self.home_queue, HOME)
        records = [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m["Attributes"],
                "messageAttributes": {},
                "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": arn,
                "awsRegion": HOME,
            }
            for m in messages
        ]
        rie = self.functions[function]
        answer, _ = rie.invoke({"Records": records})
        assert answer == {"batchItemFailures": []}, (answer, rie.log_tail())
        sqs = self.aws.client("sqs", HOME)
        for m in messages:
            sqs.delete_message(QueueUrl=self.home_queue, ReceiptHandle=m["ReceiptHandle"])
            self.pumped.append(json.loads(m["Body"]))

    def pump(self) -> int:
        """Every report waiting in the home region's queue, into the home function (up to 5
        records an event: the template's batch size); how many."""
        applied = 0
        for _ in range(20):
            messages = self.waiting()
            if not messages:
                return applied
            self.consume(messages)
            applied += len(messages)
        raise AssertionError("the reports queue did not drain")

    def round(
        self,
        request: dict[str, Any],
        i: int,
        *,
        failing: tuple[str, ...] = (),
        regions: tuple[str, ...] = REGIONS,
    ) -> dict[str, dict[str, Any]]:
        """Round ``i``: each region's delivery in turn, the origin failing only while a region in
        ``failing`` fetches; then the reports pumped home. Each region's monitor report."""
        done = {}
        for region in regions:
            self.world.script(path_of(request), then=503 if region in failing else 200)
            done[region] = self.deliver(region, request, rid(i))
        self.pump()
        return done


def rid(i: int) -> str:
    return datetime.fromtimestamp(_BASE["epoch_s"] + 60 * i, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def path_of(request: dict[str, Any]) -> str:
    return "/" + str(request["urls"][0]).split("/", 3)[3]


def monitor_request(world: RecordingServer, name: str, **spec: Any) -> dict[str, Any]:
    hook = [{"type": "webhook", "url": world.url(f"/hook/{name}")}]
    monitor = {"name": name, "regions": list(REGIONS), "failure_threshold": 1, "alerts": hook} | spec
    return {"urls": [world.url(f"/origin/{name}")], "options": {"retries": 0}, "monitor": monitor}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def aws() -> Iterator[MotoAws]:
    with MotoAws() as moto:
        yield moto


@pytest.fixture(scope="module")
def regions(aws: MotoAws) -> Iterator[Regions]:
    template, suffix = load_template(), uuid.uuid4().hex[:8]
    base = (
        E2E_ENV
        | aws.function_env()
        | {
            "FANOUT_HOME_REGION": HOME,
            "FANOUT_REGION_REPORTS_QUEUE_URL": aws.resources.region_reports_queue_url,
        }
    )
    with contextlib.ExitStack() as stack:
        world = stack.enter_context(RecordingServer())
        proxy = stack.enter_context(TcpProxy(aws.endpoint))
        envs = {HOME: base | {"FANOUT_REGION_OUTBOX_QUEUE_URL": aws.resources.region_outbox_queue_url}}
        for region in (EU, AP):
            outbox = aws.create_region_queues(template, aws.resources, f"{region}-{suffix}", region=region)
            envs[region] = base | {
                "AWS_REGION": region,
                "AWS_DEFAULT_REGION": region,
                "FANOUT_REGION_OUTBOX_QUEUE_URL": outbox.region_outbox_queue_url,
                # A probe region's stores are its own stack's: none is used by its regional runs.
                "REPORTS_BUCKET_NAME": "",
                "RUNS_TABLE_NAME": "",
                "IDEMPOTENCY_TABLE_NAME": "",
            }
        envs[AP]["FANOUT_HOME_ENDPOINT_URL"] = proxy.endpoint
        envs[SECOND_HOME] = envs[HOME]  # another execution environment of the home function
        functions = {}
        for region, env in envs.items():
            rie = LambdaEmulator(timeout_s=TIMEOUT_S, env=env, function_name="fanout")
            functions[region] = stack.enter_context(rie)
        yield Regions(aws, world, proxy, functions, aws.resources.region_reports_queue_url)


def alerts_to(world: RecordingServer, name: str) -> list[dict[str, Any]]:
    """What the monitor ``name``'s webhook (/hook/<name> on ``world``) received, in order."""
    return [seen.json for seen in world.sent_to(f"/hook/{name}")]


def url_alerts(world: RecordingServer, name: str) -> list[dict[str, Any]]:
    return [a for a in alerts_to(world, name) if a["event"] == "changed"]


def test_failing_in_one_region_no_down_in_two_one_down_naming_them_recovering_in_two_one_up(
    regions: Regions,
) -> None:
    name = unique("geo")
    request = monitor_request(regions.world, name)
    regions.round(request, 0)
    answers = regions.round(request, 1, failing=(EU,))
    assert answers[EU]["region"]["sent"] is True
    assert answers[AP]["region"] == answers[AP]["region"] | {"region": AP, "home": HOME, "round": rid(1)}
    assert alerts_to(regions.world, name) == []

    regions.round(request, 2, failing=(EU, AP))
    [down] = alerts_to(regions.world, name)
    print("\nthe DOWN alert of the two-region case, as received:\n" + json.dumps(down, indent=2))
    assert (down["event"], down["to"], down["url"]) == ("changed", "down", request["urls"][0])
    assert [(r["region"], r["passed"], r["status_code"]) for r in down["regions"] if not r["passed"]] == [
        (AP, False, 503),
        (EU, False, 503),
    ]
    assert [r["region"] for r in down["regions"] if r["passed"]] in ([], [HOME])

    regions.round(request, 3, failing=(EU,))  # recovered in two (us-east-1, ap-southeast-2)
    assert [a["to"] for a in url_alerts(regions.world, name)] == ["down", "up"]
    up = url_alerts(regions.world, name)[1]
    assert sorted(r["region"] for r in up["regions"] if r["passed"]) == [AP, HOME]
    assert up["incident"] == down["incident"]


def test_the_same_round_delivered_twice_and_reports_racing_alert_once(regions: Regions) -> None:
    name = unique("race")
    request = monitor_request(regions.world, name)
    regions.round(request, 0)
    regions.world.script(path_of(request), then=503)
    for _ in range(2):  # every probe's schedule delivers round 1 twice (a retry: the same event id)
        for region in (EU, AP):
            regions.deliver(region, request, rid(1))
    first, second = regions.waiting(2), regions.waiting(2)
    assert sorted(json.loads(m["Body"])["region"] for m in first + second) == [AP, AP, EU, EU]
    regions.deliver(HOME, request, rid(1))  # the home region's own word: one of three failing
    assert alerts_to(regions.world, name) == []
    with ThreadPoolExecutor(2) as pool:  # two home environments apply the probes' reports at once
        racing = [
            pool.submit(regions.consume, part, fn) for part, fn in ((first, HOME), (second, SECOND_HOME))
        ]
        for done in racing:
            done.result()
    assert regions.pump() == 0
    regions.deliver(HOME, request, rid(1))  # and the home's delivery once more
    assert [a["to"] for a in alerts_to(regions.world, name)] == ["down"]


def test_a_region_silent_three_rounds_is_one_region_silent_no_url_alert_then_one_back(
    regions: Regions,
) -> None:
    name = unique("quiet")
    request = monitor_request(regions.world, name)
    regions.round(request, 0)
    for i in (1, 2, 3):
        regions.round(request, i, regions=(HOME, EU))
    [silent] = alerts_to(regions.world, name)
    assert (silent["event"], silent["region"], silent["url"]) == ("region_silent", AP, None)
    regions.round(request, 4)
    assert [(a["event"], a["region"]) for a in alerts_to(regions.world, name)] == [
        ("region_silent", AP),
        ("region_back", AP),
    ]
    assert url_alerts(regions.world, name) == []


def test_a_probe_cut_from_home_for_a_run_delivers_with_its_next_run_once(regions: Regions) -> None:
    name = unique("cut")
    request = monitor_request(regions.world, name)
    regions.round(request, 0)
    regions.proxy.set("blackhole")
    try:
        cut = regions.round(request, 1)[AP]["region"]
    finally:
        regions.proxy.set("pass")
    assert (cut["sent"], cut["outbox_kept"], cut["round"]) == (False, 1, rid(1))
    assert cut["error"]
    mended = regions.round(request, 2)[AP]["region"]
    assert (mended["sent"], mended["outbox_delivered"]) == (True, 1)
    later = regions.round(request, 3)[AP]["region"]
    assert (later["sent"], later.get("outbox_delivered", 0)) == (True, 0)
    from_ap = [
        (r["scheduled_at"], r["key"])
        for r in regions.pumped
        if r["region"] == AP and r["monitor"]["name"] == name
    ]
    assert sorted(r for r, _ in from_ap) == [rid(0), rid(1), rid(2), rid(3)], "each round's report once"
    assert len({k for _, k in from_ap}) == 4
    assert url_alerts(regions.world, name) == []


def test_quorum_1_the_first_region_to_report_decides_the_round(regions: Regions) -> None:
    name = unique("q1")
    request = monitor_request(regions.world, name, quorum=1)
    regions.round(request, 0)
    regions.round(request, 1, failing=(EU,))  # the home region passed it first: decided, up
    assert alerts_to(regions.world, name) == []
    regions.world.script(path_of(request), then=503)
    regions.deliver(EU, request, rid(2))
    regions.pump()  # eu-west-1's failure reaches home first: decided, down
    regions.world.script(path_of(request), then=200)
    regions.round(request, 2, regions=(HOME, AP))
    [down] = alerts_to(regions.world, name)
    assert down["to"] == "down"
    assert [r["region"] for r in down["regions"] if r["passed"] is False] == [EU]


@pytest.mark.parametrize(("failing", "down"), [((EU, AP), False), (REGIONS, True)])
def test_quorum_3_needs_every_region(regions: Regions, failing: tuple[str, ...], down: bool) -> None:
    name = unique("q3")
    request = monitor_request(regions.world, name, quorum=3)
    regions.round(request, 0)
    regions.round(request, 1, failing=failing)
    alerts = url_alerts(regions.world, name)
    assert [a["to"] for a in alerts] == (["down"] if down else [])
    if down:
        assert sorted(r["region"] for r in alerts[0]["regions"] if r["passed"] is False) == sorted(REGIONS)
