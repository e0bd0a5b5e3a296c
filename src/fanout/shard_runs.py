"""Sharded runs on AWS: the launch, carry-over, the SQS consumer, counts and completion.

README "Scaling out: sharded runs" is the user's view; ``shards`` holds the pure part
(messages, leftovers, the merge). The protocol, per run:

1. **Launch** (``launch``): the run's record is put in DynamoDB (``status`` ``running``,
   ``shards_total`` = the number of shards, ``shards_done`` 0, zero counts), *then* the
   shards are sent to the queue (``SendMessageBatch``, 10 messages and 256 KiB a call).
   A send that fails marks the run ``failed``: shards already sent are then skipped.
2. **A shard** (``consume``, one SQS record, Powertools' ``BatchProcessor``): under its own
   deadline from its own share of the remaining time, it
   a. reads the run's record (consistent read): no record is a poison shard (it fails
      until the queue moves it to the DLQ); a run no longer ``running`` is skipped; a
      shard already counted (its id in ``done_shards``) is a duplicate: step c onwards;
   b. fetches its URLs, unless an earlier delivery left its result object in S3, and
      stores its outcome (final results and leftovers) with a conditional write
      (``If-None-Match: *``): the first delivery's outcome is the shard's, whatever
      duplicates find;
   c. counts that outcome into the record in one conditional ``UpdateItem``: ``ADD``
      outcome counts, ``shards_done`` 1, ``shards_total`` 1 if it has a continuation,
      and its id to ``done_shards``, on condition that the id is not there yet. A
      duplicate cannot count twice;
   d. sends its continuation (leftovers, next generation, a deterministic id): after
      counting, so ``shards_total`` always covers the shards that exist;
   e. when ``shards_done == shards_total``: merges every counted shard's results, writes
      the run's report, and moves the record from ``running`` to ``complete`` with a
      conditional update: the run completes exactly once.
   A failure at any step fails the record; its redelivery resumes from the first step
   not done (b is skipped when the outcome is in S3, c when counted; d and e are
   idempotent).
3. **Carry-over** (``carry_over``): an inline run cut by its deadline becomes a sharded
   run whose pseudo-shard ``inline`` (its final results) is counted from the start.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from aws_lambda_powertools.metrics import MetricUnit

from fanout import problems, shards
from fanout.config import Settings
from fanout.contract import FanoutRequest, Outcome, Source, summarize_outcomes, utc_now_iso
from fanout.deadline import clamp_remaining_ms, compute_deadline
from fanout.observe import awaited_alone, logger, metrics, redact_url
from fanout.problems import ProblemError
from fanout.service import RunContext, run_fanout
from fanout.shards import INLINE_SHARD, RunHeader, RunMode, ShardInvalid, ShardMessage, ShardOutcome
from fanout.store import (
    RUN_KIND,
    TTL_ATTRIBUTE,
    StoreConfig,
    StoreError,
    Stores,
    encode_report,
    from_attr,
    report_key,
    to_attr,
)
from fanout.tracing import run_trace

if TYPE_CHECKING:
    from fanout.tracing import RunTrace

T = TypeVar("T")

RUNNING, COMPLETE, FAILED = "running", "complete", "failed"
SHARDS_DIR = "shards"
MERGE_CONCURRENCY = 16
SEND_ATTEMPTS = 3
CONDITION_FAILED = "ConditionalCheckFailedException"
_HIDDEN = ("done_shards",)
MAX_URL_WARNINGS = 100
_NOT_THE_URLS_DOING = frozenset({Outcome.OK, Outcome.CANCELLED, Outcome.NOT_STARTED})


class ShardsNotSent(RuntimeError):
    """The queue refused some shard messages after every attempt."""


def sharding_on(settings: Settings) -> bool:
    """Sharded runs need the queue, the runs table and the reports bucket."""
    return bool(settings.shard_queue_url and settings.runs_table_name and settings.reports_bucket_name)


def shard_key(run_id: str, started_at: str, shard: str) -> str:
    """``reports/YYYY/MM/DD/<run_id>/shards/<shard>.json.gz``: next to the run's report, under
    the same lifecycle rule and the same least-privilege policy."""
    return f"{report_key(run_id, started_at).removesuffix('.json.gz')}/{SHARDS_DIR}/{shard}.json.gz"


def shard_size(settings: Settings) -> int:
    """URLs per shard: a shard is validated as a request of its own, so at most ``max_urls``."""
    return min(settings.shard_size, settings.max_urls)


def location(run_id: str) -> str:
    return f"/runs/{run_id}"


# -- before a run -------------------------------------------------------------------------


def check_request(mode: str, carry_over: bool, settings: Settings) -> None:
    """A request that needs sharding where it is off is refused before anything runs."""
    if (mode == "sharded" or carry_over) and not sharding_on(settings):
        raise ProblemError(
            problems.sharding_off("'mode': 'sharded'" if mode == "sharded" else "'carry_over'")
        )


def plan(
    request: FanoutRequest,
    source: Source,
    settings: Settings,
    *,
    run_id: str,
    started_at: str,
    loc: str = "urls",
) -> tuple[RunMode, RunHeader]:
    """How ``request`` runs, and its shards' header; entries too large for a message are refused."""
    mode = shards.run_mode(request, source, settings, sharding_on=sharding_on(settings))
    header = RunHeader(
        run_id=run_id, source=source, started_at=started_at, options=request.options.model_dump(mode="json")
    )
    if mode == "sharded" or request.carry_over:
        limit = settings.shard_message_max_bytes
        errors = shards.oversized(header, request.entries(), limit, loc=loc)
        if errors:
            raise ProblemError(problems.entries_too_large(errors, limit))
    return mode, header


