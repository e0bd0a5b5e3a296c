"""Starting a sharded run: its plan and its launch.

The run's record is put in DynamoDB (``status`` ``running``, ``shards_total`` = the number of
shards, ``shards_done`` 0, zero counts), *then* the shards are sent to the queue. A send that
fails marks the run ``failed``: shards already sent are then skipped.
"""

from __future__ import annotations

from fanout.aws.reports import report_key
from fanout.config import Settings
from fanout.core.documents import (
    SHARDED,
    Persisted,
    RunDocument,
    RunStatus,
    Source,
    StoreOutcome,
    StoreStatus,
)
from fanout.core.records import Generations, RunRecord
from fanout.core.requests import FanoutRequest
from fanout.core.results import Summary
from fanout.errors import EntriesTooLarge, ShardingOff, ShardsNotStarted, StoreError
from fanout.observability.log import logger
from fanout.runs import report
from fanout.runs.shards.plan import (
    RunHeader,
    RunMode,
    encoded_entries,
    oversized,
    run_mode,
    shard_size,
    split,
)
from fanout.runs.shards.rates import paced, rate_shared
from fanout.runs.stores import RunStores, StoreConfig


def location(run_id: str) -> str:
    return f"/runs/{run_id}"


def check_request(mode: str, carry_over: bool, config: StoreConfig) -> None:
    """A request that needs sharding where it is off is refused before anything runs."""
    if (mode == "sharded" or carry_over) and not config.sharding_on:
        raise ShardingOff("'mode': 'sharded'" if mode == "sharded" else "'carry_over'")


def plan(
    request: FanoutRequest, header: RunHeader, settings: Settings, *, sharding_on: bool, loc: str = "urls"
) -> RunMode:
    """How ``request`` runs; entries too large for a shard message are refused."""
    mode = run_mode(request, header.source, settings, sharding_on=sharding_on)
    if mode == "sharded" or request.carry_over:
        limit = settings.shard_message_max_bytes
        errors = oversized(header, encoded_entries(request), limit, loc=loc)
        if errors:
            detail = f"{len(errors)} entr(ies) too large for a shard message of at most {limit} bytes"
            raise EntriesTooLarge(detail, errors)
    return mode


def new_record(
    header: RunHeader,
    settings: Settings,
    *,
    summary: Summary,
    shards_total: int,
    shards_done: int = 0,
    targets: str | None = None,
    carried_over: int | None = None,
    done: frozenset[str] = frozenset(),
    generation: int = 0,
) -> RunRecord:
    """A running sharded run's record: every shard of ``generation`` sent (the counted ones
    included: a carried-over run's ``inline``)."""
    document = RunDocument(
        run_id=header.run_id,
        source=header.source,
        started_at=header.started_at,
        mode=SHARDED,
        status=RunStatus.RUNNING,
        summary=summary,
        given_up=0,
        shards_total=shards_total,
        shards_done=shards_done,
        targets=targets,
        carried_over=carried_over,
    )
    return RunRecord(
        document,
        options=header.options,
        max_generations=settings.shard_max_generations,
        done_shards=done,
        generations=Generations(sent=shards_total, generation=generation),
        monitor=header.monitor,
        observation_key=header.observation_key,
        scheduled_at=header.scheduled_at,
    )


def pending(stores: RunStores, header: RunHeader) -> Persisted:
    """The ``persisted`` section of a run still running: the record stored, the report to come."""
    c = stores.config
    key = report_key(header.run_id, header.started_at)
    return Persisted(
        StoreOutcome(StoreStatus.PENDING, bucket=c.reports_bucket, key=key),
        StoreOutcome(StoreStatus.STORED, table=c.runs_table),
    )


async def start(stores: RunStores, run_id: str, bodies: list[str], before: float) -> None:
    """Send a run's first shards; if that fails, the run is marked failed (its sent shards skip)."""
    assert stores.queue is not None
    assert stores.runs is not None
    try:
        await stores.queue.send(bodies, before)
    except StoreError as exc:
        logger.warning("shards not sent", extra={"run_id": run_id, "error": str(exc)})
        error = {"type": type(exc).__name__, "message": str(exc)}
        try:
            await stores.runs.transition(
                run_id, to=RunStatus.FAILED, sets={"error": error}, when_finished=False, before=before
            )
        except StoreError as again:
            logger.warning("run not marked failed", extra={"run_id": run_id, "error": str(again)})
        raise
    report.count("shards_sent", len(bodies))


async def launch(
    request: FanoutRequest,
    header: RunHeader,
    stores: RunStores,
    settings: Settings,
    *,
    targets: str | None,
    before: float,
) -> RunDocument:
    """Start a sharded run: its record, then its shards. The answer points at ``GET /runs/{id}``."""
    assert stores.runs is not None
    indexed = list(enumerate(encoded_entries(request)))
    messages = split(
        header,
        indexed,
        shard_size=shard_size(settings, request.options),
        max_bytes=settings.shard_message_max_bytes,
    )
    if paced(request):
        messages = rate_shared(messages, settings.shard_max_concurrency)
    summary = Summary.of((), total=len(indexed))
    record = new_record(header, settings, summary=summary, shards_total=len(messages), targets=targets)
    try:
        await stores.runs.put_new(record, before)
        await start(stores, header.run_id, [m.body() for m in messages], before)
    except StoreError as exc:
        raise ShardsNotStarted(f"run {header.run_id}: {exc}") from None
    logger.info(
        "sharded run started",
        extra={
            "run_id": header.run_id,
            "source": header.source.value,
            "urls": len(indexed),
            "shards": len(messages),
            "rate_shared_by": messages[0].header.rate_shared_by if messages else 1,
        },
    )
    report.dimension_source(header.source)
    report.count("sharded_runs_started")
    # The answer is the record as it was put, pointing at GET /runs/{run_id}.
    return record.document.replaced(
        given_up=None, location=location(header.run_id), persisted=pending(stores, header)
    )


def header_for(
    request: FanoutRequest,
    source: Source,
    run_id: str,
    started_at: str,
    *,
    observation_key: str | None = None,
) -> RunHeader:
    return RunHeader(
        run_id=run_id,
        source=source,
        started_at=started_at,
        options=request.options,
        monitor=request.monitor,
        observation_key=observation_key,
        scheduled_at=request.scheduled_at,
    )
