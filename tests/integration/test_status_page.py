"""The status page on moto in server mode: monitor runs write URLs' long history and render the
page into the template's status bucket (claimed: one render per interval), ``fanout status
build`` renders the same from the table, a monitor in a maintenance window shows in maintenance
(and alerts nobody), and 400 days of history stay bounded in the table."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from devtools.demo_target import DemoTarget
from devtools.status_sample import flaky, simulate
from fanout.aws.session import ClientConfig
from fanout.aws.status_site import claim_render
from fanout.cli.main import main as fanout
from fanout.core.history import MONTHS_KEPT, LongHistory
from fanout.core.monitors import MonitorSpec
from fanout.core.uptime import day_of
from fanout.runs.stores import RunStores, StoreConfig
from tests.support import Deployment, MotoAws, RecordingServer, call, scheduled, unique

pytestmark = pytest.mark.deployment(
    "reports", "runs", "monitors", "status_page", status_page_min_interval_s=0.0
)
DAY = 86_400


def _object(aws: MotoAws, key: str) -> dict[str, Any]:
    answer = aws.client("s3").get_object(Bucket=aws.resources.status_bucket, Key=key)
    return {"body": answer["Body"].read(), "type": answer["ContentType"], "cache": answer.get("CacheControl")}


def _flaky(target: DemoTarget, name: str) -> tuple[dict[str, Any], str]:
    url = target.url(f"/flaky/{unique(name)}?fail=2")
    request = {
        "urls": [url, {"url": target.url("/ok")}],
        "options": {"retries": 0, "expect": {"status": ["200-299"]}},
        "monitor": {
            "name": name,
            "failure_threshold": 2,
            "group": "web",
            "display_names": {url: "Flaky API"},
        },
    }
    return request, url


def test_monitor_runs_render_the_page_with_the_incident_they_saw(
    deployed: Deployment, aws: MotoAws, target: DemoTarget, tmp_path: Path
) -> None:
    name = unique("page").lower()
    request, url = _flaky(target, name)
    call(scheduled(request), 10_000)
    down = call(scheduled(request), 10_000)
    assert down["monitor"]["down"] == 1
    page = json.loads(_object(aws, f"monitors/{name}.json")["body"])
    flaky_url = next(u for u in page["urls"] if u["name"] == "Flaky API")
    assert (page["state"], flaky_url["state"]) == ("degraded", "down")
    (incident,) = flaky_url["incidents"]
    assert (incident["end"], incident["outcome"], incident["status_code"]) == (None, "check_failed", 503)
    index = _object(aws, "index.html")
    assert index["type"].startswith("text/html")
    assert index["cache"] == "max-age=60"
    assert b"Flaky API" in index["body"]
    assert url.encode() not in index["body"]

    call(scheduled(request), 10_000)
    page = json.loads(_object(aws, f"monitors/{name}.json")["body"])
    flaky_url = next(u for u in page["urls"] if u["name"] == "Flaky API")
    (incident,) = flaky_url["incidents"]
    assert flaky_url["state"] == "operational"
    assert incident["end"] is not None
    assert incident["outcome"] == "check_failed"
    badge = _object(aws, f"badges/{name}/{flaky_url['id']}/status.svg")
    assert badge["type"] == "image/svg+xml"
    assert b"operational" in badge["body"]

    out = tmp_path / "site"
    assert (
        fanout(["status", "build", "--out", str(out), "--monitors-table", aws.resources.monitors_table]) == 0
    )
    built = json.loads((out / f"monitors/{name}.json").read_text())
    assert [u["incidents"] for u in built["urls"]] == [u["incidents"] for u in page["urls"]]
    assert (out / "index.html").is_file()
    assert (out / f"badges/{name}/status.svg").is_file()


def test_a_monitor_marked_not_public_is_left_off(
    deployed: Deployment, aws: MotoAws, target: DemoTarget
) -> None:
    name = unique("hidden").lower()
    request = {"urls": [target.url("/ok")], "monitor": {"name": name, "public": False}}
    call(scheduled(request), 10_000)
    status = json.loads(_object(aws, "status.json")["body"])
    assert name not in [m["name"] for m in status["monitors"]]
    assert name.encode() not in _object(aws, "index.html")["body"]


@pytest.fixture
def receivers() -> Iterator[RecordingServer]:
    with RecordingServer() as running:
        yield running


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@pytest.mark.deployment(
    "reports", "runs", "monitors", "alerts", "status_page", status_page_min_interval_s=0.0
)
def test_a_failing_monitor_in_its_window_shows_maintenance_and_alerts_nobody(
    deployed: Deployment, aws: MotoAws, target: DemoTarget, receivers: RecordingServer
) -> None:
    """Two monitors of the same failing URL, one in a window under way: that one's page says
    maintenance and lists its windows, its webhook hears nothing; the other's is down and alerted."""
    now = time.time()
    windows = [
        {"start": _iso(now - 300), "end": _iso(now + 3_600)},
        {"cron": "0 3 * * SUN", "duration": "2h", "timezone": "Europe/Paris"},
    ]
    names = {"in": unique("maint").lower(), "out": unique("nomaint").lower()}
    for key, name in names.items():
        monitor = {
            "name": name,
            "failure_threshold": 1,
            "alerts": [{"type": "webhook", "url": receivers.url(f"/{name}")}],
        }
        if key == "in":
            monitor["maintenance"] = windows
        request = {"urls": [target.url("/status/503")], "options": {"retries": 0}, "monitor": monitor}
        answer = call(scheduled(request), 10_000)
        assert answer["monitor"]["down"] == 1
    assert [s.path for s in receivers.seen] == [f"/{names['out']}"]  # DOWN, for the other one only

    page = json.loads(_object(aws, f"monitors/{names['in']}.json")["body"])
    assert page["state"] == "maintenance"
    assert [u["state"] for u in page["urls"]] == ["maintenance"]
    assert page["maintenance"]["active"]["end"] == _iso(now + 3_600)
    upcoming = page["maintenance"]["upcoming"]
    assert [(w["cron"], w["timezone"], w["duration_s"]) for w in upcoming] == [
        ("0 3 * * SUN", "Europe/Paris", 7200)
    ] * 3
    assert len(page["maintenance"]["past"]) == 3
    other = json.loads(_object(aws, f"monitors/{names['out']}.json")["body"])
    assert (other["state"], other["maintenance"]["active"]) == ("down", None)

    status = json.loads(_object(aws, "status.json")["body"])
    shown = {m["name"]: m["state"] for m in status["monitors"]}
    assert (shown[names["in"]], shown[names["out"]]) == ("maintenance", "down")
    html = _object(aws, f"monitors/{names['in']}.html")["body"].decode()
    assert '<span class="pill s-maintenance">Maintenance</span>' in html
    assert "<caption>Upcoming maintenance</caption>" in html
    assert b">maintenance</text>" in _object(aws, f"badges/{names['in']}/status.svg")["body"]