# -- the run record ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Run:
    """A sharded run's record, as read or as left by an update."""

    run_id: str
    started_at: str
    status: str
    total: int
    shards_total: int
    shards_done: int
    done: frozenset[str]
    record: dict[str, Any] = field(repr=False)

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Run:
        record = {k: from_attr(v) for k, v in item.items()}
        return cls(
            run_id=record["run_id"],
            started_at=record["started_at"],
            status=str(record.get("status", "")),
            total=int((record.get("summary") or {}).get("total", 0)),
            shards_total=int(record.get("shards_total", 0)),
            shards_done=int(record.get("shards_done", 0)),
            done=frozenset(record.get("done_shards") or ()),
            record=record,
        )

    @property
    def finished(self) -> bool:
        return self.status == RUNNING and self.shards_done == self.shards_total


def new_record(
    header: RunHeader,
    *,
    total: int,
    shards_total: int,
    settings: Settings,
    counts: dict[str, int] | None = None,
    shards_done: int = 0,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "run_id": header.run_id,
        "source": header.source,
        "started_at": header.started_at,
        "mode": "sharded",
        "status": RUNNING,
        "summary": {"total": total} | (counts or summarize_outcomes(())),
        "given_up": 0,
        "shards_total": shards_total,
        "shards_done": shards_done,
        "options": header.options,
        "max_generations": settings.shard_max_generations,
        "report": None,
        "finished_at": None,
        **(extra or {}),
    }


async def put_run(stores: Stores, record: dict[str, Any], *, done: Sequence[str], before: float) -> None:
    """Put a new run record (never over an existing one); ``done`` shards are counted already."""
    expires_at = int(time.time()) + stores.config.retention_days * 86_400
    item = {k: to_attr(v) for k, v in record.items()}
    item |= {"kind": {"S": RUN_KIND}, TTL_ATTRIBUTE: {"N": str(expires_at)}}
    if done:
        item["done_shards"] = {"SS": list(done)}

    async def put() -> None:
        ddb = await stores.client("dynamodb")
        await ddb.put_item(
            TableName=stores.config.runs_table, Item=item, ConditionExpression="attribute_not_exists(run_id)"
        )

    await stores.call("run record", before, put)


async def read_run(stores: Stores, run_id: str, before: float) -> Run | None:
    async def get() -> dict[str, Any] | None:
        ddb = await stores.client("dynamodb")
        response = await ddb.get_item(
            TableName=stores.config.runs_table, Key={"run_id": {"S": run_id}}, ConsistentRead=True
        )
        item: dict[str, Any] | None = response.get("Item")
        return item

    item = await stores.call("run record", before, get)
    return None if item is None else Run.from_item(item)


