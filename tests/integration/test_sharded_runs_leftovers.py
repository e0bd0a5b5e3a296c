"""What becomes of the URLs a deadline cuts: given up past the last generation or after a whole
shard in flight, fetched again by a generation with more time, continued in shards of the run's
own ``shard_size``, and carried over from an inline run (or listed, without ``carry_over``).

Through the real Lambda handler against moto in server mode and the demo target on 127.0.0.1,
the shard queue driven as Lambda's event source mapping drives it (``tests.support.sharding``).
"""

from __future__ import annotations

import json

from devtools.demo_target import DemoTarget
from tests.support import (
    SHARDED,
    Deployment,
    MotoAws,
    Queue,
    call,
    get_run,
    open_connections_after,
    receive_all,
)

pytestmark = SHARDED


# -- generations are bounded -------------------------------------------------------------------


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


# -- a run's shard_size ------------------------------------------------------------------------


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