def _stores(aws: MotoAws) -> RunStores:
    client = ClientConfig(connect_timeout_s=2.0, read_timeout_s=10.0, endpoint_url=aws.endpoint)
    return RunStores(StoreConfig(monitors_table=aws.resources.monitors_table, client=client))


def test_overlapping_runs_claim_one_render(deployed: Deployment, aws: MotoAws) -> None:
    async def claims() -> list[bool]:
        async with _stores(aws) as stores:
            before = asyncio.get_running_loop().time() + 10
            now = time.time() + 10_000  # after any render the other tests made
            table = aws.resources.monitors_table
            first = await asyncio.gather(
                *(claim_render(stores.clients, table, now, 60, before) for _ in range(4))
            )
            later = await claim_render(stores.clients, table, now + 30, 60, before)
            after = await claim_render(stores.clients, table, now + 61, 60, before)
            return [*first, later, after]

    results = asyncio.run(claims())
    assert sorted(results[:4]) == [False, False, False, True]
    assert results[4:] == [False, True]


def _weekly_window(at: float) -> bool:
    """Every seventh day, 02:00-04:00 UTC (the flaky outages are later in the day)."""
    day, second = divmod(int(at), DAY)
    return day % 7 == 3 and 7_200 <= second < 14_400


def test_400_days_of_history_stay_bounded_in_the_table(deployed: Deployment, aws: MotoAws) -> None:
    url, name = "https://history.example/health?token=t", unique("hist").lower()
    now = time.time()
    start = (now // DAY - 409) * DAY
    spec = MonitorSpec(name=name, failure_threshold=1)
    sim = simulate(url, start, 410, 24, flaky(2, outage_every=9), spec, maintenance=_weekly_window)

    async def store_and_read() -> list[Any]:
        async with _stores(aws) as stores:
            assert stores.history is not None
            before = asyncio.get_running_loop().time() + 120
            for change in sim.changes:
                assert await stores.history.record(name, {url: change}, before) == 0
            return await stores.history.months(name, before, subject=url)

    months = asyncio.run(store_and_read())
    assert len(months) <= MONTHS_KEPT
    items = aws.client("dynamodb").query(
        TableName=aws.resources.monitors_table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"monitor#{name}"}},
    )["Items"]
    sizes = [sum(len(k) + len(json.dumps(v)) for k, v in item.items()) for item in items]
    assert max(sizes) < 10_000  # a month: 31 days, a few incidents
    assert all(int(i["expires_at"]["N"]) <= now + 450 * DAY for i in items)
    long = LongHistory.of(sim.state, months, now)
    first = day_of(now - 364 * DAY)
    checks = sum(c for d, (c, _) in sim.raw.items() if first <= d <= day_of(now))
    failures = sum(f for d, (_, f) in sim.raw.items() if first <= d <= day_of(now))
    assert long.uptime(now, 365) == round((checks - failures) / checks, 6)
    stored = {d: f.maintenance_ms for m in months for d, f in m.days.items() if f.maintenance_ms}
    oldest = min(m.month for m in months)
    closed = {d: n for d, n in sim.maintained.items() if d[:7] >= oldest and d < day_of(now)}
    assert stored == {d: n * 3_600_000 for d, n in closed.items()}  # 2 checks an hour apart
    assert len(stored) >= 55  # a window a week, read back from the month items
    assert {day_of(i.start) for i in long.incidents} == {
        d for d, (_, f) in sim.raw.items() if f and d >= day_of(now - 399 * DAY)
    }


def test_a_render_that_fails_unexpectedly_keeps_the_answer_and_its_alerts(
    deployed: Deployment, aws: MotoAws, target: DemoTarget
) -> None:
    """The page is rendered after the alerts are settled: a render that raises what is not a
    store's error (a kept monitor's JSON that no longer decodes) is logged; the run's answer,
    with its monitor report, still comes back."""
    kept, name = unique("kept").lower(), unique("after").lower()
    call(scheduled({"urls": [target.url("/ok")], "monitor": {"name": kept}}), 10_000)
    aws.client("s3").put_object(
        Bucket=aws.resources.status_bucket, Key=f"monitors/{kept}.json", Body=b"{not json"
    )
    request = {"urls": [target.url("/ok")], "monitor": {"name": name}}
    answer = call(scheduled(request), 10_000)
    assert answer["monitor"]["name"] == name
    assert answer["monitor"]["up"] == 1