async def count(stores: Stores, run_id: str, outcome: ShardOutcome, before: float) -> Run | None:
    """Add a shard's outcome to its run, once per shard id: the record after, or None when the
    shard was counted already (a duplicate)."""
    counts = outcome.counts()
    names = {"#summary": "summary"} | {f"#{name}": name for name in counts}
    values: dict[str, Any] = {
        ":one": {"N": "1"},
        ":new": {"N": "1" if outcome.continuation else "0"},
        ":given_up": {"N": str(outcome.given_up)},
        ":ids": {"SS": [outcome.shard]},
        ":id": {"S": outcome.shard},
    } | {f":{name}": {"N": str(n)} for name, n in counts.items()}
    adds = ["shards_done :one", "shards_total :new", "given_up :given_up", "done_shards :ids"]
    adds += [f"#summary.#{name} :{name}" for name in counts]

    async def update() -> dict[str, Any]:
        ddb = await stores.client("dynamodb")
        response: dict[str, Any] = await ddb.update_item(
            TableName=stores.config.runs_table,
            Key={"run_id": {"S": run_id}},
            UpdateExpression="ADD " + ", ".join(adds),
            ConditionExpression="attribute_exists(run_id) AND NOT contains(done_shards, :id)",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ReturnValues="ALL_NEW",
        )
        return response

    try:
        response = await stores.call("run counts", before, update)
    except StoreError as exc:
        if exc.error_type == CONDITION_FAILED:
            return None
        raise
    return Run.from_item(response["Attributes"])


async def transition(
    stores: Stores, run_id: str, *, to: str, sets: dict[str, Any], when_finished: bool, before: float
) -> bool:
    """Move a ``running`` run to ``to`` (with ``when_finished``: only when every shard is
    counted). True for the one caller that made the move."""
    names = {"#status": "status"} | {f"#{k}": k for k in sets}
    values = {":to": {"S": to}, ":running": {"S": RUNNING}} | {f":{k}": to_attr(v) for k, v in sets.items()}
    condition = "#status = :running" + (" AND shards_done = shards_total" if when_finished else "")

    async def update() -> None:
        ddb = await stores.client("dynamodb")
        await ddb.update_item(
            TableName=stores.config.runs_table,
            Key={"run_id": {"S": run_id}},
            UpdateExpression="SET #status = :to" + "".join(f", #{k} = :{k}" for k in sets),
            ConditionExpression=condition,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )

    try:
        await stores.call("run status", before, update)
    except StoreError as exc:
        if exc.error_type == CONDITION_FAILED:
            return False
        raise
    return True


# -- the queue --------------------------------------------------------------------------


async def send(stores: Stores, queue_url: str, bodies: Sequence[str], before: float) -> None:
    """Send shard messages, batched; entries the queue refuses are sent again (a few times)."""

    async def send_batch(entries: list[dict[str, str]]) -> dict[str, Any]:
        sqs = await stores.client("sqs")
        response: dict[str, Any] = await sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
        return response

    for group in shards.batches(bodies):
        pending = {str(i): body for i, body in enumerate(group)}
        for attempt in range(SEND_ATTEMPTS):
            entries = [{"Id": k, "MessageBody": v} for k, v in pending.items()]
            response = await stores.call("shard queue", before, partial(send_batch, entries))
            failed = response.get("Failed") or []
            pending = {f["Id"]: pending[f["Id"]] for f in failed}
            if not pending:
                break
            if attempt + 1 < SEND_ATTEMPTS:
                await asyncio.sleep(0.1 * 2**attempt)
        else:
            reasons = sorted({f"{f.get('Code')}: {f.get('Message')}" for f in failed})
            raise ShardsNotSent(f"{len(pending)} shard message(s) refused by the queue: {'; '.join(reasons)}")
        metrics.add_metric(name="shards_sent", unit=MetricUnit.Count, value=len(group))


async def _start(stores: Stores, settings: Settings, run_id: str, bodies: list[str], before: float) -> None:
    """Send a run's first shards; if that fails, the run is marked failed (its sent shards skip)."""
    try:
        await send(stores, settings.shard_queue_url, bodies, before)
    except (StoreError, ShardsNotSent) as exc:
        logger.warning("shards not sent", extra={"run_id": run_id, "error": str(exc)})
        try:
            await transition(
                stores,
                run_id,
                to=FAILED,
                sets={"error": {"type": type(exc).__name__, "message": str(exc)}},
                when_finished=False,
                before=before,
            )
        except StoreError as again:
            logger.warning("run not marked failed", extra={"run_id": run_id, "error": str(again)})
        raise


