"""Sharded runs' deliveries: a shard delivered twice, failing after storing its results or
delivered with others counts once; what each shard judges (checks, a monitor's observations)
reaches the merged report; a poison shard goes to the dead-letter queue after its retries.

Through the real Lambda handler against moto in server mode and the demo target on 127.0.0.1,
the shard queue driven as Lambda's event source mapping drives it (``tests.support.sharding``).
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest

from devtools.demo_target import DemoTarget
from devtools.local_aws import resolve_ref
from fanout.aws.runs_table import RunsTable
from fanout.errors import StoreError
from tests.support import (
    SHARDED,
    Deployment,
    MotoAws,
    Queue,
    api_request,
    body_of,
    call,
    get_run,
    load_template,
    record_of,
    scheduled,
)

pytestmark = SHARDED


@pytest.fixture
def dead_letters(aws: MotoAws) -> Queue:
    q = Queue(aws, aws.resources.shard_dead_letter_queue_url)
    q.purge()
    return q


# -- duplicates and retries count once ---------------------------------------------------------


def sharded_request(target: DemoTarget, n: int, tag: str, **options: Any) -> dict[str, Any]:
    return {
        "urls": [target.url(f"/ok?{tag}={i}") for i in range(n)],
        "mode": "sharded",
        "options": {"concurrency": 50, "per_host_concurrency": 50} | options,
    }


def test_a_duplicate_delivery_of_a_shard_does_not_count_twice(
    deployed: Deployment, aws: MotoAws, queue: Queue, fresh_target: DemoTarget
) -> None:
    deployed.configure(shard_size=10)
    tag = uuid.uuid4().hex[:8]
    answer = call(sharded_request(fresh_target, 30, tag))
    assert answer["shards_total"] == 3
    run_id = answer["run_id"]

    (message,) = queue.receive()
    event = queue.event([message])
    first = call(event)
    again = call(json.loads(json.dumps(event)))  # the same delivery, twice
    assert first == again == {"batchItemFailures": []}
    record = record_of(aws, run_id)
    assert (record["shards_done"], record["summary"]["ok"]) == (1, 10)
    # Delivered again later (not deleted in time): still counted once, and not fetched again.
    queue.sqs.change_message_visibility(
        QueueUrl=queue.url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
    )
    log = queue.drain()
    assert sorted(d.receive_count for d in log) == [1, 1, 2]
    record = record_of(aws, run_id)
    assert (record["shards_done"], record["shards_total"], record["summary"]["ok"]) == (3, 3, 30)
    assert fresh_target.stats()["requests"] == 30, "no URL was fetched twice"
    run = get_run(run_id)
    assert run["status"] == "complete"
    assert [r["url"] for r in run["results"]] == [fresh_target.url(f"/ok?{tag}={i}") for i in range(30)]


def test_a_shard_that_fails_after_storing_its_results_is_not_fetched_again(
    deployed: Deployment,
    aws: MotoAws,
    queue: Queue,
    fresh_target: DemoTarget,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    deployed.configure(shard_size=10)
    answer = call(sharded_request(fresh_target, 10, uuid.uuid4().hex[:8]))
    real_count = RunsTable.count_shard
    calls = []

    async def count_fails_once(self: RunsTable, *args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise StoreError("the table went away", error_type="ServiceUnavailable")
        return await real_count(self, *args, **kwargs)

    monkeypatch.setattr(RunsTable, "count_shard", count_fails_once)
    log = queue.drain()
    assert [(d.receive_count, d.failed) for d in log] == [(1, True), (2, False)]
    assert fresh_target.stats()["requests"] == 10, "the redelivery used the stored results"
    record = record_of(aws, answer["run_id"])
    assert (record["status"], record["shards_done"], record["summary"]["ok"]) == ("complete", 1, 10)


def test_shards_delivered_together_share_the_invocations_time(
    deployed: Deployment, queue: Queue, fresh_target: DemoTarget
) -> None:
    deployed.configure(shard_size=5)
    tag = uuid.uuid4().hex[:8]
    answer = call(sharded_request(fresh_target, 15, tag))
    messages = queue.receive(10)
    while len(messages) < 3:
        more = queue.receive(10)
        assert more, "the three shards were sent"
        messages += more
    assert queue.deliver(messages, 6_000) == set()
    run = get_run(answer["run_id"])
    assert run["status"] == "complete"
    assert [r["url"] for r in run["results"]] == [fresh_target.url(f"/ok?{tag}={i}") for i in range(15)]


# -- what shards judge reaches the merged report -----------------------------------------------


def test_checks_travel_through_shards_and_into_the_merged_report(
    deployed: Deployment, queue: Queue, fresh_target: DemoTarget
) -> None:
    """Each shard judges its URLs with the run's ``expect``; the merged report keeps every
    result's checks and timings, counts ``check_failed`` and adds up ``degraded``."""
    deployed.configure(shard_size=4)
    urls: list[Any] = [fresh_target.url(f"/health?n={i}") for i in range(6)]
    urls += [fresh_target.url("/health?status=DOWN"), fresh_target.url("/health?delay_ms=300")]
    urls.append({"url": fresh_target.url("/status/404"), "expect": {"status": [404], "json": None}})
    options = {"expect": {"status": [200], "json": {"/status": "UP"}, "degraded_latency_ms": 200}}
    answer = call({"urls": urls, "mode": "sharded", "options": options})
    assert answer["shards_total"] == 3
    log = queue.drain()
    assert [d.failed for d in log] == [False] * 3
    run = get_run(answer["run_id"])
    assert run["status"] == "complete"
    assert run["summary"]["ok"] == 8
    assert run["summary"]["check_failed"] == 1
    assert run["degraded"] == 1
    results = run["results"]
    assert [c["check"] for c in results[6]["checks"] if not c["ok"]] == ["json:/status"]
    assert results[7]["degraded"] is True
    assert (results[8]["outcome"], results[8]["status_code"]) == ("ok", 404)
    assert all(r["timings"]["total_ms"] > 0 for r in results)


