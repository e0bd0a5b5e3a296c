"""Monitors on moto in server mode: the table, the alert topic and an event bus created from
template.yaml; an SQS queue subscribed to the topic (and one fed by a rule on the bus) holds the
notifications actually published. The function runs through its handler, as deployed."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from devtools.demo_target import DemoTarget
from fanout.aws.monitors_table import Saved
from fanout.config import get_settings
from fanout.core.monitors import MonitorSpec
from fanout.core.results import ErrorInfo, Outcome, UrlResult
from fanout.runs.monitor import MonitorRun, MonitorUpdate
from fanout.runs.stores import RunStores, StoreConfig
from tests.support import (
    Deployment,
    HangingServer,
    MotoAws,
    api_request,
    body_of,
    call,
    load_template,
    point_aws_at,
    problem_of,
    scheduled,
    unique,
)

SETTINGS = get_settings()
# Stores and monitors on; no idempotency table, so a duplicate delivery really runs twice.
pytestmark = pytest.mark.deployment("reports", "runs", "monitors", "alerts")


@pytest.fixture
def inbox(aws: MotoAws) -> Iterator[tuple[str, str]]:
    """(SNS queue, EventBridge queue), empty at the start."""
    return aws.alert_inbox(), aws.event_inbox()


def sns_messages(aws: MotoAws, queue: str, monitor: str) -> list[dict[str, Any]]:
    """The topic's messages of ``monitor``: subject, attributes and parsed body."""
    found = []
    for envelope in aws.received(queue):
        attributes = {k: v["Value"] for k, v in envelope["MessageAttributes"].items()}
        if attributes.get("monitor") == monitor:
            found.append(
                {
                    "subject": envelope["Subject"],
                    "attributes": attributes,
                    "body": json.loads(envelope["Message"]),
                }
            )
    return found


def events_of(aws: MotoAws, queue: str, monitor: str) -> list[dict[str, Any]]:
    return [e for e in aws.received(queue) if e["detail"]["monitor"] == monitor]


def schedule_event(request: dict[str, Any], event_id: str | None = None) -> dict[str, Any]:
    return scheduled(request, event_id=event_id or str(uuid.uuid4()))


def flaky_monitor(target: DemoTarget, name: str, fail: int = 2) -> tuple[dict[str, Any], str]:
    url = target.url(f"/flaky/{unique(name)}?fail={fail}")
    request = {
        "urls": [url, target.url("/ok")],
        "options": {"retries": 0, "expect": {"status": ["200-299"]}},
        "monitor": {"name": name, "failure_threshold": 2, "success_threshold": 1},
    }
    return request, url


# -- a URL goes down and comes back: one DOWN, one UP -------------------------------------------


def test_a_url_failing_twice_then_recovering_is_alerted_down_once_and_up_once(
    deployed: Deployment, aws: MotoAws, inbox: tuple[str, str], target: DemoTarget
) -> None:
    name = unique("m").lower()
    request, url = flaky_monitor(target, name)
    docs = [call(schedule_event(request), 10_000) for _ in range(3)]
    assert [[t.get("url") for t in d["monitor"]["transitions"]] for d in docs] == [[], [url], [url]]
    assert [(d["monitor"]["down"], d["monitor"]["up"], d["monitor"]["unknown"]) for d in docs] == [
        (0, 1, 1),
        (1, 1, 0),
        (0, 2, 0),
    ]
    assert [d["monitor"]["notified"] for d in docs] == [0, 1, 1]

    sns_queue, event_queue = inbox
    messages = sns_messages(aws, sns_queue, name)
    assert [m["subject"] for m in messages] == [
        f"[fanout] {name}: {url} is DOWN",
        f"[fanout] {name}: {url} is UP",
    ]
    assert [m["attributes"] for m in messages] == [
        {"monitor": name, "to": "down"},
        {"monitor": name, "to": "up"},
    ]
    down, up = (m["body"] for m in messages)
    assert set(down) >= {
        "monitor", "url", "from", "to", "since", "outcome", "status_code", "error", "checks_failed", "run_id",
        "checked_at", "report",
    }  # fmt: skip
    assert (down["from"], down["to"], down["outcome"], down["status_code"]) == (
        "unknown",
        "down",
        "check_failed",
        503,
    )
    assert down["checks_failed"] == ["status"]
    assert down["run_id"] == docs[1]["run_id"]
    assert down["report"] == {"bucket": aws.resources.bucket, "key": docs[1]["persisted"]["report"]["key"]}
    assert (up["from"], up["to"], up["outcome"], up["status_code"]) == ("down", "up", "ok", 200)
    events = events_of(aws, event_queue, name)
    assert [(e["source"], e["detail-type"], e["detail"]["to"]) for e in events] == [
        ("fanout", "Monitor status changed", "down"),
        ("fanout", "Monitor status changed", "up"),
    ]
    assert events[0]["detail"] == down

    listing = body_of(call(api_request("GET", "/monitors")))
    mine = next(m for m in listing["monitors"] if m["name"] == name)
    assert (mine["urls"], mine["up"], mine["down"], mine["last_run_id"]) == (2, 2, 0, docs[2]["run_id"])
    view = body_of(call(api_request("GET", f"/monitors/{name}")))
    flaky = next(u for u in view["urls_page"] if u["url"] == url)
    assert flaky["status"] == "up"
    assert flaky["last"]["outcome"] == "ok"
    assert flaky["uptime"] == {
        "24h": pytest.approx(1 / 3),
        "7d": pytest.approx(1 / 3),
        "30d": pytest.approx(1 / 3),
    }
    assert flaky["latency_today"]["p50_ms"] is not None
    assert flaky["pending_alerts"] == 0


