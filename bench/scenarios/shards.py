"""Sharded cost: what URLs that never answer cost a sharded run, in invocation-seconds.

One run of ``shards_n`` URLs (``/ok?delay_ms=D``: slow pages) in shards of ``shards_size``,
``mode: sharded``, through the Lambda runtime emulator (``devtools.rie``, function timeout
``shards_timeout_s``) on moto (``devtools.local_aws``: the template's bucket, runs table and shard
queue, in this process). The queue is drained as the event source mapping drives it (batch size
1, one invocation at a time): every message received is handed to the function in the SQS event
shape, deleted, or made visible again when reported in ``batchItemFailures``. Every invocation
(the launch included) is counted with its wall time through the emulator: invocation-seconds are
what Lambda bills.

- ``hanging``: every 100th URL (offset 50) is ``/hang`` (never answers), ``request_timeout_s``
  longer than any shard can wait. Goal: <= 1.3x the invocation-seconds of the anchor (issue 26:
  every generation's leftovers go on as one continuation).
- ``anchor``: the same run without them (those URLs are slow pages like the rest).

Both must end ``complete`` with every URL exactly once, in input order (read back from the run's
report in S3); the hanging ones ``cancelled`` with ``error.type`` ``given_up``. One inline run of a
URL warms the emulator first, not counted: otherwise the anchor alone would pay the function's
import (its launch the first invocation), flattering every ratio against it.
"""

from __future__ import annotations

import gzip
import json
import time
from typing import Any

from bench.common import BenchError, Row, ScenarioResult, Target
from bench.config import BenchConfig

GOAL_RATIO = 1.3
MAX_DELIVERIES = 100  # bounded drain


def _urls(cfg: BenchConfig, base: str, hanging: bool) -> list[str]:
    urls = []
    for i in range(cfg.shards_n):
        if hanging and i % 100 == 50:
            urls.append(f"{base}/hang?i={i}")
        else:
            urls.append(f"{base}/ok?delay_ms={cfg.shards_delay_ms}&i={i}")
    return urls


def function_env(aws: Any, shard_size: int) -> dict[str, str]:
    """The function's environment on ``aws`` (moto): its stores, its shard queue, its shard size."""
    import os

    from devtools.local_aws import CREDENTIALS

    res = aws.resources
    return {
        **CREDENTIALS,
        "AWS_ENDPOINT_URL": aws.endpoint,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "REPORTS_BUCKET_NAME": res.bucket,
        "RUNS_TABLE_NAME": res.runs_table,
        "SHARD_QUEUE_URL": res.shard_queue_url,
        "IDEMPOTENCY_TABLE_NAME": "",
        "FANOUT_SHARD_SIZE": str(shard_size),
        # moto (a thread of the bench process) is slower than AWS: no store call may time out.
        "FANOUT_STORE_READ_TIMEOUT_S": "5",
        "POWERTOOLS_LOG_LEVEL": "ERROR",
    }


class Drive:
    """The emulator and the shard queue: invocations counted with their wall time."""

    def __init__(self, rie: Any, sqs: Any, queue_url: str, queue_arn: str) -> None:
        self.rie, self.sqs, self.url, self.arn = rie, sqs, queue_url, queue_arn
        self.invocations: list[dict[str, Any]] = []

    def invoke(self, event: dict[str, Any], what: str) -> Any:
        started = time.perf_counter()
        payload, _ = self.rie.invoke(event, http_timeout_s=120)
        self.invocations.append({"what": what, "s": time.perf_counter() - started})
        return payload

    def drain(self, max_deliveries: int = MAX_DELIVERIES) -> None:
        """Hand every message to the function, one per invocation, until the queue is empty."""
        for _ in range(max_deliveries):
            got = self.sqs.receive_message(
                QueueUrl=self.url, MaxNumberOfMessages=1, AttributeNames=["All"], WaitTimeSeconds=0
            ).get("Messages", [])
            if not got:
                return
            m = got[0]
            record = {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": {k: m["Attributes"][k] for k in ("ApproximateReceiveCount", "SentTimestamp")},
                "messageAttributes": {},
                "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": self.arn,
                "awsRegion": "us-east-1",
            }
            shard = json.loads(m["Body"]).get("shard", "?")
            response = self.invoke({"Records": [record]}, f"shard {shard}")
            failed = {f["itemIdentifier"] for f in (response or {}).get("batchItemFailures", [])}
            if m["MessageId"] in failed:
                self.sqs.change_message_visibility(
                    QueueUrl=self.url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0
                )
            else:
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=m["ReceiptHandle"])
        raise BenchError(f"the shard queue did not empty in {max_deliveries} deliveries")


