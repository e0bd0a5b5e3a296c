"""``make demo MONITOR=1``: a small monitor, run three times, through the real Lambda emulator.

moto (``devtools.local_aws``) plays AWS: the monitors table, the alert topic and an event bus
made from template.yaml, an SQS queue subscribed to the topic and one fed by a rule on the bus.
The demo target serves a URL that fails twice, then recovers, and one that is always fine. Each
run is a scheduled event (``"monitor": {"name": "demo-health"}``, failure threshold 2): the first
fails once (nothing said), the second makes the URL DOWN (one alert), the third brings it back UP
(one alert). The demo prints each run's transitions, the notifications as received, and the
monitor as ``GET /monitors/demo-health`` answers it.
"""

from __future__ import annotations

import json
import sys
import uuid
from typing import Any

from devtools.demo_target import DemoTarget
from devtools.events import load_event
from devtools.local_aws import LocalAws
from devtools.rie import DEFAULT_HANDLER, LambdaEmulator, function_error

NAME = "demo-health"
RUNS = 3


def schedule_event(request: dict[str, Any]) -> dict[str, Any]:
    event: dict[str, Any] = load_event("schedule.json")
    event["detail"], event["id"] = request, str(uuid.uuid4())
    return event


def api_get(path: str) -> dict[str, Any]:
    event: dict[str, Any] = load_event("api.json")
    event["routeKey"], event["rawPath"], event["body"] = f"GET {path}", path, None
    event["requestContext"]["http"] |= {"method": "GET", "path": path}
    event["requestContext"]["routeKey"] = event["routeKey"]
    event["headers"].pop("content-type", None)
    return event


def _run_line(n: int, doc: dict[str, Any], base: str) -> str:
    monitor = doc.get("monitor") or {}
    changes = ", ".join(
        f"{t.get('url', '').removeprefix(base) or t.get('threshold')} {t['from']} -> {t['to']}"
        for t in monitor.get("transitions", [])
    )
    outcomes = " ".join(f"{r['url'].removeprefix(base)}={r['outcome']}" for r in doc.get("results", []))
    return (
        f"run {n}     {outcomes}\n"
        f"          monitor: {monitor.get('up')} up, {monitor.get('down')} down, "
        f"{monitor.get('unknown')} unknown; transitions: {changes or 'none'}; "
        f"alerts sent: {monitor.get('notified')}"
    )


def main() -> int:
    with LocalAws() as aws, DemoTarget() as target:
        inbox, events = aws.alert_inbox(), aws.event_inbox()
        flaky = target.url(f"/flaky/{uuid.uuid4().hex[:8]}?fail=2")
        request = {
            "urls": [flaky, target.url("/health")],
            "options": {"retries": 0, "expect": {"status": ["200-299"]}},
            "monitor": {"name": NAME, "failure_threshold": 2, "success_threshold": 1},
        }
        print(f"monitor {NAME}: {flaky} (fails twice, then recovers) and {target.url('/health')}")
        r = aws.resources
        print(f"moto on {aws.endpoint}: table {r.monitors_table}, topic {r.alert_topic_arn}\n")
        with LambdaEmulator(DEFAULT_HANDLER, timeout_s=10, env=aws.function_env()) as rie:
            for n in range(1, RUNS + 1):
                payload, _ = rie.invoke(schedule_event(request))
                if function_error(payload) is not None or "monitor" not in payload:
                    print(f"run {n} failed: {json.dumps(payload)[:500]}\n{rie.log_tail()}", file=sys.stderr)
                    return 1
                print(_run_line(n, payload, target.base_url))
            received = aws.received(inbox)
            print(f"\nnotifications on the topic ({len(received)}):")
            for envelope in received:
                body = json.loads(envelope["Message"])
                attributes = {k: v["Value"] for k, v in envelope["MessageAttributes"].items()}
                print(f"  {envelope['Subject']}\n    attributes {attributes}")
                shown = {k: body[k] for k in ("from", "to", "since", "outcome", "status_code", "run_id")}
                print(f"    {json.dumps(shown)}")
            print(
                f"events on the bus: {[(e['detail-type'], e['detail']['to']) for e in aws.received(events)]}"
            )
            answer, _ = rie.invoke(api_get(f"/monitors/{NAME}"))
            view = json.loads(answer["body"])
            print(f"\nGET /monitors/{NAME} -> {answer['statusCode']}")
            for url in view["urls_page"]:
                path = url["url"].removeprefix(target.base_url)
                print(
                    f"  {path:28s} {url['status']:7s} since {url['since']}  uptime 24h "
                    f"{url['uptime']['24h']:.2f}  p50 today {url['latency_today']['p50_ms']} ms"
                )
        pair = [json.loads(e["Message"])["to"] for e in received]
        return 0 if pair == ["down", "up"] else 1


if __name__ == "__main__":
    sys.exit(main())