def test_duplicate_deliveries_of_each_scheduled_event_alert_nobody_again(
    deployed: Deployment, aws: MotoAws, inbox: tuple[str, str], target: DemoTarget
) -> None:
    name = unique("dup").lower()
    request, url = flaky_monitor(target, name, fail=100)
    ids = [str(uuid.uuid4()) for _ in range(4)]
    docs = []
    for event_id in ids:  # fail, fail (DOWN), fail, fail: each delivered twice
        docs += [call(schedule_event(request, event_id), 10_000) for _ in range(2)]
    assert sum(d["monitor"]["transitions"] != [] for d in docs) == 1
    assert len(sns_messages(aws, inbox[0], name)) == 1
    view = body_of(call(api_request("GET", f"/monitors/{name}")))
    flaky = next(u for u in view["urls_page"] if u["url"] == url)
    assert flaky["consecutive_failures"] == 4  # 8 deliveries fetched, 4 events counted
    assert flaky["uptime"]["24h"] == 0.0


# -- overlapping runs, a hanging topic ---------------------------------------------------------------


def failing(url: str) -> list[UrlResult]:
    return [UrlResult(url, Outcome.FAILED, None, 1, 5.0, None, ErrorInfo("ConnectError", "refused"))]


async def overlapping_runs(name: str, url: str, stale: list[str]) -> list[Any]:
    """Four runs of one monitor at once, each observing ``url`` failing (threshold 1)."""
    config = StoreConfig.from_settings(get_settings())
    async with RunStores(config) as stores:
        assert stores.monitors is not None
        save_all = stores.monitors.save_all

        async def spied(*args: Any, **kwargs: Any) -> Saved:
            saved = await save_all(*args, **kwargs)
            stale.extend(saved.stale)
            return saved

        stores.monitors.save_all = spied  # type: ignore[method-assign]
        spec = MonitorSpec(name=name, failure_threshold=1)
        before = asyncio.get_running_loop().time() + 20
        runs = [
            MonitorUpdate(
                stores.monitors,
                stores.alerts,
                MonitorRun(spec, f"run-{i}", f"key-{i}", None, time.time() + 20),
                concurrency=4,
            )
            for i in range(4)
        ]
        return list(await asyncio.gather(*(r.apply(failing(url), (), before=before) for r in runs)))


def test_overlapping_runs_of_one_monitor_alert_once(
    deployed: Deployment, aws: MotoAws, inbox: tuple[str, str]
) -> None:
    name, url = unique("overlap").lower(), "https://down.example/health"
    stale: list[str] = []
    reports = asyncio.run(overlapping_runs(name, url, stale))
    assert stale, "the runs did overlap: some writes lost and were re-applied"
    assert sum(r.all_transitions for r in reports) == 1
    assert sum(r.notified for r in reports) == 1
    assert [m["body"]["to"] for m in sns_messages(aws, inbox[0], name)] == ["down"]


