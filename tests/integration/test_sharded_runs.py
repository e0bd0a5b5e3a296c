"""Sharded runs: split over SQS, consumed by the same handler, continued, merged, counted once.

Everything goes through the real Lambda handler against moto in server mode (S3, DynamoDB
and SQS, created from template.yaml) and the demo target on 127.0.0.1. The shard queue is
driven as Lambda's event source mapping drives it: messages actually sent are received
from the moto queue, wrapped in the Lambda SQS event shape, handed to the handler, and
then deleted, or, when the handler reports them in ``batchItemFailures``, left for the
next delivery (made visible again at once, instead of after the visibility timeout).
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import json
import time
import uuid
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from devtools.demo_target import DemoTarget
from devtools.local_aws import resolve_ref
from fanout.aws.codec import from_attr
from fanout.aws.runs_table import RunsTable
from fanout.aws.shard_queue import ShardQueue
from fanout.config import SQS_MAX_MESSAGE_BYTES, get_settings
from fanout.errors import ShardsNotSent, StoreError
from tests.support import (
    Deployment,
    MotoAws,
    api_request,
    body_of,
    call,
    load_template,
    open_connections_after,
    problem_of,
    scheduled,
)

SETTINGS = get_settings()
# The function as deployed with its stores and its shard queue (no idempotency table).
pytestmark = pytest.mark.deployment("reports", "runs", "shards", shard_finish_budget_s=1.0)

ROUNDS = 200  # a bounded drain: no test may loop forever on a queue that never empties


# -- the queue, as Lambda's event source mapping drives it ---------------------------------


@dataclasses.dataclass
class Delivery:
    shard: str
    generation: int
    receive_count: int
    failed: bool


class Queue:
    """The shard queue of the deployment, read as the event source mapping reads it."""

    def __init__(self, aws: MotoAws, url: str) -> None:
        self.sqs = aws.client("sqs")
        self.url = url
        self.arn = aws.queue_arn(url)
        self.body_sizes: list[int] = []

    def receive(self, n: int = 1) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = self.sqs.receive_message(
            QueueUrl=self.url, MaxNumberOfMessages=n, AttributeNames=["All"], WaitTimeSeconds=0
        ).get("Messages", [])
        self.body_sizes += [len(m["Body"].encode()) for m in messages]
        return messages

    def event(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        """The Lambda SQS event for ``messages`` (what the event source mapping invokes with)."""
        return {
            "Records": [
                {
                    "messageId": m["MessageId"],
                    "receiptHandle": m["ReceiptHandle"],
                    "body": m["Body"],
                    "attributes": {
                        "ApproximateReceiveCount": m["Attributes"]["ApproximateReceiveCount"],
                        "SentTimestamp": m["Attributes"]["SentTimestamp"],
                        "SenderId": m["Attributes"]["SenderId"],
                        "ApproximateFirstReceiveTimestamp": m["Attributes"][
                            "ApproximateFirstReceiveTimestamp"
                        ],
                    },
                    "messageAttributes": {},
                    "md5OfBody": m["MD5OfBody"],
                    "eventSource": "aws:sqs",
                    "eventSourceARN": self.arn,
                    "awsRegion": "us-east-1",
                }
                for m in messages
            ]
        }

    def settle(self, messages: list[dict[str, Any]], response: dict[str, Any]) -> set[str]:
        """Delete what succeeded; what failed is delivered again (visible again at once)."""
        failed = {f["itemIdentifier"] for f in response["batchItemFailures"]}
        for m in messages:
            if m["MessageId"] in failed:
                self.sqs.change_message_visibility(
                    QueueUrl=self.url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0
                )
            else:
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=m["ReceiptHandle"])
        return failed

    def deliver(self, messages: list[dict[str, Any]], remaining_ms: float) -> set[str]:
        response = call(self.event(messages), remaining_ms)
        assert set(response) == {"batchItemFailures"}, response
        return self.settle(messages, response)

    def drain(self, remaining_ms: Callable[[int], float] | float = 10_000) -> list[Delivery]:
        """Deliver every message, one per invocation (the template's batch size), until the
        queue is empty; ``remaining_ms`` may depend on the shard's generation."""
        log: list[Delivery] = []
        for _ in range(ROUNDS):
            messages = self.receive()
            if not messages:
                return log
            try:
                body = json.loads(messages[0]["Body"])
            except ValueError:
                body = None  # a poison message
            generation = body.get("generation", -1) if isinstance(body, dict) else -1
            ms = remaining_ms(generation) if callable(remaining_ms) else remaining_ms
            failed = self.deliver(messages, ms)
            log.append(
                Delivery(
                    shard=body.get("shard", "?") if isinstance(body, dict) else "?",
                    generation=generation,
                    receive_count=int(messages[0]["Attributes"]["ApproximateReceiveCount"]),
                    failed=bool(failed),
                )
            )
        raise AssertionError(f"the queue did not empty in {ROUNDS} deliveries")

    def purge(self) -> None:
        while messages := self.receive(10):
            for m in messages:
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=m["ReceiptHandle"])


