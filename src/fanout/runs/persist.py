"""A run's persistence: its report (S3) and its record (DynamoDB), concurrently, in its slice.

- **Report**: the full result document, gzip JSON, at ``reports/YYYY/MM/DD/<run_id>.json.gz``.
- **Record**: the document without its results, plus ``finished_at``, the report's location
  and ``expires_at`` (the table's TTL). ``GET /runs`` lists records newest first.

Persisting never raises (but for cancellation): what happened is the answer's ``persisted``
section. A store that fails or hangs costs at most the slice (``persist_by``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from fanout.aws.reports import report_key
from fanout.core.documents import Persisted, RunDocument, StoreOutcome, StoreStatus
from fanout.core.records import ReportLocation, RunRecord
from fanout.core.results import ErrorInfo
from fanout.errors import StoreError
from fanout.observability.log import MetricUnit, logger
from fanout.runs import report
from fanout.runs.stores import RunStores

OFF = StoreOutcome(StoreStatus.OFF)


def report_location(stores: RunStores, document: RunDocument) -> ReportLocation | None:
    if stores.reports is None:
        return None
    return ReportLocation(stores.reports.bucket, report_key(document.run_id, document.started_at))


async def _attempt(name: str, run_id: str, call: Callable[[], Awaitable[None]]) -> StoreOutcome:
    try:
        await call()
    except Exception as exc:  # never lose the run's answer to its persistence
        failure = exc if isinstance(exc, StoreError) else StoreError(str(exc), error_type=type(exc).__name__)
        status = StoreStatus.TIMED_OUT if failure.timed_out else StoreStatus.FAILED
        logger.warning(
            "run not persisted",
            extra={"run_id": run_id, "store": name, "status": status.value, "error": str(exc)},
        )
        report.count(f"{name}_store_failures")
        return StoreOutcome(status, ErrorInfo(failure.error_type, str(exc)))
    return StoreOutcome(StoreStatus.STORED)


async def persist(document: RunDocument, stores: RunStores, *, finished_at: str, before: float) -> Persisted:
    """Store ``document``'s report and record concurrently, before ``before``."""
    location = report_location(stores, document)
    record = RunRecord(document.without_results().replaced(finished_at=finished_at), report=location)
    calls: dict[str, asyncio.Task[StoreOutcome]] = {}
    started = time.monotonic()
    async with asyncio.TaskGroup() as group:
        if stores.reports is not None and location is not None:
            reports, key, payload = stores.reports, location.key, document
            calls["report"] = group.create_task(
                _attempt("report", document.run_id, lambda: reports.put(key, payload, before))
            )
        if stores.runs is not None:
            runs = stores.runs
            calls["record"] = group.create_task(
                _attempt("record", document.run_id, lambda: runs.put(record, before))
            )
    if stores.config.any_on:
        report.count("persist_duration", (time.monotonic() - started) * 1000, MetricUnit.Milliseconds)
    report_outcome = calls["report"].result() if "report" in calls else OFF
    record_outcome = calls["record"].result() if "record" in calls else OFF
    if location is not None:
        report_outcome = StoreOutcome(
            report_outcome.status, report_outcome.error, location.bucket, location.key
        )
    if stores.runs is not None:
        record_outcome = StoreOutcome(record_outcome.status, record_outcome.error, table=stores.runs.table)
    return Persisted(report_outcome, record_outcome)