def read_report(aws: Any, run_id: str) -> dict[str, Any]:
    from fanout.aws.codec import from_attr

    item = aws.client("dynamodb").get_item(
        TableName=aws.resources.runs_table, Key={"run_id": {"S": run_id}}, ConsistentRead=True
    )["Item"]
    record = {k: from_attr(v) for k, v in item.items()}
    if record.get("status") != "complete":
        raise BenchError(f"run {run_id} is {record.get('status')}, not complete")
    body = aws.client("s3").get_object(Bucket=aws.resources.bucket, Key=record["report"]["key"])["Body"]
    data = body.read()
    report: dict[str, Any] = json.loads(gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data)
    return report


def _one_run(cfg: BenchConfig, target: Target, aws: Any, drive: Drive, hanging: bool) -> dict[str, Any]:
    urls = _urls(cfg, target.base_url(), hanging)
    options = {
        "concurrency": cfg.shards_concurrency,
        "per_host_concurrency": cfg.shards_concurrency,
        "request_timeout_s": 30,
        "retries": 0,
    }
    drive.invocations = []
    answer = drive.invoke({"urls": urls, "mode": "sharded", "options": options}, "launch")
    if not isinstance(answer, dict) or answer.get("mode") != "sharded":
        raise BenchError(f"the launch did not shard: {str(answer)[:300]}")
    drive.drain()
    report = read_report(aws, answer["run_id"])
    results = report["results"]
    exact = [r["url"] for r in results] == urls
    hung = [r for r in results if "/hang" in r["url"]]
    return {
        "invocations": drive.invocations,
        "invocation_s": sum(i["s"] for i in drive.invocations),
        "exactly_once": exact,
        "summary": report["summary"],
        "given_up": report.get("given_up", 0),
        "hanging_given_up": sum((r.get("error") or {}).get("type") == "given_up" for r in hung),
        "hanging": len(hung),
    }


def _by_generation(res: dict[str, Any]) -> str:
    """Invocation-seconds by what was invoked: the launch, each generation's shards."""
    spent: dict[str, float] = {}
    for invocation in res["invocations"]:
        what = invocation["what"]
        key = what if what == "launch" else "g" + what.rpartition("-g")[2]
        spent[key] = spent.get(key, 0.0) + invocation["s"]
    return ", ".join(f"{k} {v:.1f} s" for k, v in spent.items())


def run(cfg: BenchConfig, target: Target) -> ScenarioResult:
    from devtools.local_aws import LocalAws
    from devtools.rie import LambdaEmulator

    result = ScenarioResult("shards")
    runs: dict[str, dict[str, Any]] = {}
    with LocalAws() as aws:
        env = function_env(aws, cfg.shards_size)
        with LambdaEmulator(timeout_s=cfg.shards_timeout_s, memory_mb=1024, env=env) as rie:
            drive = Drive(rie, aws.client("sqs"), aws.resources.shard_queue_url,
                           aws.queue_arn(aws.resources.shard_queue_url))  # fmt: skip
            drive.invoke({"urls": [f"{target.base_url()}/ok"]}, "warm-up")  # not counted: see the docstring
            for variant, hanging in (("anchor", False), ("hanging", True)):
                try:
                    runs[variant] = res = _one_run(cfg, target, aws, drive, hanging)
                except BenchError as exc:
                    result.errors.append(f"{variant}: {exc}")
                    continue
                print(
                    f"  shards {variant:8s} {len(res['invocations'])} invocations, "
                    f"{res['invocation_s']:.1f} invocation-s, exactly once: {res['exactly_once']}",
                    flush=True,
                )
    result.raw = {"runs": runs}
    scen = f"sharded {cfg.shards_n} URLs / {cfg.shards_size}, {cfg.shards_timeout_s} s timeout (RIE+moto)"
    anchor = runs.get("anchor")
    for variant, res in runs.items():
        is_goal = variant == "hanging"
        ratio = res["invocation_s"] / anchor["invocation_s"] if anchor and is_goal else None
        passed = None
        if is_goal:
            passed = ratio is not None and ratio <= GOAL_RATIO and res["exactly_once"]
        longest = max(i["s"] for i in res["invocations"])
        note = (
            f"{len(res['invocations'])} invocations (longest {longest:.1f} s; {_by_generation(res)}); "
            f"every URL once: "
            f"{res['exactly_once']}; given up {res['given_up']} (hanging {res['hanging_given_up']}"
            f"/{res['hanging']})"
        )
        result.rows += [
            Row(
                scen,
                variant,
                "invocation-seconds",
                res["invocation_s"],
                "s",
                vs_anchor=ratio,
                goal=f"<= {GOAL_RATIO:g}x anchor, every URL once" if is_goal else "",
                passed=passed,
                note=note,
            ),
            Row(scen, variant, "invocations", float(len(res["invocations"])), ""),
        ]
    return result