@pytest.fixture
def queue(aws: MotoAws, deployed: Deployment) -> Iterator[Queue]:
    q = Queue(aws, aws.resources.shard_queue_url)
    q.purge()
    yield q
    q.purge()
    assert all(size <= SQS_MAX_MESSAGE_BYTES for size in q.body_sizes)
    assert all(size <= deployed.settings.shard_message_max_bytes for size in q.body_sizes)


@pytest.fixture
def dead_letters(aws: MotoAws) -> Queue:
    q = Queue(aws, aws.resources.shard_dead_letter_queue_url)
    q.purge()
    return q


def record_of(aws: MotoAws, run_id: str) -> dict[str, Any]:
    item = aws.client("dynamodb").get_item(
        TableName=aws.resources.runs_table, Key={"run_id": {"S": run_id}}, ConsistentRead=True
    )["Item"]
    return {k: from_attr(v) for k, v in item.items()}


def get_run(run_id: str) -> dict[str, Any]:
    run: dict[str, Any] = body_of(call(api_request("GET", f"/runs/{run_id}")))
    return run


def expected_outcome(url: str) -> str:
    return "http_error" if "/status/404" in url else "ok"


# -- the 5,000-URL run ------------------------------------------------------------------------


def test_a_5000_url_run_is_split_continued_past_deadlines_and_merged_exactly_once(
    deployed: Deployment, aws: MotoAws, queue: Queue, fresh_target: DemoTarget
) -> None:
    t = fresh_target
    # Most URLs answer at once; every 100th is a 404; in the first three shards every 100th
    # (offset 50) takes 1.5 s: longer than a first-generation shard fetches (below).
    urls = []
    for i in range(5_000):
        if i % 100 == 0:
            urls.append(t.url(f"/status/404?i={i}"))
        elif i % 100 == 50 and i < 1_500:
            urls.append(t.url(f"/ok?delay_ms=1500&i={i}"))
        else:
            urls.append(t.url(f"/ok?i={i}"))
    options = {"concurrency": 200, "per_host_concurrency": 200, "retries": 0, "request_timeout_s": 5}

    answer = call({"urls": urls, "options": options})
    assert answer["mode"] == "sharded"
    assert answer["status"] == "running"
    assert answer["location"] == f"/runs/{answer['run_id']}"
    assert answer["shards_total"] == 10  # 5,000 / FANOUT_SHARD_SIZE (500)
    assert answer["summary"]["total"] == 5_000
    run_id = answer["run_id"]
    assert get_run(run_id)["progress"] == {
        "shards_done": 0,
        "shards_total": 10,
        "urls_done": 0,
        "urls_total": 5_000,
    }

    # First-generation shards get 2.5 s: at most ~1.2 s of fetching (the slow URLs are cut), then
    # the module's whole 1 s finish budget. (With 1.5 s, the finish budget was halved to ~0.55 s:
    # less than the generation's collector takes to gather ten shards' leftovers on a loaded
    # machine, with moto in this process; its delivery then failed.) Their continuations
    # (generation 1) get 5 s.
    log = queue.drain(lambda generation: 2_500 if generation == 0 else 5_000)

    assert not any(d.failed for d in log), log
    generations = Counter(d.generation for d in log)
    assert generations[0] == 10
    # The leftovers of every shard cut (at least the three with slow URLs; more when the machine
    # is slow) are gathered into one continuation, in shards of at most 500 numbered from 0.
    record = record_of(aws, run_id)
    cut = [s for s in record["cut_shards"] if s.endswith("-g0")]
    assert {"00000-g0", "00001-g0", "00002-g0"} <= set(cut)
    assert 1 <= generations[1] <= len(cut)
    assert sorted(d.shard for d in log if d.generation == 1) == [f"{n:05d}-g1" for n in range(generations[1])]
    run = get_run(run_id)
    assert run["status"] == "complete"
    results = run["results"]
    assert [r["url"] for r in results] == urls  # every URL exactly once, in input order
    assert [r["outcome"] for r in results] == [expected_outcome(u) for u in urls]
    assert all(r["status_code"] == (404 if "/status/404" in r["url"] else 200) for r in results)
    slow = [r for r in results if "delay_ms=1500" in r["url"]]
    assert len(slow) == 15
    assert all(r["elapsed_ms"] >= 1_400 for r in slow)
    assert run["summary"] == {
        "total": 5_000,
        "ok": 4_950,
        "http_error": 50,
        "check_failed": 0,
        "failed": 0,
        "timed_out": 0,
        "cancelled": 0,
        "not_started": 0,
        "blocked": 0,
    }
    assert run["progress"]["shards_done"] == run["progress"]["shards_total"] == len(log)
    assert run["progress"]["urls_done"] == 5_000
    assert run["given_up"] == 0
    assert "done_shards" not in run
    # The counts kept by atomic updates agree with the merged results.
    assert record["summary"] == run["summary"]
    assert sorted(record["done_shards"]) == sorted(d.shard for d in log)
    assert open_connections_after(t) == 0


