"""The end of a sharded run: every counted shard's outcome merged into the run's report, and the
record moved from ``running`` to ``complete`` with a conditional update (exactly once).

The shard outcomes are read concurrently through the engine (at most ``MERGE_CONCURRENCY`` at
a time, under the caller's deadline); the first failure stops the merge.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from fanout.aws.reports import report_key, shard_key
from fanout.config import Settings
from fanout.core.documents import SHARDED, RunDocument, RunStatus
from fanout.core.engine import Job, JobState, run_under_deadline
from fanout.core.ids import elapsed_ms, utc_now_iso
from fanout.core.records import RunRecord
from fanout.core.results import Summary
from fanout.errors import MergeError, StoreError
from fanout.observability.log import logger
from fanout.runs import report
from fanout.runs.judging import judged
from fanout.runs.shards.outcome import ShardOutcome, merge
from fanout.runs.stores import RunStores

MERGE_CONCURRENCY = 16


async def read_outcomes(stores: RunStores, keys: list[str], before: float) -> list[ShardOutcome]:
    """Every shard outcome at ``keys``, in order; a missing one is a ``MergeError``."""
    return [ShardOutcome.from_json(found) for found in await read_objects(stores, keys, before)]


async def read_objects(stores: RunStores, keys: list[str], before: float) -> list[dict[str, Any]]:
    """Every object at ``keys`` (a shard's outcome or leftovers), in order; a missing one is a
    ``MergeError``."""
    assert stores.reports is not None
    jobs: list[Job[dict[str, Any] | None]] = [Job(run=partial(stores.reports.find, k, before)) for k in keys]
    run = await run_under_deadline(
        jobs, deadline=before, concurrency=MERGE_CONCURRENCY, stop_when=lambda r: r.state is JobState.RAISED
    )
    failed = next((r.error for r in run.jobs if r.error is not None), None)
    if failed is not None:
        raise failed
    if run.deadline_reached:
        raise StoreError(
            "shard outcomes: no answer within their time slice", error_type="Timeout", timed_out=True
        )
    missing = [k for k, r in zip(keys, run.jobs, strict=True) if r.value is None]
    if missing:
        raise MergeError(f"{len(missing)} counted shard(s) have no stored object, e.g. {missing[0]}")
    return [r.value for r in run.jobs if r.value is not None]


async def complete(stores: RunStores, run: RunRecord, settings: Settings, before: float) -> bool:
    """Merge a finished run's shards into its report; mark it complete, once (True for the caller
    that did)."""
    assert stores.reports is not None
    assert stores.runs is not None
    doc = run.document
    keys = [shard_key(doc.run_id, doc.started_at, shard) for shard in sorted(run.done_shards)]
    outcomes = await read_outcomes(stores, keys, before)
    results = tuple(merge(doc.summary.total, outcomes))
    finished_at = utc_now_iso()
    given_up = sum(o.given_up for o in outcomes)
    document = RunDocument(
        run_id=doc.run_id,
        source=doc.source,
        started_at=doc.started_at,
        finished_at=finished_at,
        mode=SHARDED,
        status=RunStatus.COMPLETE,
        elapsed_ms=elapsed_ms(doc.started_at, finished_at),
        deadline_reached=given_up > 0,
        stopped_on_error=False,
        shards_total=doc.shards_total,
        given_up=given_up,
        targets=doc.targets,
        carried_over=doc.carried_over,
        summary=Summary.of_results(results),
        results=results,
        degraded=sum(r.degraded is True for r in results),
    )
    if run.options is not None and (run.options.thresholds or run.monitor is not None):
        document = await judged(
            document,
            run.options,
            run.monitor,
            key=run.observation_key,
            scheduled_at=run.scheduled_at,
            stores=stores,
            settings=settings,
            before=before,
        )
    key = report_key(doc.run_id, doc.started_at)
    await stores.reports.put(key, document, before)
    sets = {
        "finished_at": finished_at,
        "elapsed_ms": document.elapsed_ms,
        "deadline_reached": document.deadline_reached,
        "report": {"bucket": stores.reports.bucket, "key": key},
    }
    if not await stores.runs.transition(
        doc.run_id, to=RunStatus.COMPLETE, sets=sets, when_finished=True, before=before
    ):
        return False
    logger.info(
        "sharded run complete",
        extra={"run_id": doc.run_id, "summary": document.summary.to_json(), "shards": doc.shards_total},
    )
    report.count("sharded_runs_completed")
    report.report_monitoring(document)
    return True
