"""Sharded runs on moto: the deployment they need, its shard queue driven as Lambda's event source
mapping drives it, and a run read back from the runs table and through the API.

The shard queue is driven as the event source mapping drives it: messages actually sent are
received from the moto queue, wrapped in the Lambda SQS event shape, handed to the handler, and
then deleted, or, when the handler reports them in ``batchItemFailures``, left for the next
delivery (made visible again at once, instead of after the visibility timeout).
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import json
import warnings
from collections.abc import Callable
from typing import Any

import pytest

from devtools.local_aws import LocalAws
from fanout.aws.codec import from_attr
from tests.support.deployment import api_request, body_of
from tests.support.invoking import call

SHARDED = pytest.mark.deployment("reports", "runs", "shards", shard_finish_budget_s=1.0)
"""The function as deployed with its stores and its shard queue (no idempotency table), each
shard's finish budget 1 s: every sharded-run module's ``pytestmark``."""

ROUNDS = 200  # a bounded drain: no test may loop forever on a queue that never empties


@dataclasses.dataclass
class Delivery:
    shard: str
    generation: int
    receive_count: int
    failed: bool


class Queue:
    """The shard queue of the deployment, read as the event source mapping reads it."""

    def __init__(self, aws: LocalAws, url: str) -> None:
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

    def invoke_at_once(self, events: list[dict[str, Any]], remaining_ms: float) -> list[Any]:
        """The handler's answers to ``events`` invoked all at once, each in its own thread (as the
        event source mapping's concurrent invocations) with its own copy of its event.

        Powertools' metrics are one set per process: invocations at once in one process (never on
        Lambda) may find it flushed by another, which it only warns about.
        """
        with (
            warnings.catch_warnings(),
            concurrent.futures.ThreadPoolExecutor(max_workers=len(events)) as pool,
        ):
            warnings.filterwarnings(
                "ignore", message="No application metrics to publish", category=UserWarning
            )
            return list(pool.map(lambda e: call(json.loads(json.dumps(e)), remaining_ms), events))

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


def receive_all(queue: Queue, expected: int) -> list[dict[str, Any]]:
    """Every message in the queue, ``expected`` of them (moto may hand them over in parts)."""
    messages: list[dict[str, Any]] = []
    for _ in range(10):
        messages += queue.receive(10)
        if len(messages) >= expected:
            break
    assert len(messages) == expected, [json.loads(m["Body"])["shard"] for m in messages]
    return messages


def record_of(aws: LocalAws, run_id: str) -> dict[str, Any]:
    item = aws.client("dynamodb").get_item(
        TableName=aws.resources.runs_table, Key={"run_id": {"S": run_id}}, ConsistentRead=True
    )["Item"]
    return {k: from_attr(v) for k, v in item.items()}


def get_run(run_id: str) -> dict[str, Any]:
    run: dict[str, Any] = body_of(call(api_request("GET", f"/runs/{run_id}")))
    return run