# -- launch --------------------------------------------------------------------------------


def _pending(stores: Stores, header: RunHeader) -> dict[str, Any]:
    """The ``persisted`` section of a run still running: the record stored, the report to come."""
    c = stores.config
    return {
        "stored": False,
        "report": {
            "status": "pending",
            "bucket": c.reports_bucket,
            "key": report_key(header.run_id, header.started_at),
        },
        "record": {"status": "stored", "table": c.runs_table},
    }


async def launch(
    request: FanoutRequest,
    header: RunHeader,
    stores: Stores,
    settings: Settings,
    *,
    targets: str | None,
    before: float,
) -> dict[str, Any]:
    """Start a sharded run: its record, then its shards. The answer points at ``GET /runs/{id}``."""
    indexed = [(i, shards.encode_entry(e)) for i, e in enumerate(request.entries())]
    messages = shards.split(
        header, indexed, shard_size=shard_size(settings), max_bytes=settings.shard_message_max_bytes
    )
    extra = {"targets": targets} if targets else {}
    record = new_record(
        header, total=len(indexed), shards_total=len(messages), settings=settings, extra=extra
    )
    try:
        await put_run(stores, record, done=(), before=before)
        await _start(stores, settings, header.run_id, [m.body() for m in messages], before)
    except (StoreError, ShardsNotSent) as exc:
        raise ProblemError(problems.shards_not_started(f"run {header.run_id}: {exc}")) from None
    logger.info(
        "sharded run started",
        extra={
            "run_id": header.run_id,
            "source": header.source,
            "urls": len(indexed),
            "shards": len(messages),
        },
    )
    metrics.add_dimension(name="source", value=header.source)
    metrics.add_metric(name="sharded_runs_started", unit=MetricUnit.Count, value=1)
    return {
        "run_id": header.run_id,
        "source": header.source,
        "started_at": header.started_at,
        "mode": "sharded",
        "status": RUNNING,
        **extra,
        "summary": record["summary"],
        "shards_total": len(messages),
        "shards_done": 0,
        "location": location(header.run_id),
        "persisted": _pending(stores, header),
    }


# -- carry-over of an inline run -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Carried:
    """What carrying an inline run's leftovers over did: the ``persisted`` section of its answer
    and its ``continuation`` (None when it could not be carried over, ``error`` says why)."""

    persisted: dict[str, Any]
    continuation: dict[str, Any] | None
    error: dict[str, str] | None = None


