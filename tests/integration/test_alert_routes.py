"""A monitor's own alert routes on moto with real receivers on 127.0.0.1: a Standard Webhooks
receiver verifying with the reference ``standardwebhooks`` package, a Slack incoming webhook, a
PagerDuty Events API v2 endpoint; secrets from moto's Secrets Manager; retries, 410, the egress
guard."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import logging
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
from standardwebhooks import Webhook

from fanout.aws import secrets
from fanout.aws.history_table import HistoryTable
from fanout.config import get_settings
from fanout.core.monitor_report import MonitorReport
from fanout.core.monitors import MonitorSpec
from fanout.core.results import Outcome, UrlResult
from fanout.fetch.delivery import Deliveries
from fanout.observability.log import logger
from fanout.runs.judging import monitor_routes
from fanout.runs.monitor import MonitorRun, MonitorUpdate
from fanout.runs.stores import RunStores, StoreConfig
from tests.support import Deployment, MotoAws, RecordingServer, monitor_run, unique

pytestmark = pytest.mark.deployment("monitors", "alerts")


def new_secret() -> str:
    return "whsec_" + base64.b64encode(os.urandom(24)).decode()


@pytest.fixture
def receivers() -> Iterator[RecordingServer]:
    with RecordingServer() as running:
        yield running


@pytest.fixture
def routed(deployed: Deployment, receivers: RecordingServer) -> Deployment:
    deployed.configure(pagerduty_events_url=receivers.url("/pagerduty"))
    secrets.forget()
    return deployed


def observed(url: str, ok: bool) -> list[UrlResult]:
    if ok:
        return [UrlResult(url, Outcome.OK, 200, 1, 5.0, None, None)]
    return [UrlResult(url, Outcome.FAILED, 503, 1, 5.0, None, None)]


def run(spec: MonitorSpec, url: str, ok: bool, n: int) -> MonitorReport:
    """One monitor run observing ``url`` (its ``n``-th)."""
    return asyncio.run(monitor_run(spec, observed(url, ok), f"run-{n}"))


def test_webhook_slack_and_pagerduty_each_get_the_alert_as_documented(
    routed: Deployment, aws: MotoAws, receivers: RecordingServer
) -> None:
    name, url = unique("routes").lower(), "https://api.example/health"
    old, new = new_secret(), new_secret()
    manager = aws.client("secretsmanager")
    manager.create_secret(Name=f"{name}/hk", SecretString=f"{old} {new}")  # rotating: both sign
    manager.create_secret(Name=f"{name}/slack", SecretString=receivers.url("/slack"))
    manager.create_secret(Name=f"{name}/pd", SecretString=json.dumps({"key": "R0UT1NGKEY"}))
    spec = MonitorSpec.model_validate(
        {
            "name": name,
            "failure_threshold": 1,
            "alerts": [
                {
                    "type": "webhook",
                    "url": receivers.url("/hook"),
                    "secret": f"${{secretsmanager:{name}/hk}}",
                },
                {"type": "slack", "url": f"${{secretsmanager:{name}/slack}}"},
                {"type": "pagerduty", "routing_key": f"${{secretsmanager:{name}/pd#key}}"},
            ],
        }
    )
    assert run(spec, url, True, 0).notified == 0
    down = run(spec, url, False, 1)
    up = run(spec, url, True, 2)
    assert (down.notified, down.notify_errors, up.notified, up.pending) == (1, 0, 1, 0)

    hooks = receivers.sent_to("/hook")
    assert [h.json["to"] for h in hooks] == ["down", "up"]
    for hook in hooks:  # both secrets verify with the reference implementation
        for secret in (old, new):
            assert Webhook(secret).verify(hook.body, hook.headers)["id"] == hook.headers["webhook-id"]
        assert len(hook.headers["webhook-signature"].split(" ")) == 2
    assert hooks[0].headers["webhook-id"] != hooks[1].headers["webhook-id"]

    slack = [s.json for s in receivers.sent_to("/slack")]
    assert [m["blocks"][0]["text"]["text"] for m in slack] == [f"{name}: DOWN", f"{name}: UP"]
    assert url in slack[0]["blocks"][1]["text"]["text"]
    assert slack[0]["text"].startswith("[fanout]")
    assert "*Observed*\nHTTP 503" in [f["text"] for f in slack[0]["blocks"][1]["fields"]]

    pd = [s.json for s in receivers.sent_to("/pagerduty")]
    assert [e["event_action"] for e in pd] == ["trigger", "resolve"]
    assert pd[0]["dedup_key"] == pd[1]["dedup_key"]
    assert pd[0]["routing_key"] == "R0UT1NGKEY"
    assert pd[0]["payload"]["source"] == url
    assert pd[0]["payload"]["severity"] == "critical"
    assert pd[0]["payload"]["custom_details"]["id"] == hooks[0].headers["webhook-id"]
    every_byte = b"".join(s.body + json.dumps(s.headers).encode() for s in receivers.seen)
    assert b"${secretsmanager" not in every_byte


def test_a_503_then_200_is_one_delivery_with_one_id(
    routed: Deployment, aws: MotoAws, receivers: RecordingServer
) -> None:
    name, url = unique("retry").lower(), "https://api.example/retry"
    secret = new_secret()
    aws.client("secretsmanager").create_secret(Name=f"{name}/hk", SecretString=secret)
    receivers.script("/hook", 503, retry_after_s=1)
    spec = MonitorSpec.model_validate(
        {
            "name": name,
            "failure_threshold": 1,
            "alerts": [
                {"type": "webhook", "url": receivers.url("/hook"), "secret": f"${{secretsmanager:{name}/hk}}"}
            ],
        }
    )
    started = time.monotonic()
    report = run(spec, url, False, 1)
    assert (report.notified, report.notify_errors, report.pending) == (1, 0, 0)
    hooks = receivers.sent_to("/hook")
    assert len(hooks) == 2
    assert len({h.headers["webhook-id"] for h in hooks}) == 1
    assert time.monotonic() - started >= 1.0  # Retry-After: 1 honoured
    assert Webhook(secret).verify(hooks[1].body, hooks[1].headers)["to"] == "down"


def test_a_410_stops_its_route_and_the_other_routes_hear_of_it(
    routed: Deployment, receivers: RecordingServer
) -> None:
    name, url = unique("gone").lower(), "https://api.example/gone"
    receivers.script("/old", 410)
    alerts = [
        {"type": "webhook", "url": receivers.url("/old")},
        {"type": "webhook", "url": receivers.url("/new")},
    ]
    spec = MonitorSpec.model_validate({"name": name, "failure_threshold": 1, "alerts": alerts})
    down = run(spec, url, False, 1)
    assert (down.notified, down.pending) == (1, 0)
    assert [s.json["event"] for s in receivers.sent_to("/new")] == ["changed", "channel_gone"]
    run(spec, url, True, 2)  # the next alert: the stopped route is not tried again
    assert len(receivers.sent_to("/old")) == 1
    assert [s.json["to"] for s in receivers.sent_to("/new")] == ["down", "down", "up"]


def test_an_alert_url_on_a_blocked_network_is_refused_and_stays_pending(routed: Deployment) -> None:
    name, url = unique("blocked").lower(), "https://api.example/blocked"
    alerts = [{"type": "webhook", "url": "http://169.254.169.254/latest/hook"}]
    spec = MonitorSpec.model_validate({"name": name, "failure_threshold": 1, "alerts": alerts})
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logger.registered_formatter)
    logger.addHandler(handler)
    try:
        report = run(spec, url, False, 1)
    finally:
        logger.removeHandler(handler)
    assert (report.notified, report.notify_errors, report.pending) == (0, 1, 1)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    refused = [line for line in lines if line["message"] == "alert not delivered"]
    assert refused
    assert refused[0]["error"].startswith("blocked: address_blocked")


def test_a_malformed_route_url_fails_that_route_only_and_is_not_quoted(
    routed: Deployment, aws: MotoAws, receivers: RecordingServer
) -> None:
    """A secret holding a URL that cannot be parsed (httpx raises InvalidURL, not an HTTPError)
    fails its route alone: the other route keeps the alert (not sent again by the next run), and
    the log line does not quote the secret URL."""
    name, url = unique("badurl").lower(), "https://api.example/badurl"
    aws.client("secretsmanager").create_secret(
        Name=f"{name}/slack", SecretString="https://127.0.0.1:1:1/services/T0/B0/S3CRETPATH"
    )
    alerts = [
        {"type": "slack", "url": f"${{secretsmanager:{name}/slack}}"},
        {"type": "webhook", "url": receivers.url("/good")},
    ]
    spec = MonitorSpec.model_validate({"name": name, "failure_threshold": 1, "alerts": alerts})
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logger.registered_formatter)
    logger.addHandler(handler)
    try:
        first = run(spec, url, False, 1)
        second = run(spec, url, False, 2)
    finally:
        logger.removeHandler(handler)
    assert (first.notified, first.notify_errors, first.pending) == (0, 1, 1)
    assert (second.notify_errors, second.pending) == (1, 1)
    assert [s.json["to"] for s in receivers.sent_to("/good")] == ["down"]  # once, not again
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    refused = {line["error"] for line in lines if line["message"] == "alert not delivered"}
    assert refused == {"invalid URL"}
    assert "S3CRETPATH" not in stream.getvalue()


class FailingHistory(HistoryTable):
    """A history table whose write fails with what is not a store's error (a bug in an archive)."""

    async def record(self, monitor: str, changes: Any, before: float, *, concurrency: int = 8) -> int:
        raise RuntimeError("archive bug")