# -- the HTTP API: 202, progress, results ------------------------------------------------------


def test_a_large_api_request_is_accepted_with_202_and_read_back_when_complete(
    deployed: Deployment, queue: Queue, target: DemoTarget
) -> None:
    urls = [target.url(f"/ok?api={i}") for i in range(SETTINGS.shard_threshold_api + 100)]
    response = call(
        api_request(
            "POST",
            "/fanout",
            body={"urls": urls, "options": {"concurrency": 100, "per_host_concurrency": 100}},
        )
    )
    accepted = body_of(response, 202)
    assert response["headers"]["Location"] == f"/runs/{accepted['run_id']}"
    assert accepted["source"] == "api"
    assert accepted["persisted"]["report"]["status"] == "pending"
    assert accepted["persisted"]["record"]["status"] == "stored"

    running = get_run(accepted["run_id"])
    assert running["status"] == "running"
    assert running["results"] is None
    assert running["progress"]["shards_total"] == 2
    listed = body_of(call(api_request("GET", "/runs", query={"limit": "5"})))["runs"]
    mine = next(r for r in listed if r["run_id"] == accepted["run_id"])
    assert mine["progress"]["shards_done"] == 0
    assert "done_shards" not in mine

    log = queue.drain()
    assert [d.failed for d in log] == [False, False]
    done = get_run(accepted["run_id"])
    assert done["status"] == "complete"
    assert [r["url"] for r in done["results"]] == urls
    assert done["summary"]["ok"] == len(urls)
    assert done["finished_at"] >= done["started_at"]
    assert done["report"]["key"].endswith(f"{accepted['run_id']}.json.gz")


def test_below_the_threshold_the_api_still_answers_inline(deployed: Deployment, target: DemoTarget) -> None:
    document = body_of(call(api_request("POST", "/fanout", body={"urls": [target.url("/ok")]})))
    assert document["results"][0]["outcome"] == "ok"
    assert "mode" not in document


# -- duplicates and retries count once ----------------------------------------------------------


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


# -- poison shards go to the dead-letter queue ---------------------------------------------------


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


# -- generations are bounded ----------------------------------------------------------------------


def test_leftovers_past_the_last_generation_are_given_up(
    deployed: Deployment, queue: Queue, target: DemoTarget
) -> None:
    deployed.configure(shard_max_generations=1)
    request = {
        "urls": [target.url("/ok"), target.url("/hang")],
        "mode": "sharded",
        "options": {"request_timeout_s": 60},
    }
    answer = call(request)
    log = queue.drain(2_000)
    assert [(d.shard, d.generation) for d in log] == [("00000-g0", 0), ("00000-g1", 1)]
    run = get_run(answer["run_id"])
    assert run["status"] == "complete"
    assert run["given_up"] == 1
    assert run["deadline_reached"] is True
    ok, hang = run["results"]
    assert ok["outcome"] == "ok"
    assert hang["outcome"] == "cancelled"
    assert hang["error"]["type"] == "given_up"
    assert run["summary"]["cancelled"] == 1


