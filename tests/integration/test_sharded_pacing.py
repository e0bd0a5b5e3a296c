"""A paced sharded run as its host sees it: the shards the queue runs at once share the host's
``per_host_rps``, so together they ask no more of it than one run would.

Through the real Lambda handler against moto in server mode; the run's shards delivered all at once
(each in its own thread, as concurrent invocations of the event source mapping) to one host on
127.0.0.1 that stamps every request (``devtools.stamping_target``). The assertions are on counts and
spans of those stamps (a slower machine only spreads them further).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from devtools.stamping_target import StampingTarget
from tests.support import (
    ARRIVAL_JITTER_S,
    SHARDED,
    Deployment,
    Queue,
    call,
    get_run,
    most_in_any_window,
    receive_all,
)

pytestmark = SHARDED


@pytest.fixture
def host() -> Iterator[StampingTarget]:
    with StampingTarget() as target:
        yield target


def deliver_at_once(queue: Queue, messages: list[dict[str, Any]]) -> None:
    """Every message to its own invocation, all at once, then deleted."""
    answers = queue.invoke_at_once([queue.event([m]) for m in messages], 10_000)
    assert answers == [{"batchItemFailures": []}] * len(messages)
    for message in messages:
        queue.sqs.delete_message(QueueUrl=queue.url, ReceiptHandle=message["ReceiptHandle"])


def paced_run(deployed: Deployment, host: StampingTarget, n: int) -> tuple[list[str], dict[str, Any]]:
    """A sharded run of ``n`` URLs of ``host`` at 10 rps, in shards of 5, at most 4 shards at once."""
    deployed.configure(shard_size=5, shard_max_concurrency=4)
    urls = [host.url(f"/ok?n={i}") for i in range(n)]
    answer: dict[str, Any] = call({"urls": urls, "mode": "sharded", "options": {"per_host_rps": 10}})
    return urls, answer


def test_shards_run_at_once_share_their_hosts_rate(
    deployed: Deployment, queue: Queue, host: StampingTarget
) -> None:
    # 4 shards of 5 URLs of one host at 10 rps, at most 4 shards at once: each shard asks 2.5 a
    # second (one request, then one every 0.4 s), so the host sees about 10 a second from all four
    # together. Without sharing, each shard would ask 10 a second: all 20 within ~0.4 s.
    urls, answer = paced_run(deployed, host, 20)
    assert answer["shards_total"] == 4
    messages = receive_all(queue, 4)
    assert [json.loads(m["Body"])["rate_shared_by"] for m in messages] == [4] * 4
    deliver_at_once(queue, messages)

    run = get_run(answer["run_id"])
    assert run["status"] == "complete"
    assert [r["url"] for r in run["results"]] == urls
    assert {r["outcome"] for r in run["results"]} == {"ok"}
    seen = host.seen("/ok")
    assert len(seen) == 20
    # Each shard's 5 requests span 4 x 0.4 s, whatever the others do.
    assert seen[-1].at - seen[0].at >= 4 * 0.4 - ARRIVAL_JITTER_S
    # In any second: at most 1 + 2.5 from each shard (14), and jitter; without sharing, all 20.
    assert most_in_any_window(seen, 1.0) <= 15
    assert sum(r.get("throttled", 0) for r in run["results"]) >= 4 * 4  # all but each shard's first waited


def test_a_run_of_one_shard_keeps_its_whole_rate(
    deployed: Deployment, queue: Queue, host: StampingTarget
) -> None:
    _, answer = paced_run(deployed, host, 5)
    (message,) = receive_all(queue, 1)
    assert "rate_shared_by" not in json.loads(message["Body"])
    deliver_at_once(queue, [message])
    assert get_run(answer["run_id"])["summary"]["ok"] == 5
    seen = host.seen("/ok")
    # 10 a second: 0.4 s from the first to the fifth, not 1.6 s.
    assert seen[-1].at - seen[0].at < 1.6 - ARRIVAL_JITTER_S
