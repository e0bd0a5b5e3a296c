"""Reading runs back (``GET /runs/{run_id}``, ``GET /runs``): records, and a run's results from
its report, within the invocation's deadline."""

from __future__ import annotations

from fanout.config import Settings
from fanout.core.documents import RunDocument, RunStatus
from fanout.core.records import RunListing, RunRecord, RunView
from fanout.core.results import ErrorInfo
from fanout.errors import RunNotFound, RunsNotKept, StoreError, StoreUnavailable
from fanout.runs.answers import fit_with_pointer
from fanout.runs.stores import RunStores, StoreConfig


def stores_config(settings: Settings) -> StoreConfig:
    config = StoreConfig.from_settings(settings)
    if not config.runs_on:
        raise RunsNotKept("run records")
    return config


def _without_results(record: RunRecord) -> bool:
    """A sharded run still running (or that failed to start) has progress, not results."""
    return record.sharded and record.status in (RunStatus.RUNNING, RunStatus.FAILED)


async def get_run(run_id: str, settings: Settings, *, before: float) -> RunView:
    async with RunStores(stores_config(settings)) as stores:
        assert stores.runs is not None
        try:
            record = await stores.runs.get(run_id, before)
        except StoreError as exc:
            raise StoreUnavailable(str(exc)) from None
        if record is None:
            raise RunNotFound(run_id)
        if _without_results(record):  # progress only; the results once it is complete
            return RunView.of(record)
        if stores.reports is None or record.report is None:
            return RunView.of(record, results_error=ErrorInfo("ReportOff", "no report was kept"))
        key = record.report.key
        try:
            report = RunDocument.from_json(await stores.reports.get(key, before))
        except StoreError as exc:
            return RunView.of(record, results_error=ErrorInfo(exc.error_type, str(exc)))
        view = RunView.of(record, report.results or (), report=report.without_results())
        return await fit_with_pointer(view, stores, settings, report_key=key, before=before)


async def list_runs(limit: int, cursor: str | None, settings: Settings, *, before: float) -> RunListing:
    async with RunStores(stores_config(settings)) as stores:
        assert stores.runs is not None
        try:
            records, next_cursor = await stores.runs.list(limit, cursor, before)
        except StoreError as exc:
            raise StoreUnavailable(str(exc)) from None
    return RunListing(tuple(r.to_view() for r in records), limit, next_cursor)
