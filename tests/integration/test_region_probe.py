"""A probe region's reports on their way home, on one moto server serving both regions: the home
region's reports queue in us-east-1 (reached through a TCP proxy the test turns off), this
region's outbox in eu-west-1. Every SQS call the probe makes is counted with botocore's event
hooks on its clients: one ``SendMessageBatch`` to the home region per run, whatever it carries."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from devtools.demo_target import DemoTarget
from fanout.config import Settings, get_settings
from fanout.core.regions import RegionDelivery, RegionObservation, RegionReport
from fanout.runs.region_probe import send_home
from fanout.runs.stores import RunStores, StoreConfig
from tests.support import Deployment, MotoAws, TcpProxy, call, load_template, point_aws_at, scheduled, unique

HOME, PROBE = "us-east-1", "eu-west-1"


@dataclass
class Probe:
    """A probe region's deployment: its settings, the home queue and the outbox."""

    aws: MotoAws
    settings: Settings
    proxy: TcpProxy
    home_queue: str
    outbox: str

    def home_reports(self) -> list[RegionReport]:
        return [RegionReport.from_json(b) for b in self.aws.received(self.home_queue, wait_s=0, region=HOME)]

    def outbox_reports(self) -> list[RegionReport]:
        return [RegionReport.from_json(b) for b in self.aws.received(self.outbox, wait_s=0, region=PROBE)]

    async def send(self, report: RegionReport, budget_s: float = 5.0) -> tuple[RegionDelivery, Counter[str]]:
        """``send_home`` in a new invocation's stores; the delivery and the SQS calls, by region."""
        calls: Counter[str] = Counter()
        async with RunStores(StoreConfig.from_settings(self.settings)) as stores:
            home = await stores.clients.client(
                "sqs", region=HOME, endpoint_url=self.settings.home_endpoint_url
            )
            outbox = await stores.clients.client("sqs")
            for client, region in ((home, HOME), (outbox, PROBE)):
                client.meta.events.register("before-call.sqs", _counter(calls, region))
            before = asyncio.get_running_loop().time() + budget_s
            delivery = await send_home(report, stores=stores, settings=self.settings, before=before)
        return delivery, calls


def _counter(calls: Counter[str], region: str) -> Any:
    def count(model: Any, **_: Any) -> None:
        calls[f"{region}:{model.name}"] += 1

    return count


@pytest.fixture
def probe(aws: MotoAws, monkeypatch: pytest.MonkeyPatch) -> Iterator[Probe]:
    point_aws_at(monkeypatch, aws.endpoint)
    monkeypatch.setenv("AWS_REGION", PROBE)
    monkeypatch.setenv("AWS_DEFAULT_REGION", PROBE)
    template, suffix = load_template(), uuid.uuid4().hex[:8]
    home = aws.create_region_queues(template, aws.resources, f"home-{suffix}", region=HOME)
    here = aws.create_region_queues(template, aws.resources, f"probe-{suffix}", region=PROBE)
    with TcpProxy(aws.endpoint) as proxy:
        settings = get_settings().model_copy(
            update={
                "region": PROBE,
                "home_region": HOME,
                "region_reports_queue_url": home.region_reports_queue_url,
                "region_outbox_queue_url": here.region_outbox_queue_url,
                "home_endpoint_url": proxy.endpoint,
                "store_connect_timeout_s": 0.3,
                "store_read_timeout_s": 0.5,
            }
        )
        yield Probe(aws, settings, proxy, home.region_reports_queue_url, here.region_outbox_queue_url)


def report(urls: int = 3, *, round_: str | None = None, key: str | None = None) -> RegionReport:
    now = time.time()
    scheduled_at = round_ or time.strftime("%Y-%m-%dT%H:%M:00Z", time.gmtime(now))
    observations = tuple(
        RegionObservation(
            subject=f"https://example.com/{i}/{'x' * 40}", passed=i % 2 == 0, outcome="ok", at=now
        )
        for i in range(urls)
    )
    return RegionReport(
        monitor={"name": "shop", "regions": [HOME, PROBE, "ap-southeast-2"]},
        region=PROBE,
        scheduled_at=scheduled_at,
        run_id=uuid.uuid4().hex,
        key=key or uuid.uuid4().hex,
        sent_at=now,
        observations=observations,
    )


@pytest.mark.anyio
async def test_a_report_reaches_the_home_region_in_one_call(probe: Probe) -> None:
    sent = report(3)
    delivery, calls = await probe.send(sent)
    assert (delivery.sent, delivery.parts, delivery.region, delivery.home) == (True, 1, PROBE, HOME)
    assert (delivery.outbox_kept, delivery.outbox_delivered, delivery.late_dropped) == (0, 0, 0)
    assert delivery.error is None
    assert calls[f"{HOME}:SendMessageBatch"] == 1
    assert sum(n for op, n in calls.items() if op.startswith(HOME)) == 1
    assert probe.home_reports() == [sent]
    assert probe.outbox_reports() == []


@pytest.mark.anyio
async def test_a_large_report_goes_in_parts_in_the_same_single_call(probe: Probe) -> None:
    sent = report(1_200)
    delivery, calls = await probe.send(sent)
    assert delivery.sent
    assert delivery.parts > 1
    assert calls[f"{HOME}:SendMessageBatch"] == 1
    arrived = sorted(probe.home_reports(), key=lambda r: r.part)
    assert [p.part for p in arrived] == list(range(delivery.parts))
    assert {(p.key, p.parts) for p in arrived} == {(sent.key, delivery.parts)}
    assert tuple(o for p in arrived for o in p.observations) == sent.observations


