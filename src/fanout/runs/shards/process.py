"""One shard (one SQS message) of a sharded run, start to finish, under its own deadline.

a. Read the run's record (consistent read) and, at the same time, look for the outcome an
   earlier delivery stored: no record is a poison shard (it fails until the queue moves it to
   the DLQ); a run no longer ``running`` is skipped; a shard already counted (its id in
   ``done_shards``) is a duplicate: step c onwards.
b. Fetch its URLs, unless an earlier delivery left its outcome in S3, and store the outcome
   (final results and leftovers) with a conditional write: the first delivery's outcome is
   the shard's, whatever duplicates find. Entries that were in flight, when an earlier
   generation was cut, for more than half of what this one can give them are given up unfetched.
c. Store its leftovers, if it has any, for its generation's continuation (``gather``), then
   count its outcome into the record (``RunsTable.count_shard``: once per shard id; a cut shard
   also holds a place in ``shards_total``, so the run cannot complete before its leftovers).
d. When every shard of the generation is counted: with leftovers, gather them all into one
   continuation (the next generation; ``gather``); without, complete the run (``complete``).

A failure at any step fails the message; its redelivery resumes from the first step not
done (b is skipped when the outcome is in S3, c when counted; d is idempotent, and the
collector's redelivery sends again what of its continuation is not counted yet). A run
recorded before leftovers were gathered (no ``generations`` in its record) continues each
shard's leftovers as that shard's own continuation, as it did.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fanout.aws.reports import Reports, shard_key
from fanout.config import Settings
from fanout.core.budget import InvocationClock, RunDeadline
from fanout.core.documents import RunDocument, RunStatus
from fanout.core.records import RunRecord
from fanout.core.requests import FanoutRequest
from fanout.errors import MergeError, ShardInvalid
from fanout.observability.tracing import RunTrace, run_trace
from fanout.runs import report
from fanout.runs.fetch_run import RunContext, fetch_run
from fanout.runs.invocation import Invocation
from fanout.runs.shards.complete import complete
from fanout.runs.shards.gather import gather, send_again, store_leftovers
from fanout.runs.shards.outcome import (
    ShardOutcome,
    ShardReport,
    continuation,
    give_up_held,
    shard_outcome,
)
from fanout.runs.shards.plan import RunHeader, ShardMessage, fits, parse_message
from fanout.runs.stores import RunStores, StoreConfig


def process_shard(body: str, invocation: Invocation, clock: InvocationClock) -> str:
    """One shard message, in the invocation's loop, under ``clock``; raises to be delivered again."""
    settings = invocation.settings
    message = parse_message(body)
    config = StoreConfig.from_settings(settings)
    if not config.sharding_on:
        raise ShardInvalid("a shard arrived, but this deployment has sharding off")
    with run_trace("## fanout shard", n_urls=len(message.entries), source=message.header.source) as trace:
        done = invocation.run(_process(message, clock, config, settings, trace), "shard")
    report.report_shard(message, done, slack_ms=clock.slack_ms(time.monotonic()))
    return done.status


async def _stored_outcome(reports: Reports, key: str, before: float) -> ShardOutcome:
    found = await reports.find(key, before)
    if found is None:
        raise MergeError(f"{key} is missing")
    return ShardOutcome.from_json(found)


async def _record_and_outcome(
    stores: RunStores, run_id: str, key: str, deadline: RunDeadline
) -> tuple[RunRecord | None, dict[str, Any] | None]:
    """The run's record (consistent read) and the shard's stored outcome, if an earlier delivery
    left one: read at once, not one after the other (a round trip less per shard).

    Either read may be older than the other; the steps that follow are conditional writes, so
    any order of the two is one the reads could have had one after the other."""
    assert stores.runs is not None
    assert stores.reports is not None
    try:
        async with asyncio.TaskGroup() as group:
            record = group.create_task(stores.runs.get(run_id, deadline.work_by, consistent=True))
            outcome = group.create_task(stores.reports.find(key, deadline.fetch_by))
    except* Exception as failed:  # the first failure as itself (the other read is cancelled)
        raise failed.exceptions[0] from None
    return record.result(), outcome.result()


