"""Alert hygiene on moto with a real webhook receiver on 127.0.0.1: maintenance windows (no
alert inside, one at the end if still down), reminders, dependencies (held, then alerted), and
grouped alerts; duplicates and overlapping runs still send once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from fanout.config import get_settings
from fanout.core.monitor_report import MonitorReport
from fanout.core.monitor_views import MonitorView
from fanout.core.monitors import MonitorSpec
from fanout.core.results import Outcome, UrlResult
from fanout.runs.stores import RunStores, StoreConfig
from tests.support import Deployment, RecordingServer, monitor_run, unique

pytestmark = pytest.mark.deployment("monitors", "alerts")


@pytest.fixture
def receivers() -> Iterator[RecordingServer]:
    with RecordingServer() as running:
        yield running


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def results(urls: list[str], ok: bool) -> list[UrlResult]:
    outcome, status = (Outcome.OK, 200) if ok else (Outcome.FAILED, 503)
    return [UrlResult(u, outcome, status, 1, 5.0, None, None) for u in urls]


def spec_of(receivers: RecordingServer, name: str, **more: Any) -> MonitorSpec:
    hook = [{"type": "webhook", "url": receivers.url(f"/{name}")}]
    return MonitorSpec.model_validate({"name": name, "failure_threshold": 1, "alerts": hook, **more})


def run(spec: MonitorSpec, urls: list[str], ok: bool, run_id: str) -> MonitorReport:
    return asyncio.run(monitor_run(spec, results(urls, ok), run_id))


def hooks(receivers: RecordingServer, name: str) -> list[dict[str, Any]]:
    return [s.json for s in receivers.sent_to(f"/{name}")]


async def view(name: str) -> MonitorView:
    before = asyncio.get_running_loop().time() + 20
    async with RunStores(StoreConfig.from_settings(get_settings())) as stores:
        assert stores.monitors is not None
        summary = await stores.monitors.get_summary(name, before)
        states, _ = await stores.monitors.page_states(name, 50, None, before)
    assert summary is not None
    return MonitorView.at(summary, states, None, time.time())


def test_no_alert_inside_a_window_and_one_at_its_end_if_still_down(
    deployed: Deployment, receivers: RecordingServer
) -> None:
    name, url = unique("maint").lower(), "https://api.example/maint"
    now = time.time()
    inside = spec_of(receivers, name, maintenance=[{"start": iso(now - 60), "end": iso(now + 3_600)}])
    run(inside, [url], True, "r0")
    report = run(inside, [url], False, "r1")
    assert report.maintenance_active
    assert report.maintenance is not None
    assert report.maintenance.end == iso(now + 3_600)
    assert (report.down, report.notified, report.suppressed, report.pending) == (1, 0, 1, 0)
    assert run(inside, [url], False, "r2").notified == 0
    shown = asyncio.run(view(name))
    assert shown.maintenance_active
    assert shown.urls_page[0].suppressed_by == ("maintenance",)
    assert hooks(receivers, name) == []

    ended = spec_of(receivers, name, maintenance=[{"start": iso(now - 60), "end": iso(now - 1)}])
    after = run(ended, [url], False, "r3")
    assert (after.maintenance_active, after.notified, after.pending) == (False, 1, 0)
    assert run(ended, [url], False, "r3").notified == 0  # the same delivery again
    assert run(ended, [url], False, "r4").notified == 0
    assert [(h["event"], h["to"]) for h in hooks(receivers, name)] == [("changed", "down")]
    assert not asyncio.run(view(name)).maintenance_active


def test_down_and_back_inside_a_window_sends_nothing(
    deployed: Deployment, receivers: RecordingServer
) -> None:
    name, url = unique("blip").lower(), "https://api.example/blip"
    now = time.time()
    inside = spec_of(receivers, name, maintenance=[{"cron": "* * * * *", "duration": "10m"}])
    run(inside, [url], True, "r0")
    run(inside, [url], False, "r1")
    run(inside, [url], True, "r2")
    outside = spec_of(receivers, name, maintenance=[{"start": iso(now - 60), "end": iso(now - 1)}])
    assert run(outside, [url], True, "r3").notified == 0
    assert hooks(receivers, name) == []


class Clock:
    """``time.time`` for the monitor's update, moved forward at will."""

    def __init__(self) -> None:
        self.ahead = 0.0

    def time(self) -> float:
        return time.time() + self.ahead


