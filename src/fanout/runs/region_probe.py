"""A probe region's end of a regional monitor's run: its observations, as one ``RegionReport``,
sent to the home region (docs/architecture.md, "Probes from several regions").

A probe region keeps no monitor state and sends no alert: the home region applies the report
(once: its ``key`` and part), forms the round and alerts. Sending costs one ``SendMessageBatch``
call to the home region per run, whatever the number of URLs: the report's parts and the reports
waiting in this region's outbox go together. What the home region does not take goes to (or
stays in) the outbox for a later run; a report older than the round bound is dropped and
counted, as the home region would drop it. Nothing here raises for a queue: the run's
``monitor.region`` says what happened, and a log line says why.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from fanout.aws.region_queues import BatchAnswer, RegionQueues, Waiting
from fanout.aws.shard_queue import SQS_MAX_BATCH_ENTRIES
from fanout.config import SQS_MAX_MESSAGE_BYTES, Settings
from fanout.core.model import encode
from fanout.core.regions import RegionDelivery, RegionObservation, RegionReport
from fanout.core.rounds import round_epoch
from fanout.errors import StoreError
from fanout.observability.log import logger
from fanout.runs.stores import RunStores

PART_BYTES = 60_000  # a report's part: several fit one call, with room for the outbox's
OUTBOX_RECEIVES = 2  # calls that may fill the batch from the outbox (the second replaces late ones)


def is_late(round_: str, now: float, max_age_s: float) -> bool:
    """Past the round bound: the home region has closed the round (or will have)."""
    return now - round_epoch(round_) > max_age_s


def parts_of(report: RegionReport, max_bytes: int = PART_BYTES) -> list[RegionReport]:
    """The report cut in parts of at most about ``max_bytes`` each (each has the whole envelope)."""
    envelope = len(report.replaced(observations=(), part=99_999, parts=99_999).to_bytes())
    groups: list[list[RegionObservation]] = [[]]
    size = envelope
    for observation in report.observations:
        n = len(encode(observation)) + 1
        if groups[-1] and size + n > max_bytes:
            groups.append([])
            size = envelope
        groups[-1].append(observation)
        size += n
    return [report.replaced(observations=tuple(g), part=i, parts=len(groups)) for i, g in enumerate(groups)]


def _pack(own: Sequence[str], waiting: Sequence[Waiting]) -> dict[str, str]:
    """One call's entries: this run's parts first, then waiting reports, within 10 and 256 KB."""
    entries: dict[str, str] = {}
    size = 0
    candidates = [(f"p{i}", b) for i, b in enumerate(own)]
    candidates += [(f"o{i}", w.body) for i, w in enumerate(waiting)]
    for entry_id, body in candidates:
        n = len(body.encode())
        if len(entries) < SQS_MAX_BATCH_ENTRIES and size + n <= SQS_MAX_MESSAGE_BYTES:
            entries[entry_id] = body
            size += n
    return entries


async def _drain(
    queues: RegionQueues, room: int, settings: Settings, before: float
) -> tuple[list[Waiting], list[Waiting]]:
    """Reports waiting in the outbox (at most ``room``, in one or two calls), and those found past
    the round bound (to delete)."""
    waiting: list[Waiting] = []
    late: list[Waiting] = []
    for _ in range(OUTBOX_RECEIVES):
        want = room - len(waiting)
        if want <= 0 or not queues.outbox_url:
            break
        try:
            found = await queues.receive(want, before)
        except StoreError as exc:
            logger.warning("region outbox not read", extra={"error": str(exc)})
            break
        fresh = [w for w in found if not _late_or_unreadable(w, settings)]
        waiting += fresh
        late += [w for w in found if w not in fresh]
        if len(fresh) == len(found):  # none replaced: nothing more to fill the room with
            break
    return waiting, late


def _late_or_unreadable(waiting: Waiting, settings: Settings) -> bool:
    try:
        kept = RegionReport.from_bytes(waiting.body)
    except ValueError:
        logger.warning("region outbox message unreadable: dropped", extra={"size": len(waiting.body)})
        return True
    return is_late(kept.scheduled_at, time.time(), settings.round_max_age_s)


async def send_home(
    report: RegionReport, *, stores: RunStores, settings: Settings, before: float
) -> RegionDelivery:
    """Send ``report`` (and the outbox's waiting reports) to the home region in one call; what the
    home region did not take is kept in the outbox. Never raises for a queue."""
    delivery = RegionDelivery(
        region=report.region, home=settings.home_region, round=report.scheduled_at, sent=False
    )
    queues = stores.regions
    if queues is None:
        return _told(delivery, "no home region's reports queue (FANOUT_REGION_REPORTS_QUEUE_URL)")
    own = [p.to_bytes().decode() for p in parts_of(report)]
    delivery = delivery.replaced(parts=len(own))
    if is_late(report.scheduled_at, time.time(), settings.round_max_age_s):
        return _told(delivery.replaced(late_dropped=1), "the round is past its bound (dropped)")
    loop = asyncio.get_running_loop()
    span = max(0.0, before - loop.time())
    room = SQS_MAX_BATCH_ENTRIES - min(len(own), SQS_MAX_BATCH_ENTRIES)
    waiting, late = await _drain(queues, room, settings, loop.time() + span * 0.2)
    entries = _pack(own, waiting)
    error: str | None = None
    try:
        answer = await queues.send_home(entries, loop.time() + span * 0.6)
        error = next(iter(answer.failed.values()), None)
    except StoreError as exc:
        answer, error = BatchAnswer(sent=frozenset(), failed={}), str(exc)
    not_sent = [body for i, body in enumerate(own) if f"p{i}" not in answer.sent]
    delivered = [w for i, w in enumerate(waiting) if f"o{i}" in answer.sent]
    kept = await _keep(queues, not_sent, before)
    await _delete(queues, [w.receipt for w in delivered + late], before)
    delivery = delivery.replaced(
        sent=not not_sent,
        outbox_delivered=len(delivered),
        outbox_kept=kept + len(waiting) - len(delivered),
        late_dropped=len(late),
    )
    if not_sent:
        lost = len(not_sent) - kept
        why = error or "larger than one call: the rest kept for the next run"
        return _told(delivery, why if not lost else f"{why}; {lost} part(s) lost (outbox not written)")
    return delivery


def _told(delivery: RegionDelivery, why: str) -> RegionDelivery:
    """The delivery with its error, said in the log too."""
    logger.warning("region report not delivered home", extra={**delivery.to_json(), "error": why})
    return delivery.replaced(error=why)


async def _keep(queues: RegionQueues, bodies: Sequence[str], before: float) -> int:
    """Put these parts in the outbox; how many it took (0 when it cannot be reached)."""
    if not bodies or not queues.outbox_url:
        return 0
    try:
        return await queues.keep(bodies, before)
    except StoreError as exc:
        logger.warning("region outbox not written", extra={"error": str(exc), "parts": len(bodies)})
        return 0


async def _delete(queues: RegionQueues, receipts: Sequence[str], before: float) -> None:
    """Delete outbox messages delivered or dropped (one left behind is delivered again: the home
    region applies a report once, by its key and part)."""
    if not receipts:
        return
    try:
        refused = await queues.delete(receipts, before)
    except StoreError as exc:
        logger.warning("region outbox not cleared", extra={"error": str(exc), "messages": len(receipts)})
        return
    if refused:
        logger.warning("region outbox not cleared", extra={"refused": refused})