async def _process(
    message: ShardMessage, clock: InvocationClock, config: StoreConfig, settings: Settings, trace: RunTrace
) -> ShardReport:
    h = message.header
    request = message.request()
    deadline = clock.deadline(len(message.entries), settings, persist_s=settings.shard_finish_budget_s)
    key = shard_key(h.run_id, h.started_at, message.shard)
    async with RunStores(config) as stores:
        assert stores.runs is not None
        assert stores.reports is not None
        await stores.open(before=deadline.fetch_by)
        run, found = await _record_and_outcome(stores, h.run_id, key, deadline)
        if run is None:
            raise ShardInvalid(f"run {h.run_id} has no record (never started, or expired)")
        if run.status is not RunStatus.RUNNING:
            return ShardReport("skipped")
        if message.shard in run.done_shards:  # counted already: only what follows counting is left
            if found is None:  # looked for before another delivery stored it
                outcome = await _stored_outcome(stores.reports, key, deadline.work_by)
            else:
                outcome = ShardOutcome.from_json(found)
            await _follow_up(stores, message, outcome, run, settings, deadline.work_by)
            return ShardReport("duplicate", outcome)
        status, document = "recovered", None
        if found is None:
            outcome, document = await _fetch(message, request, deadline, settings, trace)
            status = "processed"
            if not await stores.reports.put_once(key, outcome.payload(), deadline.work_by):
                outcome, status = await _stored_outcome(stores.reports, key, deadline.work_by), "recovered"
        else:
            outcome = ShardOutcome.from_json(found)
        if outcome.leftovers and run.generations is not None:
            await store_leftovers(stores, h, outcome, deadline.work_by)
        counted = await stores.runs.count_shard(
            h.run_id,
            outcome.shard,
            outcome.counts(),
            given_up=outcome.given_up,
            continued=outcome.continuation is not None,
            before=deadline.work_by,
        )
        if counted is None:  # another delivery counted it meanwhile
            status = "duplicate"
            counted = await stores.runs.get(h.run_id, deadline.work_by, consistent=True)
            if counted is None:
                raise ShardInvalid(f"run {h.run_id} has no record any more")
        await _follow_up(stores, message, outcome, counted, settings, deadline.work_by)
        return ShardReport(status, outcome, document)


async def _fetch(
    message: ShardMessage, request: FanoutRequest, deadline: RunDeadline, settings: Settings, trace: RunTrace
) -> tuple[ShardOutcome, RunDocument | None]:
    """Fetch the shard's entries, but for those this generation cannot give more than they had."""
    h = message.header
    can_give_ms = (deadline.fetch_by - asyncio.get_running_loop().time()) * 1000
    left, entries, gave_up = give_up_held(message, request.entries(), can_give_ms)
    document = None
    if left.entries:
        if gave_up:
            request = left.request()
        indexes = tuple(i for i, _ in left.entries)  # the input's: a delivery's webhook-id keeps them
        ctx = RunContext(
            h.source,
            deadline,
            run_id=h.run_id,
            started_at=h.started_at,
            indexes=indexes,
            rate_shared_by=h.rate_shared_by,
        )
        document = await fetch_run(request, ctx, settings=settings, trace=trace)
    max_generations = settings.shard_max_generations
    outcome = shard_outcome(left, entries, document, max_generations=max_generations, gave_up=gave_up)
    return outcome, document


async def _follow_up(
    stores: RunStores,
    message: ShardMessage,
    outcome: ShardOutcome,
    run: RunRecord,
    settings: Settings,
    before: float,
) -> None:
    """What follows counting a shard: its generation's continuation if it was the generation's
    last, the run's completion if it was the run's."""
    generations = run.generations
    if generations is None:
        await _own_continuation(stores, message.header, outcome, run, settings, before)
    elif run.generation_counted:
        await gather(stores, message.header, run, message.shard, settings, before)
    elif generations.collector == message.shard and generations.unsent:
        await send_again(stores, message.header, run, before)
    if run.all_counted:
        await complete(stores, run, settings, before)


async def _own_continuation(
    stores: RunStores,
    header: RunHeader,
    outcome: ShardOutcome,
    run: RunRecord,
    settings: Settings,
    before: float,
) -> None:
    """A run recorded before leftovers were gathered: the shard continues its own."""
    assert stores.queue is not None
    following = continuation(header, outcome)
    if following is not None and following.shard not in run.done_shards:
        following = fits(following, settings.shard_message_max_bytes)
        await stores.queue.send([following.body()], before)
        report.count("shards_sent")
        report.count("shard_continuations")