def test_a_reminder_once_per_period_while_down(
    deployed: Deployment, receivers: RecordingServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock()
    monkeypatch.setattr("fanout.runs.monitor.time", clock)
    name, url = unique("remind").lower(), "https://api.example/remind"
    spec = spec_of(receivers, name, remind_every="1h")
    run(spec, [url], False, "r1")
    clock.ahead = 1_800
    assert run(spec, [url], False, "r2").reminders == 0
    clock.ahead = 3_700
    assert run(spec, [url], False, "r3").reminders == 1
    assert run(spec, [url], False, "r3").reminders == 0  # a duplicate delivery
    assert run(spec, [url], False, "r4").reminders == 0  # the same period
    clock.ahead = 7_300
    assert run(spec, [url], False, "r5").reminders == 1
    sent = hooks(receivers, name)
    assert [(h["event"], h["to"]) for h in sent] == [
        ("changed", "down"),
        ("reminder", "down"),
        ("reminder", "down"),
    ]
    assert len({h["incident"] for h in sent}) == 1  # one down period
    assert sent[1]["since"] == sent[0]["since"]


def test_a_dependency_down_holds_down_alerts_until_it_recovers(
    deployed: Deployment, receivers: RecordingServer
) -> None:
    network, app = unique("net").lower(), unique("app").lower()
    gateway, page = "https://gw.example/", "https://app.example/"
    net_spec = spec_of(receivers, network)
    app_spec = spec_of(receivers, app, depends_on=[network])
    one_url = spec_of(receivers, app + "-x", depends_on=[f"{network}/{gateway}"])
    run(net_spec, [gateway], False, "n1")  # the dependency goes down (and is alerted)
    held = run(app_spec, [page], False, "a1")
    assert (held.down, held.notified, held.suppressed, held.dependencies_down) == (1, 0, 1, (network,))
    assert asyncio.run(view(app)).urls_page[0].suppressed_by == (network,)
    assert run(one_url, [page], False, "x1").dependencies_down == (f"{network}/{gateway}",)
    run(net_spec, [gateway], True, "n2")  # it recovers; the app is still down
    assert run(app_spec, [page], False, "a2").notified == 1
    assert run(app_spec, [page], False, "a3").notified == 0
    assert run(one_url, [page], False, "x2").notified == 1
    assert [h["to"] for h in hooks(receivers, app)] == ["down"]
    assert [h["to"] for h in hooks(receivers, network)] == ["down", "up"]


def test_a_storm_is_one_grouped_alert_even_with_overlapping_runs(
    deployed: Deployment, receivers: RecordingServer
) -> None:
    name = unique("storm").lower()
    urls = [f"https://origin.example/{i}" for i in range(8)]
    spec = spec_of(receivers, name)
    run(spec, urls, True, "r0")

    async def overlapping() -> list[MonitorReport]:
        return list(
            await asyncio.gather(*(monitor_run(spec, results(urls, False), f"o{i}") for i in range(3)))
        )

    reports = asyncio.run(overlapping())
    assert sum(r.notified for r in reports) == 8  # each URL's alert settled once, by one run
    assert sum(r.grouped for r in reports) == 8
    assert run(spec, urls, False, "o0").notified == 0  # a duplicate delivery
    sent = hooks(receivers, name)
    assert len(sent) == 1
    grouped = sent[0]
    assert (grouped["event"], grouped["to"], grouped["url"]) == ("grouped", "down", None)
    assert grouped["changes"]["total"] == 8
    assert grouped["changes"]["down"] == 8
    assert sorted(c["url"] for c in grouped["changes"]["listed"]) == sorted(urls)
    few = run(spec, urls[:3], True, "r9")  # 3 changes: at most group_over, one alert each
    assert (few.notified, few.grouped) == (3, 0)
    assert [h["event"] for h in hooks(receivers, name)] == ["grouped", "changed", "changed", "changed"]
