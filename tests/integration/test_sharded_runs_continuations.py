"""Sharded runs' continuations: the leftovers of a generation's cut shards go on as one
continuation, sent once the generation's last shard is counted (its collector), whether its
shards finish together, are delivered twice, or the continuation could not be sent at first.

Through the real Lambda handler against moto in server mode and the demo target on 127.0.0.1,
the shard queue driven as Lambda's event source mapping drives it (``tests.support.sharding``).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from devtools.demo_target import DemoTarget
from fanout.aws.shard_queue import ShardQueue
from fanout.errors import ShardsNotSent
from tests.support import (
    SHARDED,
    Deployment,
    MotoAws,
    Queue,
    call,
    get_run,
    open_connections_after,
    receive_all,
    record_of,
)

pytestmark = SHARDED


def hanging_run(t: DemoTarget, n: int) -> tuple[list[str], str]:
    """A sharded run of ``n`` URLs in shards of 5, the third of each never answering."""
    urls = [t.url(f"/hang?i={i}") if i % 5 == 2 else t.url(f"/ok?i={i}") for i in range(n)]
    answer = call({"urls": urls, "mode": "sharded", "options": {"request_timeout_s": 60}})
    assert answer["shards_total"] == n // 5
    return urls, answer["run_id"]


def the_continuation(queue: Queue) -> dict[str, Any]:
    """The one message left in the queue, received and made visible again for the drain."""
    (message,) = receive_all(queue, 1)
    assert queue.receive(10) == [], "one continuation, nothing else"
    queue.sqs.change_message_visibility(
        QueueUrl=queue.url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
    )
    body: dict[str, Any] = json.loads(message["Body"])
    return body


# -- one continuation per generation -----------------------------------------------------------


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


# -- the generation's last shards at once, and a continuation not sent -------------------------


def deliver_last_two_at_once(queue: Queue, run_id: str, *, times: int) -> None:
    """The first two of four shards one after the other, the last two at once (each ``times``)."""
    messages = receive_all(queue, 4)
    for message in messages[:2]:
        assert queue.deliver([message], 2_500) == set()
    events = [queue.event([m]) for m in messages[2:]] * times
    answers = queue.invoke_at_once(events, 2_500)
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