def test_a_url_in_flight_for_its_whole_shard_is_given_up_unfetched_by_the_next_generation(
    deployed: Deployment, queue: Queue, fresh_target: DemoTarget
) -> None:
    # Every generation gets the same time (as on Lambda: one function timeout): a URL that hung
    # for the whole of generation 0 cannot get twice that from generation 1, which gives it up
    # without requesting it again, and the run completes after two deliveries, not four.
    t = fresh_target
    request = {
        "urls": [t.url("/ok"), t.url("/hang?i=0"), t.url("/ok?i=2")],
        "mode": "sharded",
        "options": {"request_timeout_s": 60},
    }
    answer = call(request)
    log = queue.drain(2_500)
    assert [(d.shard, d.generation, d.failed) for d in log] == [
        ("00000-g0", 0, False),
        ("00000-g1", 1, False),
    ]
    assert t.stats()["hits"].get("/hang") == 1  # generation 1 did not request it again
    run = get_run(answer["run_id"])
    assert run["status"] == "complete"
    assert [r["url"] for r in run["results"]] == request["urls"]
    first, hang, last = run["results"]
    assert first["outcome"] == last["outcome"] == "ok"
    assert hang["outcome"] == "cancelled"
    assert hang["error"]["type"] == "given_up"
    assert "not fetched again" in hang["error"]["message"]
    assert hang["elapsed_ms"] > 0  # what it had in generation 0
    assert run["given_up"] == 1
    assert run["deadline_reached"] is True
    assert run["summary"]["cancelled"] == 1
    assert open_connections_after(t) == 0


def test_a_url_cut_early_in_its_attempt_is_fetched_again_by_a_generation_with_more_time(
    deployed: Deployment, queue: Queue, fresh_target: DemoTarget
) -> None:
    # Generation 0 has about 0.6 s of fetching for a URL that needs 1.2 s; generation 1 can give
    # it several times what it had: it is requested again and answers.
    t = fresh_target
    request = {
        "urls": [t.url("/ok?delay_ms=1200")],
        "mode": "sharded",
        "options": {"request_timeout_s": 10, "retries": 0},
    }
    answer = call(request)
    log = queue.drain(lambda generation: 1_500 if generation == 0 else 5_000)
    assert [(d.shard, d.failed) for d in log] == [("00000-g0", False), ("00000-g1", False)]
    assert t.stats()["hits"].get("/ok") == 2
    run = get_run(answer["run_id"])
    assert run["status"] == "complete"
    (result,) = run["results"]
    assert result["outcome"] == "ok"
    assert run["given_up"] == 0


def hanging_run(t: DemoTarget, n: int) -> tuple[list[str], str]:
    """A sharded run of ``n`` URLs in shards of 5, the third of each never answering."""
    urls = [t.url(f"/hang?i={i}") if i % 5 == 2 else t.url(f"/ok?i={i}") for i in range(n)]
    answer = call({"urls": urls, "mode": "sharded", "options": {"request_timeout_s": 60}})
    assert answer["shards_total"] == n // 5
    return urls, answer["run_id"]


def receive_all(queue: Queue, expected: int) -> list[dict[str, Any]]:
    """Every message in the queue, ``expected`` of them (moto may hand them over in parts)."""
    messages: list[dict[str, Any]] = []
    for _ in range(10):
        messages += queue.receive(10)
        if len(messages) >= expected:
            break
    assert len(messages) == expected, [json.loads(m["Body"])["shard"] for m in messages]
    return messages


def the_continuation(queue: Queue) -> dict[str, Any]:
    """The one message left in the queue, received and made visible again for the drain."""
    (message,) = receive_all(queue, 1)
    assert queue.receive(10) == [], "one continuation, nothing else"
    queue.sqs.change_message_visibility(
        QueueUrl=queue.url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
    )
    body: dict[str, Any] = json.loads(message["Body"])
    return body


def test_hanging_urls_of_four_shards_are_continued_in_one_message_and_every_url_has_one_result(
    deployed: Deployment, aws: MotoAws, queue: Queue, fresh_target: DemoTarget
) -> None:
    # Four shards, each with one URL that never answers, all cut by their deadline: their
    # leftovers go on as one continuation (generation 1), sent once the fourth is counted; it
    # gives the hanging URLs up without fetching, and nothing reaches generation 2.
    t = fresh_target
    deployed.configure(shard_size=5)
    urls, run_id = hanging_run(t, 20)
    *firsts, last = receive_all(queue, 4)
    for message in firsts:
        assert queue.deliver([message], 2_500) == set()
        record = record_of(aws, run_id)  # each cut shard holds a place until its generation is done
        assert record["shards_total"] == 4 + len(record["cut_shards"])
        assert queue.receive(10) == [], "nothing is continued before the generation is counted"
    assert queue.deliver([last], 2_500) == set()
    continuation = the_continuation(queue)
    assert (continuation["shard"], continuation["generation"]) == ("00000-g1", 1)
    assert [i for i, _ in continuation["entries"]] == [2, 7, 12, 17]
    assert [i for i, _ in continuation["held"]] == [2, 7, 12, 17]
    record = record_of(aws, run_id)
    assert (record["generation"], record["shards_sent"], record["shards_total"]) == (1, 5, 5)
    assert sorted(record["cut_shards"]) == [f"0000{n}-g0" for n in range(4)]

    log = queue.drain(2_500)
    assert [(d.shard, d.failed) for d in log] == [("00000-g1", False)]
    assert t.stats()["hits"].get("/hang") == 4
    run = get_run(run_id)
    assert run["status"] == "complete"
    assert [r["url"] for r in run["results"]] == urls
    assert [r["outcome"] for r in run["results"]] == ["cancelled" if "/hang" in u else "ok" for u in urls]
    assert run["given_up"] == 4
    assert run["progress"]["shards_done"] == run["progress"]["shards_total"] == 5
    assert not any(k in run for k in ("cut_shards", "shards_sent", "collector"))
    assert open_connections_after(t) == 0