async def carry_over(
    document: dict[str, Any],
    request: FanoutRequest,
    header: RunHeader,
    leftovers: Sequence[int],
    stores: Stores,
    settings: Settings,
    *,
    before: float,
) -> Carried:
    """Finish an inline run's ``leftovers`` as a sharded continuation of the same run.

    Its final results become the counted pseudo-shard ``inline``; its leftovers, shards of
    generation 1. If that cannot be set up, the run is persisted as an ordinary inline run
    (the ``error`` says why): shards already sent then find no running record and skip.
    """
    if settings.shard_max_generations < 1:  # no continuation is allowed at all
        error = {"type": "no_generations", "message": "FANOUT_SHARD_MAX_GENERATIONS is 0"}
        return Carried(await stores.persist(document, finished_at=utc_now_iso(), before=before), None, error)
    entries = request.entries()
    cut = set(leftovers)
    results = document["results"]
    inline = ShardOutcome(
        shard=INLINE_SHARD,
        generation=0,
        results=tuple((i, r) for i, r in enumerate(results) if i not in cut),
        leftovers=tuple((i, shards.encode_entry(entries[i])) for i in leftovers),
        continuation=None,
        given_up=0,
    )
    messages = shards.split(
        header,
        inline.leftovers,
        shard_size=shard_size(settings),
        max_bytes=settings.shard_message_max_bytes,
        generation=1,
    )
    extra = {"carried_over": len(leftovers)} | (
        {"targets": document["targets"]} if "targets" in document else {}
    )
    record = new_record(
        header,
        total=len(results),
        shards_total=1 + len(messages),
        shards_done=1,
        counts=inline.counts(),
        settings=settings,
        extra=extra,
    )
    try:
        if not await stores.put_report_once(
            shard_key(header.run_id, header.started_at, INLINE_SHARD), inline.to_json(), before
        ):
            raise StoreError("the run's inline results were stored already", error_type="Conflict")
        await put_run(stores, record, done=(INLINE_SHARD,), before=before)
        await _start(stores, settings, header.run_id, [m.body() for m in messages], before)
    except (StoreError, ShardsNotSent) as exc:
        logger.warning("leftovers not carried over", extra={"run_id": header.run_id, "error": str(exc)})
        metrics.add_metric(name="carry_over_failures", unit=MetricUnit.Count, value=1)
        error = {"type": getattr(exc, "error_type", type(exc).__name__), "message": str(exc)}
        # An ordinary inline run after all: this record replaces the running one.
        return Carried(await stores.persist(document, finished_at=utc_now_iso(), before=before), None, error)
    metrics.add_metric(name="runs_carried_over", unit=MetricUnit.Count, value=1)
    logger.info(
        "leftovers carried over",
        extra={"run_id": header.run_id, "leftovers": len(leftovers), "shards": len(messages)},
    )
    continuation = {
        "status": RUNNING,
        "urls": len(leftovers),
        "shards": len(messages),
        "location": location(header.run_id),
    }
    return Carried(_pending(stores, header), continuation)


# -- the consumer ----------------------------------------------------------------------------


def consume(event: dict[str, Any], context: Any, settings: Settings) -> dict[str, Any]:
    """Process an SQS batch of shards; failed records are reported (``batchItemFailures``).

    Records run one after the other, each in its own event loop under its own deadline: its
    share of the time remaining when it starts (all of it with the template's batch size 1).
    Powertools' ``AsyncBatchProcessor`` is not used: it gathers the records in one loop and,
    on Lambda, runs them in a loop it never closes.
    """
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    left = len(event.get("Records") or ())

    def record_handler(record: SQSRecord) -> str:
        nonlocal left
        share, left = max(left, 1), left - 1
        started = time.monotonic()
        remaining_ms = clamp_remaining_ms(context.get_remaining_time_in_millis()) / share
        receives = record.attributes.approximate_receive_count
        try:
            return process_shard(record.body, started=started, remaining_ms=remaining_ms, settings=settings)
        except Exception as exc:
            logger.warning(
                "shard failed: the queue delivers it again (or moves it to the dead-letter queue)",
                extra={"message_id": record.message_id, "receive_count": receives, "error": repr(exc)},
            )
            metrics.add_metric(name="shard_failures", unit=MetricUnit.Count, value=1)
            raise

    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    return dict(response)


@dataclass(frozen=True, slots=True)
class ShardReport:
    status: str  # processed | recovered | duplicate | skipped
    outcome: ShardOutcome | None = None
    document: dict[str, Any] | None = None


def process_shard(body: str, *, started: float, remaining_ms: float, settings: Settings) -> str:
    """One shard message, start to finish, in its own event loop; raises to be delivered again."""
    message = shards.parse_message(body)
    if not sharding_on(settings):
        raise ShardInvalid("a shard arrived, but this deployment has sharding off")
    with run_trace("## fanout shard", n_urls=len(message.entries), source=message.header.source) as trace:
        report = asyncio.run(
            awaited_alone(_process(message, started, remaining_ms, settings, trace), "shard")
        )
    slack_ms = remaining_ms - (time.monotonic() - started) * 1000
    _report(message, report, slack_ms)
    return report.status


