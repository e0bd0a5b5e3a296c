"""Alert hygiene through the Lambda Runtime Interface Emulator on moto: scheduled deliveries of
monitor runs against an origin and a webhook receiver on 127.0.0.1 (both one server). Maintenance
(no alert inside, one at its end if still down), reminders, dependencies and grouping, each with a
duplicated delivery and overlapping runs (two emulators at once) still alerting exactly once."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest

from devtools.rie import LambdaEmulator, function_error
from fanout.aws.monitor_codec import state_key
from tests.support import E2E_ENV, EmulatorFactory, MotoAws, RecordingServer, scheduled

TIMEOUT_S = 20


@pytest.fixture(scope="module")
def aws() -> Iterator[MotoAws]:
    with MotoAws() as moto:
        yield moto


@pytest.fixture(scope="module")
def world() -> Iterator[RecordingServer]:
    with RecordingServer() as running:
        yield running


@pytest.fixture
def two(aws: MotoAws, new_emulator: EmulatorFactory) -> tuple[LambdaEmulator, LambdaEmulator]:
    """Two execution environments of the function on the same stores: overlapping runs."""
    env = E2E_ENV | aws.function_env()
    return new_emulator(timeout_s=TIMEOUT_S, env=env), new_emulator(timeout_s=TIMEOUT_S, env=env)


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def alerts_to(world: RecordingServer, name: str) -> list[dict[str, Any]]:
    """What the monitor ``name``'s webhook (/hook/<name> on ``world``) received, in order."""
    return [seen.json for seen in world.sent_to(f"/hook/{name}")]


def request(world: RecordingServer, name: str, paths: list[str], **monitor: Any) -> dict[str, Any]:
    hook = [{"type": "webhook", "url": world.url(f"/hook/{name}")}]
    spec = {"name": name, "failure_threshold": 1, "alerts": hook, **monitor}
    return {"urls": [world.url(p) for p in paths], "options": {"retries": 0}, "monitor": spec}


def deliver(rie: LambdaEmulator, req: dict[str, Any], event_id: str | None = None) -> dict[str, Any]:
    answer, _ = rie.invoke(scheduled(req, event_id or str(uuid.uuid4())))
    assert function_error(answer) is None, rie.log_tail()
    assert "monitor" in answer, answer
    monitor: dict[str, Any] = answer["monitor"]
    return monitor


def overlapping(pair: tuple[LambdaEmulator, LambdaEmulator], req: dict[str, Any]) -> list[dict[str, Any]]:
    """The same monitor run by two schedules' deliveries at once (distinct event ids)."""
    with ThreadPoolExecutor(2) as pool:
        return list(pool.map(lambda rie: deliver(rie, req), pair))


def test_maintenance_no_alert_inside_and_one_at_the_end_if_still_down(
    world: RecordingServer, two: tuple[LambdaEmulator, LambdaEmulator]
) -> None:
    name, now = "e2e-maint", time.time()
    world.script("/maint", then=503)
    inside = request(world, name, ["/maint"], maintenance=[{"start": iso(now - 60), "end": iso(now + 3_600)}])
    monitor = overlapping(two, inside)
    assert all(m["maintenance_active"] for m in monitor)
    assert monitor[0]["maintenance"]["end"] == iso(now + 3_600)
    assert alerts_to(world, name) == []

    ended = request(world, name, ["/maint"], maintenance=[{"start": iso(now - 60), "end": iso(now - 1)}])
    event_id = str(uuid.uuid4())
    after = deliver(two[0], ended, event_id)
    assert (after.get("maintenance_active", False), after["notified"]) == (False, 1)
    deliver(two[1], ended, event_id)  # the same delivery again
    overlapping(two, ended)
    assert [(h["event"], h["to"]) for h in alerts_to(world, name)] == [("changed", "down")]


