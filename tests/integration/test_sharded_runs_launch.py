"""Sharded runs from request to merged report: the 5,000-URL run split, continued past deadlines
and merged exactly once; the HTTP API's 202, progress and results; what is refused; and the
template's wiring of the shard queue.

Everything goes through the real Lambda handler against moto in server mode (S3, DynamoDB
and SQS, created from template.yaml) and the demo target on 127.0.0.1, the shard queue driven
as Lambda's event source mapping drives it (``tests.support.sharding``).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from devtools.demo_target import DemoTarget
from devtools.local_aws import resolve_ref
from fanout.config import get_settings
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
    open_connections_after,
    problem_of,
    record_of,
)

SETTINGS = get_settings()
pytestmark = SHARDED


# -- the 5,000-URL run -------------------------------------------------------------------------


def expected_outcome(url: str) -> str:
    return "http_error" if "/status/404" in url else "ok"


def five_thousand_urls(t: DemoTarget) -> list[str]:
    """Most URLs answer at once; every 100th is a 404; in the first three shards every 100th
    (offset 50) takes 1.5 s: longer than a first-generation shard fetches."""
    urls = []
    for i in range(5_000):
        if i % 100 == 0:
            urls.append(t.url(f"/status/404?i={i}"))
        elif i % 100 == 50 and i < 1_500:
            urls.append(t.url(f"/ok?delay_ms=1500&i={i}"))
        else:
            urls.append(t.url(f"/ok?i={i}"))
    return urls


def check_every_url_merged_once(run: dict[str, Any], urls: list[str]) -> None:
    """The merged results of the 5,000-URL run: each URL's result once, in input order, as fetched."""
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


def test_a_5000_url_run_is_split_continued_past_deadlines_and_merged_exactly_once(
    deployed: Deployment, aws: MotoAws, queue: Queue, fresh_target: DemoTarget
) -> None:
    t = fresh_target
    urls = five_thousand_urls(t)  # 50 of them 404s, 15 slower than a first-generation shard fetches
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
    check_every_url_merged_once(run, urls)
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


# -- refusals ----------------------------------------------------------------------------------


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


# -- the template and the code agree -----------------------------------------------------------


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