def test_a_sharded_monitor_run_updates_its_monitor_when_it_completes(
    deployed: Deployment, aws: MotoAws, queue: Queue, fresh_target: DemoTarget
) -> None:
    """Each completed sharded run is one observation per URL, applied at the merge: the report
    and the record's read-back carry the monitor section, and the DOWN alert goes out once."""
    deployed.configure(
        shard_size=4,
        monitors_table_name=aws.resources.monitors_table,
        alert_topic_arn=aws.resources.alert_topic_arn,
    )
    inbox = aws.alert_inbox()
    name = f"sharded-{uuid.uuid4().hex[:8]}"
    urls = [fresh_target.url(f"/ok?s={i}") for i in range(9)] + [fresh_target.url("/status/500")]
    request = {
        "urls": urls,
        "mode": "sharded",
        "options": {"retries": 0, "thresholds": {"failed_rate": "<0.05"}},
        "monitor": {"name": name, "failure_threshold": 1},
    }
    runs = []
    for _ in range(2):
        answer = call(scheduled(request))
        assert answer["shards_total"] == 3
        queue.drain()
        runs.append(get_run(answer["run_id"]))
    first, second = runs
    assert first["status"] == "complete"
    assert first["monitor"]["transitions"] == [
        {"url": fresh_target.url("/status/500"), "from": "unknown", "to": "down"},
        {"threshold": "failed_rate<0.05", "from": "unknown", "to": "down"},
    ]
    assert (first["monitor"]["up"], first["monitor"]["down"], first["monitor"]["notified"]) == (9, 1, 2)
    assert first["thresholds"] == [{"name": "failed_rate", "condition": "<0.05", "ok": False, "value": 0.1}]
    assert second["monitor"]["transitions"] == []
    assert second["monitor"]["down"] == 1
    subjects = sorted(envelope["Subject"] for envelope in aws.received(inbox))
    assert subjects == [
        f"[fanout] {name}: {fresh_target.url('/status/500')} is DOWN",
        f"[fanout] {name}: threshold failed_rate<0.05 is BREACHED",
    ]


def test_a_sharded_regional_monitor_run_votes_in_its_scheduled_round(
    deployed: Deployment, aws: MotoAws, queue: Queue, fresh_target: DemoTarget
) -> None:
    """The round of a regional monitor's sharded run is its schedule's scheduled time (kept in the
    run's record for the merge), not the minute the merge happens to run in."""
    deployed.configure(shard_size=2, monitors_table_name=aws.resources.monitors_table, region="us-east-1")
    name = f"regional-{uuid.uuid4().hex[:8]}"
    at = int(time.time() // 60) * 60 - 300  # five minutes before the merge, within the round bound
    scheduled_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))
    written_otherwise = time.strftime("%Y-%m-%dT%H:%M:%S+01:00", time.gmtime(at + 3_600))
    request = {
        "urls": [fresh_target.url(f"/ok?r={i}") for i in range(5)],
        "mode": "sharded",
        "options": {"retries": 0},
        "monitor": {"name": name, "regions": ["us-east-1", "eu-west-1"], "quorum": 1},
        "scheduled_at": written_otherwise,  # the same instant
    }
    answer = call(scheduled(request))
    assert answer["shards_total"] == 3
    queue.drain()
    run = get_run(answer["run_id"])
    assert run["status"] == "complete"
    assert run["monitor"]["up"] == 5, run["monitor"]
    view = body_of(call(api_request("GET", f"/monitors/{name}")))
    home = next(r for r in view["regions"] if r["region"] == "us-east-1")
    assert home["last_round"] == scheduled_at


# -- poison shards go to the dead-letter queue -------------------------------------------------


def test_a_poison_shard_goes_to_the_dead_letter_queue_after_its_retries(
    deployed: Deployment, queue: Queue, dead_letters: Queue
) -> None:
    template = load_template()
    redrive = template["Resources"]["ShardQueue"]["Properties"]["RedrivePolicy"]
    max_receives = int(resolve_ref(template, redrive["maxReceiveCount"]))
    no_such_run = json.dumps(
        {
            "v": 1,
            "run_id": str(uuid.uuid4()),
            "shard": "00000-g0",
            "generation": 0,
            "source": "direct",
            "started_at": "2026-11-25T00:00:00.000Z",
            "options": {},
            "entries": [[0, "http://127.0.0.1:1/"]],
        }
    )
    for body in ("not a shard", no_such_run):
        queue.sqs.send_message(QueueUrl=queue.url, MessageBody=body)
    log = queue.drain()
    # Each failed every delivery it got, then the queue moved it to the dead-letter queue.
    assert all(d.failed for d in log)
    assert sorted(d.receive_count for d in log) == sorted(list(range(1, max_receives + 1)) * 2)
    dead = dead_letters.receive(10)
    assert sorted(m["Body"] for m in dead) == sorted(["not a shard", no_such_run])