def test_a_reminder_once_per_period_with_overlapping_runs(
    world: RecordingServer, aws: MotoAws, two: tuple[LambdaEmulator, LambdaEmulator]
) -> None:
    name = "e2e-remind"
    world.script("/remind", then=503)
    req = request(world, name, ["/remind"], remind_every="1h")
    deliver(two[0], req)
    overlapping(two, req)
    assert [h["event"] for h in alerts_to(world, name)] == ["changed"]
    told_an_hour_ago(aws, name, world.url("/remind"))  # as if it had been down for an hour
    overlapping(two, req)
    overlapping(two, req)
    sent = alerts_to(world, name)
    assert [(h["event"], h["to"]) for h in sent] == [("changed", "down"), ("reminder", "down")]
    assert sent[1]["incident"] == sent[0]["incident"]


def told_an_hour_ago(aws: MotoAws, monitor: str, url: str) -> None:
    ddb, table = aws.client("dynamodb"), aws.resources.monitors_table
    item = ddb.get_item(TableName=table, Key=state_key(monitor, url), ConsistentRead=True)["Item"]
    doc = json.loads(item["doc"]["S"])
    status, since, _ = doc.get("told") or ["down", doc["since"], doc["since"]]
    doc["told"] = [status, since, time.time() - 3_700]  # last told an hour ago
    version = item["version"]["N"]
    item["doc"]["S"], item["version"]["N"] = json.dumps(doc), str(int(version) + 1)
    ddb.put_item(
        TableName=table,
        Item=item,
        ConditionExpression="version = :v",
        ExpressionAttributeValues={":v": {"N": version}},
    )


def test_a_dependency_holds_down_alerts_until_it_recovers(
    world: RecordingServer, two: tuple[LambdaEmulator, LambdaEmulator]
) -> None:
    network, app = "e2e-net", "e2e-app"
    world.script("/gw", then=503)
    world.script("/app", then=503)
    net = request(world, network, ["/gw"])
    dependent = request(world, app, ["/app"], depends_on=[network])
    deliver(two[0], net)
    held = overlapping(two, dependent)
    assert all(m["dependencies_down"] == [network] for m in held)
    assert sum(m["notified"] for m in held) == 0
    assert alerts_to(world, app) == []
    world.script("/gw", then=200)
    deliver(two[0], net)
    alerted = overlapping(two, dependent)
    assert sum(m["notified"] for m in alerted) == 1
    overlapping(two, dependent)
    assert [h["to"] for h in alerts_to(world, network)] == ["down", "up"]
    assert [(h["event"], h["to"]) for h in alerts_to(world, app)] == [("changed", "down")]


def test_a_storm_is_one_grouped_alert_once(
    world: RecordingServer, two: tuple[LambdaEmulator, LambdaEmulator]
) -> None:
    name = "e2e-storm"
    paths = [f"/origin/{i}" for i in range(8)]
    req = request(world, name, paths)
    deliver(two[0], req)  # all up
    for path in paths:
        world.script(path, then=503)
    event = scheduled(req, str(uuid.uuid4()))
    with ThreadPoolExecutor(2) as pool:  # one delivery twice at once: refused (409) or answered again
        answers = [answer for answer, _ in pool.map(lambda rie: rie.invoke(event), two)]
    refused = [a for a in answers if "error" in a]
    assert all(a["error"]["type"] == "idempotency_in_progress" for a in refused), answers
    runs = list({a["run_id"]: a["monitor"] for a in answers if "monitor" in a}.values())
    assert len(runs) == 1
    runs += overlapping(two, req)  # and two other schedules' runs at once
    assert sum(m.get("grouped", 0) for m in runs) == 8
    sent = alerts_to(world, name)
    assert [(h["event"], h["changes"]["total"], h["changes"]["down"]) for h in sent] == [("grouped", 8, 8)]
    assert sorted(c["url"] for c in sent[0]["changes"]["listed"]) == sorted(world.url(p) for p in paths)