async def _process(
    message: ShardMessage, started: float, remaining_ms: float, settings: Settings, trace: RunTrace
) -> ShardReport:
    h = message.header
    request = message.request()
    deadline = compute_deadline(remaining_ms, n_urls=len(message.entries), settings=settings, now=started)
    finish_s = min(settings.shard_finish_budget_s, deadline.budget_s / 2)
    fanout_at, end_at = deadline.at - finish_s, deadline.at
    key = shard_key(h.run_id, h.started_at, message.shard)
    async with Stores(StoreConfig.from_settings(settings)) as stores:
        await stores.open(s3=True, dynamodb=True, before=fanout_at)
        run = await read_run(stores, h.run_id, end_at)
        if run is None:
            raise ShardInvalid(f"run {h.run_id} has no record (never started, or expired)")
        if run.status != RUNNING:
            return ShardReport("skipped")
        if message.shard in run.done:  # counted already: only what follows counting is left
            outcome = await _stored_outcome(stores, key, end_at)
            await _follow_up(stores, settings, h, outcome, run, end_at)
            return ShardReport("duplicate", outcome)
        status, document = "recovered", None
        found = await stores.find_report(key, fanout_at)
        if found is None:
            budget_s = max(0.0, deadline.budget_s - finish_s)
            ctx = RunContext(
                source=h.source,
                deadline=fanout_at,
                budget_s=budget_s,
                run_id=h.run_id,
                started_at=h.started_at,
            )
            document = await run_fanout(request, ctx, settings=settings, trace=trace)
            outcome = shards.shard_outcome(
                message, request.entries(), document, max_generations=settings.shard_max_generations
            )
            status = "processed"
            if not await stores.put_report_once(key, outcome.to_json(), end_at):
                outcome, status = await _stored_outcome(stores, key, end_at), "recovered"
        else:
            outcome = ShardOutcome.from_json(found)
        counted = await count(stores, h.run_id, outcome, end_at)
        if counted is None:  # another delivery counted it meanwhile
            status = "duplicate"
            counted = await read_run(stores, h.run_id, end_at)
            if counted is None:
                raise ShardInvalid(f"run {h.run_id} has no record any more")
        await _follow_up(stores, settings, h, outcome, counted, end_at)
        return ShardReport(status, outcome, document)


async def _stored_outcome(stores: Stores, key: str, before: float) -> ShardOutcome:
    found = await stores.find_report(key, before)
    if found is None:
        raise shards.MergeError(f"{key} is missing")
    return ShardOutcome.from_json(found)


async def _follow_up(
    stores: Stores, settings: Settings, header: RunHeader, outcome: ShardOutcome, run: Run, before: float
) -> None:
    """What follows counting a shard: its continuation, and the run's completion if it was the last."""
    following = shards.continuation(header, outcome)
    if following is not None and following.shard not in run.done:
        await send(stores, settings.shard_queue_url, [following.body()], before)
        metrics.add_metric(name="shard_continuations", unit=MetricUnit.Count, value=1)
    if run.finished:
        await complete(stores, run, before)


async def _gather_bounded(coros: Sequence[Coroutine[Any, Any, T]], limit: int) -> list[T]:
    """Await ``coros`` at most ``limit`` at a time, results in order; the first failure cancels
    (and awaits) the rest and is raised as itself."""
    slots = asyncio.Semaphore(limit)
    results: list[T] = []

    async def one(coro: Coroutine[Any, Any, T]) -> T:
        async with slots:
            return await coro

    tasks = [asyncio.ensure_future(one(c)) for c in coros]
    try:
        for task in tasks:
            results.append(await task)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return results


def _elapsed_ms(started_at: str, finished_at: str) -> float:
    def parse(text: str) -> datetime:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))

    return round((parse(finished_at) - parse(started_at)).total_seconds() * 1000, 1)