@pytest.mark.anyio
@pytest.mark.parametrize("fault", ["refuse", "blackhole"])
async def test_an_unreachable_home_keeps_the_report_and_the_next_run_delivers_it_once(
    probe: Probe, fault: str
) -> None:
    probe.proxy.set(fault)
    first = report(2)
    started = time.monotonic()
    kept, _ = await probe.send(first, budget_s=3.0)
    assert time.monotonic() - started < 3.0 + 1.0, "bounded by its slice"
    assert (kept.sent, kept.outbox_kept, kept.outbox_delivered) == (False, 1, 0)
    assert kept.error
    assert probe.proxy.accepted[fault] >= 1

    probe.proxy.set("pass")
    second = report(2)
    delivered, calls = await probe.send(second)
    assert (delivered.sent, delivered.outbox_delivered, delivered.outbox_kept) == (True, 1, 0)
    assert calls[f"{HOME}:SendMessageBatch"] == 1
    assert 1 <= calls[f"{PROBE}:ReceiveMessage"] <= 2
    arrived = probe.home_reports()
    assert sorted(r.key for r in arrived) == sorted([first.key, second.key])
    assert next(r for r in arrived if r.key == first.key) == first  # as first sent (its sent_at)

    last = report(1)
    third, _ = await probe.send(last)
    assert (third.sent, third.outbox_delivered) == (True, 0)
    assert probe.home_reports() == [last]  # the first report is not delivered twice
    assert probe.outbox_reports() == []


@pytest.mark.anyio
async def test_reports_past_the_round_bound_are_dropped_and_counted(probe: Probe) -> None:
    old_round = time.strftime("%Y-%m-%dT%H:%M:00Z", time.gmtime(time.time() - 2 * 3600))
    stale = report(1, round_=old_round)
    sqs = probe.aws.client("sqs", PROBE)
    sqs.send_message(QueueUrl=probe.outbox, MessageBody=stale.to_bytes().decode())
    fresh = report(1)
    delivery, _ = await probe.send(fresh)
    assert (delivery.sent, delivery.late_dropped, delivery.outbox_delivered) == (True, 1, 0)
    assert probe.home_reports() == [fresh]
    assert probe.outbox_reports() == []

    late, calls = await probe.send(report(1, round_=old_round))
    assert (late.sent, late.late_dropped) == (False, 1)
    assert calls[f"{HOME}:SendMessageBatch"] == 0
    assert probe.home_reports() == []


@pytest.mark.anyio
async def test_more_waiting_than_one_call_holds_stays_in_the_outbox_for_later_runs(probe: Probe) -> None:
    sqs = probe.aws.client("sqs", PROBE)
    waiting = [report(1) for _ in range(12)]
    for r in waiting:
        sqs.send_message(QueueUrl=probe.outbox, MessageBody=r.to_bytes().decode())
    delivered = 0
    for _ in range(4):
        delivery, calls = await probe.send(report(1))
        assert delivery.sent
        assert calls[f"{HOME}:SendMessageBatch"] == 1
        assert delivery.outbox_delivered <= 9
        delivered += delivery.outbox_delivered
    keys = [r.key for r in probe.home_reports()]
    assert delivered == 12
    assert sorted(k for k in keys if k in {r.key for r in waiting}) == sorted(r.key for r in waiting)


@pytest.mark.deployment("monitors", "regions")  # its tables are the home's: none used here
def test_a_regional_monitor_run_in_a_probe_region_sends_its_report_home(
    deployed: Deployment, aws: MotoAws, target: DemoTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_REGION", PROBE)
    monkeypatch.setenv("AWS_DEFAULT_REGION", PROBE)
    here = aws.create_region_queues(load_template(), aws.resources, uuid.uuid4().hex[:8], region=PROBE)
    deployed.configure(region=PROBE, home_region=HOME, region_outbox_queue_url=here.region_outbox_queue_url)
    name = unique("probe").lower()
    round_ = time.strftime("%Y-%m-%dT%H:%M:00Z", time.gmtime())
    ok, failing = target.url("/ok"), target.url("/status/503")
    request = {
        "urls": [ok, failing],
        "options": {"retries": 0, "thresholds": {"failed_rate": "<0.9"}},
        "monitor": {"name": name, "regions": [HOME, PROBE], "quorum": 2},
        "scheduled_at": round_.replace("Z", "+00:00"),  # written another way: the same round
    }
    event_id = f"arn:aws:scheduler:{PROBE}:123456789012:schedule/g/fanout.{name}@{round_}"
    document = call(scheduled(request) | {"id": event_id}, 10_000)
    region = document["monitor"]["region"]
    assert (region["region"], region["home"], region["round"]) == (PROBE, HOME, round_)
    assert (document["monitor"]["transitions"], document["monitor"]["notified"]) == ([], 0)
    (arrived,) = aws.received(aws.resources.region_reports_queue_url, wait_s=0, region=HOME)
    sent = RegionReport.from_json(arrived)
    assert region["sent"] is True, region
    assert (sent.region, sent.scheduled_at, sent.run_id, sent.key) == (
        PROBE,
        round_,
        document["run_id"],
        f"schedule:{event_id}",
    )
    assert (sent.monitor["name"], sent.monitor["quorum"]) == (name, 2)
    assert [(o.subject, o.passed, o.status_code) for o in sent.observations] == [
        (ok, True, 200),
        (failing, False, 503),
        ("threshold:failed_rate<0.9", True, None),
    ]
    stored = aws.client("dynamodb").scan(TableName=aws.resources.monitors_table)["Items"]
    assert not [i for i in stored if name in str(i)], "a probe region keeps no monitor state"
