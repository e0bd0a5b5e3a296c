"""``make demo MONITOR=1``: a monitors file (``devtools/demo-monitors.yaml``) validated and applied
to moto with ``fanout monitors``, then its schedule's input run three times through the real
Lambda emulator.

moto (``devtools.local_aws``) plays AWS: the schedule group, the scheduler role, the monitors
table, the alert topic and an event bus made from template.yaml, an SQS queue subscribed to the
topic and one fed by a rule on the bus. The demo target serves a URL that fails twice, then
recovers, and one that is always fine. Each run is the schedule's input as EventBridge Scheduler
delivers it (its context attributes filled in: a new scheduled time each run), failure threshold
2: the first fails once (nothing said), the second makes the URL DOWN (one alert), the third
brings it back UP (one alert). The demo prints each run's transitions, the notifications as
received, and the monitor as ``GET /monitors/demo-health`` answers it. The function has the
status page on (moto's status bucket): each run renders it there; ``fanout status build`` then
writes it from the table into ``status-page/`` to open in a browser (docs/status-page.md).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from devtools.demo_target import DemoTarget
from devtools.events import load_event
from devtools.local_aws import LocalAws
from devtools.rie import DEFAULT_HANDLER, LambdaEmulator, function_error
from fanout.cli.main import main as fanout
from fanout.cli.schedules import schedule_name

NAME = "demo-health"
RUNS = 3
MONITORS_FILE = Path(__file__).with_name("demo-monitors.yaml")
STATUS_PAGE = Path(__file__).resolve().parents[1] / "status-page"
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:fanout-FanoutFunction:live"


def pointed_at(target: DemoTarget, folder: Path, source: Path = MONITORS_FILE) -> Path:
    """A copy of the monitors file whose ``http://demo-target`` is the target's address."""
    copy = folder / source.name
    copy.write_text(source.read_text(encoding="utf-8").replace("http://demo-target", target.base_url))
    return copy


def apply_to(aws: LocalAws, monitors_file: Path) -> int:
    """``fanout monitors apply`` of the file to moto's schedule group (its exit status).

    The command line reads AWS's endpoint and credentials from the environment, as it would in CI;
    the egress guard of ``validate`` lets the loopback target through, as the emulated function does.
    """
    os.environ.update({k: v for k, v in aws.function_env().items() if k.startswith("AWS_")})
    os.environ["EGRESS_ALLOW_CIDRS"] = "127.0.0.0/8,::1/128"
    r = aws.resources
    where = ["--group", r.schedule_group, "--function-arn", FUNCTION_ARN, "--role-arn", r.scheduler_role_arn]
    if fanout(["monitors", "validate", str(monitors_file)]) != 0:
        return 2
    return fanout(["monitors", "apply", str(monitors_file), *where, "--bucket", r.bucket, "--yes"])


def delivered(aws: LocalAws, monitor: str, at: datetime) -> dict[str, Any]:
    """The deployed schedule's input as EventBridge Scheduler delivers it at ``at``: its context
    attributes (the schedule's ARN, the scheduled time) filled in."""
    schedule = aws.client("scheduler").get_schedule(
        Name=schedule_name(monitor), GroupName=aws.resources.schedule_group
    )
    text = schedule["Target"]["Input"]
    text = text.replace("<aws.scheduler.schedule-arn>", schedule["Arn"])
    text = text.replace("<aws.scheduler.scheduled-time>", at.strftime("%Y-%m-%dT%H:%M:%SZ"))
    payload: dict[str, Any] = json.loads(text)
    return payload


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
    with LocalAws() as aws, DemoTarget() as target, tempfile.TemporaryDirectory() as folder:
        inbox, events = aws.alert_inbox(), aws.event_inbox()
        r = aws.resources
        print(f"moto on {aws.endpoint}: schedule group {r.schedule_group}, table {r.monitors_table}")
        print(f"monitors file {MONITORS_FILE.name}, http://demo-target -> {target.base_url}\n")
        print(f"$ fanout monitors validate {MONITORS_FILE.name} && fanout monitors apply ... --yes")
        if apply_to(aws, pointed_at(target, Path(folder))) != 0:
            print("the monitors file was not applied", file=sys.stderr)
            return 1
        first = datetime.now(UTC).replace(second=0, microsecond=0)
        request = delivered(aws, NAME, first)
        print(f"\nschedule {schedule_name(NAME)}'s input, as delivered:\n  {json.dumps(request)}\n")
        env = aws.function_env() | {
            "STATUS_PAGE_BUCKET_NAME": r.status_bucket,
            "STATUS_PAGE_MIN_INTERVAL_SECONDS": "0",
        }
        with LambdaEmulator(DEFAULT_HANDLER, timeout_s=10, env=env) as rie:
            for n in range(1, RUNS + 1):
                payload, _ = rie.invoke(delivered(aws, NAME, first + timedelta(minutes=n - 1)))
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
        if show_status_page(aws) != 0:
            return 1
        pair = [json.loads(e["Message"])["to"] for e in received]
        return 0 if pair == ["down", "up"] else 1


def show_status_page(aws: LocalAws) -> int:
    """What the runs uploaded to the status bucket, and the page built again from the table."""
    listed = aws.client("s3").list_objects_v2(Bucket=aws.resources.status_bucket).get("KeyCount", 0)
    bucket, table = aws.resources.status_bucket, aws.resources.monitors_table
    print(f"\nstatus page: {listed} files in s3://{bucket} (rendered by the runs)")
    print(f"$ fanout status build --out {STATUS_PAGE.name} --monitors-table {table}")
    return fanout(["status", "build", "--out", str(STATUS_PAGE), "--monitors-table", table])


if __name__ == "__main__":
    sys.exit(main())