def test_a_runs_shard_size_sizes_its_shards_and_its_generations_continuation(
    deployed: Deployment, aws: MotoAws, queue: Queue, fresh_target: DemoTarget
) -> None:
    # The deployment's shards hold 100 URLs; this run asks for 3. Its 9 URLs are 3 shards, and
    # the generation's 6 leftovers (two URLs of each shard never answer) go on as 2 messages of 3.
    t = fresh_target
    deployed.configure(shard_size=100, min_shard_size=1)
    urls = [t.url(f"/ok?i={i}") if i % 3 == 0 else t.url(f"/hang?i={i}") for i in range(9)]
    options = {"request_timeout_s": 60, "shard_size": 3}
    answer = call({"urls": urls, "mode": "sharded", "options": options})
    assert answer["shards_total"] == 3
    for message in receive_all(queue, 3):
        assert [i for i, _ in json.loads(message["Body"])["entries"]] in ([0, 1, 2], [3, 4, 5], [6, 7, 8])
        assert queue.deliver([message], 2_500) == set()
    continuations = receive_all(queue, 2)
    bodies = sorted((json.loads(m["Body"]) for m in continuations), key=lambda b: b["shard"])
    assert [b["generation"] for b in bodies] == [1, 1]
    assert [[i for i, _ in b["entries"]] for b in bodies] == [[1, 2, 4], [5, 7, 8]]
    assert all(b["options"]["shard_size"] == 3 for b in bodies)
    for message in continuations:
        queue.sqs.change_message_visibility(
            QueueUrl=queue.url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
        )

    log = queue.drain(2_500)
    assert sorted(d.shard for d in log) == [b["shard"] for b in bodies]
    run = get_run(answer["run_id"])
    assert run["status"] == "complete"
    assert [r["url"] for r in run["results"]] == urls
    assert [r["outcome"] for r in run["results"]] == ["ok" if "/ok" in u else "cancelled" for u in urls]
    assert run["given_up"] == 6


def test_a_cut_shard_delivered_again_adds_nothing_to_its_generations_continuation(
    deployed: Deployment, aws: MotoAws, queue: Queue, fresh_target: DemoTarget
) -> None:
    t = fresh_target
    deployed.configure(shard_size=5)
    urls, run_id = hanging_run(t, 10)
    first, second = receive_all(queue, 2)
    event = queue.event([first])
    assert call(event, 2_500) == {"batchItemFailures": []}
    assert call(json.loads(json.dumps(event)), 2_500) == {"batchItemFailures": []}  # delivered twice
    record = record_of(aws, run_id)
    assert (record["shards_done"], record["shards_total"], record["cut_shards"]) == (1, 3, ["00000-g0"])
    assert queue.deliver([second], 2_500) == set()  # the generation's last: it collects
    assert call(json.loads(json.dumps(event)), 2_500) == {"batchItemFailures": []}  # and again, after
    continuation = the_continuation(queue)
    assert [i for i, _ in continuation["entries"]] == [2, 7]
    log = queue.drain(2_500)
    assert [(d.shard, d.failed) for d in log] == [("00000-g1", False)]
    assert t.stats()["hits"].get("/hang") == 2, "the duplicates fetched nothing"
    run = get_run(run_id)
    assert run["status"] == "complete"
    assert [r["url"] for r in run["results"]] == urls
    assert run["given_up"] == 2
    assert run["progress"]["shards_done"] == run["progress"]["shards_total"] == 3