def test_a_history_write_that_fails_neither_cancels_the_sends_nor_costs_the_report(
    routed: Deployment, receivers: RecordingServer
) -> None:
    """The long history is written beside the sends: its failure is logged, the alert still goes
    once (not cancelled half-way and sent again by the next run) and the run has its report."""
    name, url = unique("history").lower(), "https://api.example/history"
    alerts = [{"type": "webhook", "url": receivers.url("/hist")}]
    spec = MonitorSpec.model_validate({"name": name, "failure_threshold": 1, "alerts": alerts})

    async def update(results: list[UrlResult], run_id: str) -> MonitorReport:
        settings = get_settings()
        before = asyncio.get_running_loop().time() + 20
        async with RunStores(StoreConfig.from_settings(settings)) as stores, Deliveries(settings) as sends:
            assert stores.monitors is not None
            routes = await monitor_routes(spec, stores, settings, sends, before)
            history = FailingHistory(stores.clients, stores.monitors.table)
            mine = MonitorRun(spec, run_id, run_id, None, time.time() + 20)
            apply = MonitorUpdate(
                stores.monitors, stores.alerts, mine, concurrency=4, routes=routes, history=history
            )
            return await apply.apply(results, (), before=before)

    asyncio.run(update(observed(url, True), "h0"))
    down = asyncio.run(update(observed(url, False), "h1"))
    again = asyncio.run(update(observed(url, False), "h2"))
    assert (down.down, down.notified, down.pending) == (1, 1, 0)
    assert (again.notified, again.pending) == (0, 0)
    assert [s.json["to"] for s in receivers.sent_to("/hist")] == ["down"]


def test_slack_links_the_monitors_status_page_when_the_deployment_has_one(
    routed: Deployment, aws: MotoAws, receivers: RecordingServer
) -> None:
    name, url = unique("linked").lower(), "https://api.example/linked"
    routed.configure(status_page_url="https://status.example/", status_page_bucket_name="a-page-bucket")
    aws.client("secretsmanager").create_secret(Name=f"{name}/slack", SecretString=receivers.url("/linked"))
    alerts = [{"type": "slack", "url": f"${{secretsmanager:{name}/slack}}"}]
    spec = MonitorSpec.model_validate({"name": name, "failure_threshold": 1, "alerts": alerts})
    hidden = spec.model_copy(update={"name": f"{name}-hidden", "public": False})
    run(spec, url, False, 1)
    run(hidden, url, False, 2)
    shown, left_off = (s.json["blocks"][-1]["elements"][0]["text"] for s in receivers.sent_to("/linked"))
    assert f"<https://status.example/monitors/{name}.html|status page>" in shown
    assert "status page" not in left_off  # a monitor the page leaves out is not linked