async def complete(stores: Stores, run: Run, before: float) -> bool:
    """Merge a finished run's shards into its report; mark it complete, once (True for the caller
    that did)."""
    keys = [shard_key(run.run_id, run.started_at, shard) for shard in sorted(run.done)]
    found = await _gather_bounded([stores.find_report(k, before) for k in keys], MERGE_CONCURRENCY)
    missing = [k for k, f in zip(keys, found, strict=True) if f is None]
    if missing:
        raise shards.MergeError(f"{len(missing)} counted shard(s) have no results, e.g. {missing[0]}")
    outcomes = [ShardOutcome.from_json(f) for f in found if f is not None]
    results = shards.merge(run.total, outcomes)
    finished_at = utc_now_iso()
    given_up = sum(o.given_up for o in outcomes)
    record = run.record
    document: dict[str, Any] = {
        "run_id": run.run_id,
        "source": record["source"],
        "started_at": run.started_at,
        "finished_at": finished_at,
        "mode": "sharded",
        "status": COMPLETE,
        "elapsed_ms": _elapsed_ms(run.started_at, finished_at),
        "deadline_reached": given_up > 0,
        "stopped_on_error": False,
        "shards_total": run.shards_total,
        "given_up": given_up,
        **{k: record[k] for k in ("targets", "carried_over") if k in record},
        "summary": {"total": len(results)} | summarize_outcomes(r["outcome"] for r in results),
        "results": results,
    }
    key = report_key(run.run_id, run.started_at)
    await stores.put_report(key, encode_report(document), before)
    sets = {
        "finished_at": finished_at,
        "elapsed_ms": document["elapsed_ms"],
        "deadline_reached": document["deadline_reached"],
        "report": {"bucket": stores.config.reports_bucket, "key": key},
    }
    if not await transition(stores, run.run_id, to=COMPLETE, sets=sets, when_finished=True, before=before):
        return False
    logger.info(
        "sharded run complete",
        extra={"run_id": run.run_id, "summary": document["summary"], "shards": run.shards_total},
    )
    metrics.add_metric(name="sharded_runs_completed", unit=MetricUnit.Count, value=1)
    return True


def _report(message: ShardMessage, report: ShardReport, slack_ms: float) -> None:
    """The shard's log line and metrics. URL metrics count final results only (once per URL)."""
    h = message.header
    extra: dict[str, Any] = {
        "run_id": h.run_id,
        "shard": message.shard,
        "generation": message.generation,
        "status": report.status,
        "deadline_slack_ms": round(slack_ms, 1),
    }
    metrics.add_dimension(name="source", value=h.source)
    metrics.add_metric(name=f"shards_{report.status}", unit=MetricUnit.Count, value=1)
    outcome = report.outcome
    if outcome is not None and report.status != "duplicate":
        counts = outcome.counts()
        extra |= {"counts": counts, "leftovers": len(outcome.leftovers), "given_up": outcome.given_up}
        for name, n in counts.items():
            metrics.add_metric(name=f"urls_{name}", unit=MetricUnit.Count, value=n)
        if outcome.given_up:
            metrics.add_metric(name="urls_given_up", unit=MetricUnit.Count, value=outcome.given_up)
        warned = 0
        for index, result in outcome.results:
            # As for an inline run (observe.report_run): the URL's own failures, a bounded number.
            if result["outcome"] in _NOT_THE_URLS_DOING or warned >= MAX_URL_WARNINGS:
                continue
            warned += 1
            logger.warning(
                "url did not succeed",
                extra={
                    "run_id": h.run_id,
                    "shard": message.shard,
                    "index": index,
                    "url": redact_url(result["url"]),
                    "outcome": result["outcome"],
                    "status_code": result["status_code"],
                    "error": result["error"],
                    "attempts": result["attempts"],
                },
            )
    if report.document is not None:
        extra |= {
            "elapsed_ms": report.document["elapsed_ms"],
            "budget_ms": report.document["budget_ms"],
            "deadline_reached": report.document["deadline_reached"],
        }
        metrics.add_metric(
            name="run_duration", unit=MetricUnit.Milliseconds, value=report.document["elapsed_ms"]
        )
    metrics.add_metric(name="deadline_slack", unit=MetricUnit.Milliseconds, value=slack_ms)
    logger.info("shard finished", extra=extra)


# -- reading runs back ------------------------------------------------------------------------


def public_view(record: dict[str, Any]) -> dict[str, Any]:
    """A record as ``GET /runs`` shows it: a sharded run's progress, without its bookkeeping."""
    view = {k: v for k, v in record.items() if k not in _HIDDEN}
    if view.get("mode") == "sharded":
        summary = view.get("summary") or {}
        view["progress"] = {
            "shards_done": view.get("shards_done", 0),
            "shards_total": view.get("shards_total", 0),
            "urls_done": sum(n for k, n in summary.items() if k != "total"),
            "urls_total": summary.get("total", 0),
        }
    return view


def without_results(record: dict[str, Any]) -> bool:
    """A sharded run still running (or that failed to start) has progress, not results."""
    return record.get("mode") == "sharded" and record.get("status") in (RUNNING, FAILED)