def test_a_hanging_topic_costs_its_slice_and_the_alert_goes_out_on_the_next_run(
    deployed: Deployment,
    aws: MotoAws,
    inbox: tuple[str, str],
    target: DemoTarget,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    name = unique("hang").lower()
    request, url = flaky_monitor(target, name, fail=10)
    request["monitor"]["failure_threshold"] = 1
    deployed.configure(monitor_budget_s=1.5, store_read_timeout_s=0.5, store_max_attempts=1)
    with HangingServer() as sns, monkeypatch.context() as m:
        m.setenv("AWS_ENDPOINT_URL_SNS", sns.endpoint)
        started = time.monotonic()
        doc = call(schedule_event(request), 6_000)
        took = time.monotonic() - started
    assert doc["monitor"]["transitions"] == [{"url": url, "from": "unknown", "to": "down"}]
    assert (doc["monitor"]["notified"], doc["monitor"]["notify_errors"], doc["monitor"]["pending"]) == (
        0,
        1,
        1,
    )
    assert took < 6.0 - 0.25, f"answered {took:.2f}s into a 6 s invocation"
    assert sns_messages(aws, inbox[0], name) == []
    again = call(schedule_event(request), 6_000)
    assert again["monitor"]["transitions"] == []  # still down: no new change...
    assert (again["monitor"]["notified"], again["monitor"]["pending"]) == (
        1,
        0,
    )  # ...but the owed alert is sent
    assert [(m["body"]["to"], m["body"]["run_id"]) for m in sns_messages(aws, inbox[0], name)] == [
        ("down", doc["run_id"])
    ]


# -- thresholds, heartbeat, sharded and large monitors ------------------------------------------------


def test_a_breached_threshold_alerts_once_per_breach_streak(
    deployed: Deployment, aws: MotoAws, inbox: tuple[str, str], target: DemoTarget
) -> None:
    name = unique("thr").lower()
    slow = {"url": target.url("/ok?delay_ms=400"), "retry": False}
    request = {
        "urls": [target.url("/ok"), slow],
        "options": {"retries": 0, "thresholds": {"max_ms": "<300"}},
        "monitor": {"name": name, "failure_threshold": 1},
    }
    docs = [call(schedule_event(request), 10_000) for _ in range(3)]
    assert [d["thresholds"][0]["ok"] for d in docs] == [False] * 3
    subjects = [m["subject"] for m in sns_messages(aws, inbox[0], name)]
    assert subjects == [f"[fanout] {name}: threshold max_ms<300 is BREACHED"]


def test_a_monitor_run_emits_its_heartbeat_with_the_alarm_s_dimensions(
    deployed: Deployment, target: DemoTarget, capfd: pytest.CaptureFixture[str]
) -> None:
    name = unique("beat").lower()
    call(schedule_event({"urls": [target.url("/ok")], "monitor": {"name": name}}), 10_000)
    blobs = [json.loads(line) for line in capfd.readouterr().out.splitlines() if '"monitor_runs"' in line]
    [beat] = [b for b in blobs if b.get("monitor") == name]
    [directive] = beat["_aws"]["CloudWatchMetrics"]
    alarm = load_template()["Resources"]["MonitorHeartbeatAlarm"]["Properties"]
    assert directive["Namespace"] == alarm["Namespace"]
    assert beat["monitor_runs"] == [1.0]
    assert directive["Dimensions"] == [[d["Name"] for d in alarm["Dimensions"]]]
    assert alarm["MetricName"] == "monitor_runs"
    assert alarm["TreatMissingData"] == "breaching"


def test_monitors_off_refuses_a_monitor_request_and_the_monitor_routes(
    deployed: Deployment, fresh_target: DemoTarget
) -> None:
    target = fresh_target
    deployed.configure(monitors_table_name="")
    answer = call({"urls": [target.url("/ok")], "monitor": {"name": "prod"}})
    assert answer["error"]["type"] == "monitors_off"
    assert answer["error"]["status"] == 501
    assert target.stats()["requests"] == 0  # refused before anything was fetched
    problem_of(call(api_request("GET", "/monitors")), 501, "monitors-off")
    body = problem_of(
        call(api_request("POST", "/fanout", body={"urls": [target.url("/ok")], "monitor": {"name": "p"}})),
        501,
        "monitors-off",
    )
    assert "monitors table" in body["detail"]


def test_a_monitor_s_pages_follow_each_other_and_a_cursor_stays_in_its_listing(
    deployed: Deployment, target: DemoTarget
) -> None:
    name, other = unique("pages").lower(), unique("other").lower()
    urls = [target.url(f"/ok?page={i}") for i in range(5)]
    call({"urls": urls, "mode": "inline", "monitor": {"name": name}})
    call({"urls": urls[:1], "mode": "inline", "monitor": {"name": other}})
    seen, cursor, pages = [], None, 0
    while True:
        query = {"limit": "2"} | ({} if cursor is None else {"cursor": cursor})
        view = body_of(call(api_request("GET", f"/monitors/{name}", query=query)))
        seen += [u["url"] for u in view["urls_page"]]
        cursor, pages = view["next_cursor"], pages + 1
        if cursor is None:
            break
        last_cursor = cursor
    assert sorted(seen) == sorted(urls)
    assert pages >= 3
    for path in (f"/monitors/{other}", "/monitors"):  # another monitor's page, the monitors' listing
        problem = problem_of(
            call(api_request("GET", path, query={"cursor": last_cursor})), 422, "validation-error"
        )
        assert problem["errors"][0]["type"] == "cursor_invalid"


def test_an_unknown_monitor_is_a_404(deployed: Deployment) -> None:
    problem_of(call(api_request("GET", "/monitors/never-ran")), 404, "monitor-not-found")
    problem_of(call(api_request("GET", "/monitors/Not_A_Name")), 404, "monitor-not-found")


def test_a_5000_url_monitor_updates_every_state_within_its_budget(
    monkeypatch: pytest.MonkeyPatch, target: DemoTarget
) -> None:
    """5,000 states, read in 50 batches and written in 50 transactions of 100, on a moto of its own
    (answering one DynamoDB request at a time: ``devtools.moto_compat.patch_moto_dynamodb``), its
    timeouts sized for moto, not DynamoDB (the client's cost per URL is in ``make bench``, "monitor")."""
    with MotoAws() as aws:
        point_aws_at(monkeypatch, aws.endpoint)
        deployed = Deployment(monkeypatch, SETTINGS)
        deployed.configure(
            monitors_table_name=aws.resources.monitors_table,
            alert_topic_arn=aws.resources.alert_topic_arn,
            monitor_budget_s=40.0,
            monitor_concurrency=4,
            store_read_timeout_s=20.0,
        )
        name = unique("big").lower()
        urls = [target.url(f"/ok?m={i}") for i in range(5_000)]
        options = {"concurrency": 200, "per_host_concurrency": 200}
        request = {"urls": urls, "mode": "inline", "options": options, "monitor": {"name": name}}
        times = []
        for _ in range(2):  # the states' creation, then a steady-state run over them
            started = time.monotonic()
            doc = call(request, 60_000)
            times.append(time.monotonic() - started)
            monitor = doc["monitor"]
            assert doc["summary"]["ok"] == 5_000
            assert (monitor["up"], monitor["state_errors"], monitor["unknown"]) == (5_000, 0, 0)
        assert max(times) < 60.0
        view = body_of(call(api_request("GET", f"/monitors/{name}", query={"limit": "100"})))
        assert view["urls"] == 5_000
        assert len(view["urls_page"]) == 100
        assert view["next_cursor"]
        print(f"5,000 URLs with their states on moto: {times[0]:.1f} s, then {times[1]:.1f} s")


def test_a_transaction_that_loses_one_condition_writes_none_of_its_states(aws: MotoAws) -> None:
    """The harness's moto (``patch_moto_dynamodb``) keeps DynamoDB's all-or-nothing transactions."""
    from fanout.aws.monitor_codec import state_item
    from fanout.core.monitors import SubjectState

    ddb, table = aws.client("dynamodb"), aws.resources.monitors_table
    name = unique("tx").lower()
    ddb.put_item(
        TableName=table, Item=state_item(name, SubjectState("https://b/"), version=1, expires_at=2**31)
    )
    puts = [
        {"Put": {"TableName": table, "Item": state_item(name, SubjectState(u), version=1, expires_at=2**31),
                 "ConditionExpression": "attribute_not_exists(pk)"}}
        for u in ("https://a/", "https://b/", "https://c/")
    ]  # fmt: skip
    with pytest.raises(ddb.exceptions.TransactionCanceledException) as caught:
        ddb.transact_write_items(TransactItems=puts)
    codes = [r["Code"] for r in caught.value.response["CancellationReasons"]]
    assert codes == ["None", "ConditionalCheckFailed", "None"]
    keys = [{"pk": p["Put"]["Item"]["pk"], "sk": p["Put"]["Item"]["sk"]} for p in puts]
    found = ddb.batch_get_item(RequestItems={table: {"Keys": keys}})["Responses"][table]
    assert [i["subject"]["S"] for i in found] == ["https://b/"]