def deliver_last_two_at_once(queue: Queue, run_id: str, *, times: int) -> None:
    """The first two of four shards one after the other, the last two at once (each ``times``)."""
    messages = receive_all(queue, 4)
    for message in messages[:2]:
        assert queue.deliver([message], 2_500) == set()
    events = [queue.event([m]) for m in messages[2:]] * times
    # Powertools' metrics are one set per process: invocations at once in one process (never on
    # Lambda) may find it flushed by another, which it only warns about.
    with (
        warnings.catch_warnings(),
        concurrent.futures.ThreadPoolExecutor(max_workers=len(events)) as pool,
    ):
        warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)
        answers = list(pool.map(lambda e: call(json.loads(json.dumps(e)), 2_500), events))
    assert answers == [{"batchItemFailures": []}] * len(events)
    for message in messages[2:]:
        queue.sqs.delete_message(QueueUrl=queue.url, ReceiptHandle=message["ReceiptHandle"])


def finish_after_one_continuation(aws: MotoAws, queue: Queue, run_id: str, urls: list[str]) -> None:
    record = record_of(aws, run_id)
    assert (record["shards_done"], record["shards_sent"], record["shards_total"]) == (4, 5, 5)
    log = queue.drain(2_500)
    # One continuation per generation from here (a hanging URL whose shard started it late, on a
    # busy machine, may be fetched again by generation 1 and given up by generation 2).
    assert [(d.shard, d.failed) for d in log] == [(f"00000-g{g}", False) for g in range(1, len(log) + 1)]
    run = get_run(run_id)
    assert run["status"] == "complete"
    assert [r["url"] for r in run["results"]] == urls
    assert run["given_up"] == 4


def test_the_last_two_shards_of_a_generation_finishing_together_send_one_continuation(
    deployed: Deployment, aws: MotoAws, queue: Queue, fresh_target: DemoTarget
) -> None:
    deployed.configure(shard_size=5)
    urls, run_id = hanging_run(fresh_target, 20)
    deliver_last_two_at_once(queue, run_id, times=1)
    continuation = the_continuation(queue)
    assert (continuation["shard"], [i for i, _ in continuation["entries"]]) == ("00000-g1", [2, 7, 12, 17])
    finish_after_one_continuation(aws, queue, run_id, urls)


def test_the_last_two_shards_each_delivered_twice_at_once_still_continue_once(
    deployed: Deployment, aws: MotoAws, queue: Queue, fresh_target: DemoTarget
) -> None:
    # A duplicate of the collector arriving while it sends may send the continuation again (it
    # cannot tell a collector still sending from one that failed): the same message, counted once.
    deployed.configure(shard_size=5)
    urls, run_id = hanging_run(fresh_target, 20)
    deliver_last_two_at_once(queue, run_id, times=2)
    messages = []
    while batch := queue.receive(10):
        messages += batch
    assert 1 <= len(messages) <= 2
    assert {m["Body"] for m in messages} == {messages[0]["Body"]}
    continuation = json.loads(messages[0]["Body"])
    assert (continuation["shard"], [i for i, _ in continuation["entries"]]) == ("00000-g1", [2, 7, 12, 17])
    for message in messages:
        queue.sqs.change_message_visibility(
            QueueUrl=queue.url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
        )
    record = record_of(aws, run_id)
    assert (record["shards_done"], record["shards_sent"], record["shards_total"]) == (4, 5, 5)
    log = queue.drain(2_500)
    assert not any(d.failed for d in log)
    assert [d.shard for d in log if d.generation == 1] == ["00000-g1"] * len(messages)
    run = get_run(run_id)
    assert run["status"] == "complete"
    assert [r["url"] for r in run["results"]] == urls
    assert run["given_up"] == 4
    assert run["progress"]["shards_done"] == run["progress"]["shards_total"]


