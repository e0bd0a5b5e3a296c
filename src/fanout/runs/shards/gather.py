"""One continuation per generation: the leftovers of every shard of a generation gathered into
one continuation, sent once the whole generation is counted.

A shard cut by its deadline stores its leftovers beside its outcome (a conditional write: the
first delivery's) before it is counted; counting adds its id to the record's ``cut_shards`` and
holds a place in ``shards_total``, so the run cannot complete before they are continued. The
shard whose count makes every shard sent counted is the collector:

a. the continuation's plan (every leftover of the generation, in input order, split into the
   usual shard messages ``NNNNN-g<next>``) is built from the stored leftovers and stored with a
   conditional write: whoever builds it, everyone sends the same messages;
b. the record moves to the next generation with one conditional update (``RunsTable.collect``:
   the places held become the continuation's shards), once;
c. the one that made the move sends the plan, then marks the generation sent. Until it is
   marked, the collector's redelivery sends again whatever of it is not counted yet (a message
   sent twice is counted once).

Gathering makes a generation's leftovers share invocations: a URL that hangs in several shards
costs their windows once more in all, not once per shard.
"""

from __future__ import annotations

from typing import Any

from fanout.aws.reports import shard_key
from fanout.config import Settings
from fanout.core.records import RunRecord
from fanout.errors import MergeError
from fanout.observability.log import logger
from fanout.runs import report
from fanout.runs.shards.complete import read_objects
from fanout.runs.shards.outcome import ShardOutcome
from fanout.runs.shards.plan import MESSAGE_VERSION, RunHeader, parse_message, shard_size, split
from fanout.runs.stores import RunStores


def leftovers_key(header: RunHeader, shard: str) -> str:
    """``…/shards/<shard>-leftovers.json.gz``: what a cut shard hands on."""
    return shard_key(header.run_id, header.started_at, f"{shard}-leftovers")


def plan_key(header: RunHeader, generation: int) -> str:
    """``…/shards/g<generation>-plan.json.gz``: the messages of a generation's continuation."""
    return shard_key(header.run_id, header.started_at, f"g{generation}-plan")


async def store_leftovers(stores: RunStores, header: RunHeader, outcome: ShardOutcome, before: float) -> None:
    """Store a cut shard's leftovers for its generation's continuation (once; the outcome is the
    first delivery's, so a later delivery would store the same)."""
    assert stores.reports is not None
    payload = {
        "v": MESSAGE_VERSION,
        "shard": outcome.shard,
        "generation": outcome.generation,
        "leftovers": [[i, e] for i, e in outcome.leftovers],
        "held": [[i, ms] for i, ms in outcome.held],
    }
    await stores.reports.put_once(leftovers_key(header, outcome.shard), payload, before)


async def _build_plan(
    stores: RunStores, header: RunHeader, cut: list[str], generation: int, settings: Settings, before: float
) -> list[str]:
    """The continuation's message bodies, from the stored leftovers of ``cut``."""
    stored = await read_objects(stores, [leftovers_key(header, shard) for shard in cut], before)
    entries: list[tuple[int, Any]] = []
    held: dict[int, float] = {}
    for data in stored:
        entries += [(i, e) for i, e in data["leftovers"]]
        held |= {i: float(ms) for i, ms in data.get("held", ())}
    entries.sort(key=lambda pair: pair[0])
    messages = split(
        header,
        entries,
        shard_size=shard_size(settings, header.options),
        max_bytes=settings.shard_message_max_bytes,
        generation=generation,
        held=held,
    )
    return [m.body() for m in messages]


async def _plan(
    stores: RunStores, header: RunHeader, cut: list[str], generation: int, settings: Settings, before: float
) -> list[str]:
    """The plan of ``generation``'s continuation: built and stored, or, when another delivery
    stored one first, that one."""
    assert stores.reports is not None
    key = plan_key(header, generation)
    bodies = await _build_plan(stores, header, cut, generation, settings, before)
    payload = {"v": MESSAGE_VERSION, "generation": generation, "from": cut, "bodies": bodies}
    if await stores.reports.put_once(key, payload, before):
        return bodies
    found = await stores.reports.find(key, before)
    if found is None:
        raise MergeError(f"{key}: stored, then missing")
    return [str(b) for b in found["bodies"]]


async def gather(
    stores: RunStores, header: RunHeader, run: RunRecord, collector: str, settings: Settings, before: float
) -> None:
    """Continue the leftovers of ``run``'s generation (every shard of it counted) as one
    continuation, once: the caller that moves the record on sends it."""
    assert stores.runs is not None
    assert stores.queue is not None
    g = run.generations
    assert g is not None
    cut = g.cut_in(g.generation)
    placeholders = (run.document.shards_total or 0) - g.sent
    if len(cut) != placeholders:
        raise MergeError(f"generation {g.generation}: {len(cut)} cut shard(s), {placeholders} place(s) held")
    bodies = await _plan(stores, header, cut, g.generation + 1, settings, before)
    moved = await stores.runs.collect(
        header.run_id,
        generation=g.generation,
        placeholders=placeholders,
        shards=len(bodies),
        collector=collector,
        before=before,
    )
    if not moved:  # another delivery collected it: that one sends
        return
    await stores.queue.send(bodies, before)
    report.count("shards_sent", len(bodies))
    report.count("shard_continuations", len(bodies))
    await stores.runs.mark_sent(header.run_id, generation=g.generation + 1, before=before)
    logger.info(
        "leftovers gathered",
        extra={
            "run_id": header.run_id,
            "generation": g.generation + 1,
            "cut": len(cut),
            "shards": len(bodies),
        },
    )


async def send_again(stores: RunStores, header: RunHeader, run: RunRecord, before: float) -> None:
    """The collector's redelivery: send again the continuation's messages not counted yet."""
    assert stores.reports is not None
    assert stores.queue is not None
    g = run.generations
    assert g is not None
    found = await stores.reports.find(plan_key(header, g.generation), before)
    if found is None:
        raise MergeError(f"run {header.run_id}: generation {g.generation} has no stored plan")
    bodies = [str(b) for b in found["bodies"]]
    missing = [b for b in bodies if parse_message(b).shard not in run.done_shards]
    if missing:
        await stores.queue.send(missing, before)
        report.count("shards_sent", len(missing))
    assert stores.runs is not None
    await stores.runs.mark_sent(header.run_id, generation=g.generation, before=before)
