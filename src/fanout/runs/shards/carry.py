"""Carry-over: an inline run cut by its deadline with ``carry_over`` becomes a sharded run of the
same id, whose pseudo-shard ``inline`` (its final results) is counted from the start and whose
leftovers are the shards of generation 1. If that cannot be set up, the run is persisted as an
ordinary inline run (its ``continuation`` says why)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from fanout.aws.reports import shard_key
from fanout.config import Settings
from fanout.core.documents import Continuation, Persisted, RunDocument, RunStatus
from fanout.core.ids import utc_now_iso
from fanout.core.requests import FanoutRequest
from fanout.core.results import ErrorInfo, Summary
from fanout.errors import StoreError
from fanout.observability.log import logger
from fanout.runs import report
from fanout.runs.persist import persist
from fanout.runs.shards.launch import location, new_record, pending, start
from fanout.runs.shards.outcome import ShardOutcome, held_ms
from fanout.runs.shards.plan import (
    INLINE_SHARD,
    RunHeader,
    encode_entry,
    shard_size,
    split,
)
from fanout.runs.shards.rates import paced, rate_shared
from fanout.runs.stores import RunStores


@dataclass(frozen=True, slots=True)
class Carried:
    """What carrying an inline run's leftovers over did: the ``persisted`` section of its answer and
    its ``continuation`` (running, or not started with the error)."""

    persisted: Persisted
    continuation: Continuation


async def carry_over(
    document: RunDocument,
    request: FanoutRequest,
    header: RunHeader,
    leftovers: Sequence[int],
    stores: RunStores,
    settings: Settings,
    *,
    before: float,
) -> Carried:
    """Finish an inline run's ``leftovers`` as a sharded continuation of the same run.

    Its final results become the counted pseudo-shard ``inline``; its leftovers, shards of
    generation 1. If that cannot be set up, the run is persisted as an ordinary inline run
    (the continuation says why): shards already sent then find no running record and skip.
    """
    if settings.shard_max_generations < 1:  # no continuation is allowed at all
        error = ErrorInfo("no_generations", "FANOUT_SHARD_MAX_GENERATIONS is 0")
        return await _not_carried(document, stores, error, before)
    inline = _inline_shard(document, request, leftovers)
    messages = split(
        header,
        inline.leftovers,
        shard_size=shard_size(settings, request.options),
        max_bytes=settings.shard_message_max_bytes,
        generation=1,
        held=dict(inline.held),
    )
    if paced(request):
        messages = rate_shared(messages, settings.shard_max_concurrency)
    record = new_record(
        header,
        settings,
        summary=Summary.of((r.outcome for _, r in inline.results), total=len(document.results or ())),
        shards_total=1 + len(messages),
        shards_done=1,
        targets=document.targets,
        carried_over=len(leftovers),
        done=frozenset({INLINE_SHARD}),
        generation=1,
    )
    assert stores.reports is not None
    assert stores.runs is not None
    try:
        key = shard_key(header.run_id, header.started_at, INLINE_SHARD)
        if not await stores.reports.put_once(key, inline.payload(), before):
            raise StoreError("the run's inline results were stored already", error_type="Conflict")
        await stores.runs.put_new(record, before)
        await start(stores, header.run_id, [m.body() for m in messages], before)
    except StoreError as exc:
        logger.warning("leftovers not carried over", extra={"run_id": header.run_id, "error": str(exc)})
        report.count("carry_over_failures")
        return await _not_carried(document, stores, ErrorInfo(exc.error_type, str(exc)), before)
    report.count("runs_carried_over")
    logger.info(
        "leftovers carried over",
        extra={"run_id": header.run_id, "leftovers": len(leftovers), "shards": len(messages)},
    )
    running = Continuation(RunStatus.RUNNING.value, len(leftovers), len(messages), location(header.run_id))
    return Carried(pending(stores, header), running)


def _inline_shard(document: RunDocument, request: FanoutRequest, leftovers: Sequence[int]) -> ShardOutcome:
    """The pseudo-shard ``inline``: the run's final results, and its leftovers to continue."""
    entries, cut, results = request.entries(), set(leftovers), document.results or ()
    return ShardOutcome(
        shard=INLINE_SHARD,
        generation=0,
        results=tuple((i, r) for i, r in enumerate(results) if i not in cut),
        leftovers=tuple((i, encode_entry(entries[i])) for i in leftovers),
        continuation=None,
        given_up=0,
        held=tuple((i, ms) for i in leftovers if (ms := held_ms(results[i])) is not None),
    )


async def _not_carried(document: RunDocument, stores: RunStores, error: ErrorInfo, before: float) -> Carried:
    """An ordinary inline run after all: its record replaces a running one, if one was put."""
    persisted = await persist(document, stores, finished_at=utc_now_iso(), before=before)
    return Carried(persisted, Continuation("not_started", error=error))