def test_a_continuation_that_could_not_be_sent_is_sent_by_its_collectors_redelivery(
    deployed: Deployment,
    aws: MotoAws,
    queue: Queue,
    fresh_target: DemoTarget,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    t = fresh_target
    deployed.configure(shard_size=5)
    urls, run_id = hanging_run(t, 10)
    first, second = receive_all(queue, 2)
    assert queue.deliver([first], 2_500) == set()
    real_send = ShardQueue.send
    refused: list[int] = []

    async def refuse_once(self: ShardQueue, bodies: Any, before: float) -> None:
        if not refused:
            refused.append(len(bodies))
            raise ShardsNotSent("1 shard message(s) refused by the queue: ServiceUnavailable")
        await real_send(self, bodies, before)

    monkeypatch.setattr(ShardQueue, "send", refuse_once)
    assert queue.deliver([second], 2_500) == {second["MessageId"]}  # collected, but not sent
    record = record_of(aws, run_id)
    assert (record["generation"], record["collector"], record["shards_sent"]) == (1, "00001-g0", 3)
    assert record["sent_generation"] == 0  # collected, not sent
    log = queue.drain(2_500)
    assert [(d.shard, d.receive_count, d.failed) for d in log] == [
        ("00001-g0", 2, False),
        ("00000-g1", 1, False),
    ]
    assert refused == [1]
    assert record_of(aws, run_id)["sent_generation"] == 1
    run = get_run(run_id)
    assert run["status"] == "complete"
    assert [r["url"] for r in run["results"]] == urls
    assert run["given_up"] == 2


# -- carry-over of an inline run ---------------------------------------------------------------


def test_an_inline_run_cut_by_its_deadline_carries_its_leftovers_over(
    deployed: Deployment, queue: Queue, target: DemoTarget
) -> None:
    slow = [target.url(f"/ok?delay_ms=2000&c={i}") for i in range(5)]
    fast = [target.url(f"/ok?c={i}") for i in range(20)]
    post = {"url": target.url("/status/200?delay_ms=2000"), "method": "POST"}  # not repeatable
    request = {
        "urls": [*fast[:10], *slow, post, *fast[10:]],
        "carry_over": True,
        "options": {"concurrency": 50, "per_host_concurrency": 50},
    }
    answer = call(request, remaining_ms=2_500)
    run_id = answer["run_id"]
    outcomes = [r["outcome"] for r in answer["results"]]
    assert outcomes == ["ok"] * 10 + ["cancelled"] * 6 + ["ok"] * 10
    assert answer["deadline_reached"] is True
    assert answer["leftovers"] == {"count": 5, "indexes": list(range(10, 15)), "carried_over": True}
    assert answer["continuation"] == {
        "status": "running",
        "urls": 5,
        "shards": 1,
        "location": f"/runs/{run_id}",
    }
    assert answer["persisted"]["report"]["status"] == "pending"
    assert get_run(run_id)["progress"] == {
        "shards_done": 1,
        "shards_total": 2,
        "urls_done": 21,
        "urls_total": 26,
    }

    log = queue.drain()
    assert [(d.shard, d.generation, d.failed) for d in log] == [("00000-g1", 1, False)]
    run = get_run(run_id)
    assert run["status"] == "complete"
    assert run["carried_over"] == 5
    assert [r["url"] for r in run["results"]] == [*fast[:10], *slow, post["url"], *fast[10:]]
    assert [r["outcome"] for r in run["results"]] == ["ok"] * 15 + ["cancelled"] + ["ok"] * 10
    assert run["summary"]["ok"] == 25
    assert run["summary"]["cancelled"] == 1


def test_an_inline_runs_carried_leftovers_go_on_in_shards_of_its_shard_size(
    deployed: Deployment, queue: Queue, target: DemoTarget
) -> None:
    deployed.configure(shard_size=100, min_shard_size=1)
    slow = [target.url(f"/ok?delay_ms=2000&s={i}") for i in range(5)]
    fast = [target.url(f"/ok?s={i}") for i in range(5)]
    options = {"concurrency": 50, "per_host_concurrency": 50, "shard_size": 2}
    answer = call({"urls": [*fast, *slow], "carry_over": True, "options": options}, remaining_ms=2_500)
    assert answer["leftovers"] == {"count": 5, "indexes": list(range(5, 10)), "carried_over": True}
    assert answer["continuation"]["shards"] == 3  # 2 + 2 + 1, not one shard of the deployment's 100
    log = queue.drain()
    assert sorted((d.shard, d.failed) for d in log) == [(f"0000{n}-g1", False) for n in range(3)]
    run = get_run(answer["run_id"])
    assert run["status"] == "complete"
    assert [r["url"] for r in run["results"]] == [*fast, *slow]
    assert run["summary"]["ok"] == 10


def test_without_carry_over_the_leftovers_are_listed_and_nothing_is_queued(
    deployed: Deployment, queue: Queue, target: DemoTarget
) -> None:
    request = {"urls": [target.url("/ok"), target.url("/hang")], "options": {"request_timeout_s": 60}}
    answer = call(request, remaining_ms=1_500)
    assert answer["leftovers"] == {"count": 1, "indexes": [1], "carried_over": False}
    assert "continuation" not in answer
    assert answer["persisted"]["stored"] is True
    assert queue.receive() == []


# -- refusals --------------------------------------------------------------------------------------


def test_sharding_off_refuses_what_needs_it(deployed: Deployment, target: DemoTarget) -> None:
    deployed.configure(shard_queue_url="")
    problem_of(
        call(api_request("POST", "/fanout", body={"urls": [target.url("/ok")], "mode": "sharded"})),
        501,
        "sharding-off",
    )
    answer = call({"urls": [target.url("/ok")], "carry_over": True})
    assert answer["error"]["type"] == "sharding_off"
    # Above the threshold, with sharding off, a run is an inline run as before.
    many = [target.url(f"/ok?off={i}") for i in range(SETTINGS.shard_threshold_api + 1)]
    document = body_of(
        call(
            api_request(
                "POST",
                "/fanout",
                body={"urls": many, "options": {"concurrency": 100, "per_host_concurrency": 100}},
            )
        )
    )
    assert document["summary"]["ok"] == len(many)


def test_an_entry_too_large_for_a_shard_message_is_refused_before_anything_runs(
    deployed: Deployment, queue: Queue, target: DemoTarget
) -> None:
    huge = {"url": target.url("/echo"), "method": "POST", "json": {"blob": "x" * 300_000}}
    problem = problem_of(
        call(api_request("POST", "/fanout", body={"urls": [target.url("/ok"), huge], "mode": "sharded"})),
        422,
        "validation-error",
    )
    assert [(e["loc"], e["type"]) for e in problem["errors"]] == [("urls.1", "entry_too_large")]
    assert queue.receive() == []


def test_a_run_whose_shards_cannot_be_sent_is_marked_failed(
    deployed: Deployment, aws: MotoAws, target: DemoTarget
) -> None:
    deployed.configure(shard_queue_url=aws.resources.shard_queue_url + "-missing")
    problem = problem_of(
        call(api_request("POST", "/fanout", body={"urls": [target.url("/ok")], "mode": "sharded"})),
        503,
        "shards-not-started",
    )
    run_id = problem["detail"].split()[1].rstrip(":")
    run = get_run(run_id)
    assert run["status"] == "failed"
    assert run["results"] is None
    assert run["error"]["message"]


# -- the template and the code agree ----------------------------------------------------------------


def test_the_template_wires_the_shard_queue_as_the_code_expects() -> None:
    template = load_template()
    params, resources = template["Parameters"], template["Resources"]
    queue = resources["ShardQueue"]["Properties"]
    # Visibility timeout >= 6 x the function's timeout, for every FunctionTimeout allowed.
    timeout = params["FunctionTimeout"]
    for seconds in (timeout["MinValue"], timeout["Default"], timeout["MaxValue"]):
        visibility = int(resolve_ref(template, queue["VisibilityTimeout"], {"FunctionTimeout": seconds}))
        assert 6 * seconds <= visibility <= 43_200, (seconds, visibility)
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["ShardDeadLetterQueue", "Arn"]}
    assert queue["RedrivePolicy"]["maxReceiveCount"] == {"Ref": "ShardMaxReceiveCount"}
    # The dead-letter queue keeps messages longer than the queue does.
    dlq = resources["ShardDeadLetterQueue"]["Properties"]
    assert dlq["MessageRetentionPeriod"] > queue["MessageRetentionPeriod"]
    # The event source mapping: partial batch failures, small batches, bounded concurrency.
    function = resources["FanoutFunction"]["Properties"]
    source = function["Events"]["Shards"]
    assert source["Type"] == "SQS"
    props = source["Properties"]
    assert props["Queue"] == {"Fn::GetAtt": ["ShardQueue", "Arn"]}
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert props["BatchSize"] == 1
    assert props["ScalingConfig"]["MaximumConcurrency"] == {"Ref": "ShardMaximumConcurrency"}
    concurrency = params["ShardMaximumConcurrency"]
    assert (concurrency["MinValue"], concurrency["MaxValue"]) == (2, 1000)
    # Least privilege: send to the shard queue only, update the runs table only.
    statements = {s.get("Sid"): s for s in function["Policies"][0]["Statement"]}
    assert statements["ShardQueueSend"]["Action"] == "sqs:SendMessage"
    assert statements["ShardQueueSend"]["Resource"] == {"Fn::GetAtt": ["ShardQueue", "Arn"]}
    assert statements["RunProgress"]["Action"] == "dynamodb:UpdateItem"
    assert statements["RunProgress"]["Resource"] == {"Fn::GetAtt": ["RunsTable", "Arn"]}
    # The environment names the queue; the outputs name both queues.
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["SHARD_QUEUE_URL"] == {"Ref": "ShardQueue"}
    assert variables["FANOUT_SHARD_SIZE"] == {"Ref": "ShardSize"}
    assert params["ShardSize"]["Default"] == SETTINGS.shard_size
    assert params["ShardMaxGenerations"]["Default"] == SETTINGS.shard_max_generations
    assert {"ShardQueueUrl", "ShardDeadLetterQueueUrl"} <= set(template["Outputs"])
