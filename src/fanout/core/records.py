"""What the runs table keeps of a run, and how ``GET /runs`` shows it.

- ``RunRecord``: a run's document without results, when it finished, where its report is;
  for a sharded run its options and shard bookkeeping.
- ``RunView``: a record as ``GET /runs/{run_id}`` shows it, with the run's results (or why not).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fanout.core.documents import SHARDED, ResultsOmitted, RunDocument, RunStatus
from fanout.core.ids import iso_from_epoch
from fanout.core.monitors import MonitorSpec
from fanout.core.requests import Options
from fanout.core.results import ErrorInfo, UrlResult


@dataclass(frozen=True, slots=True)
class ReportLocation:
    bucket: str
    key: str

    def to_json(self) -> dict[str, str]:
        return {"bucket": self.bucket, "key": self.key}


@dataclass(frozen=True, slots=True)
class RunRecord:
    """A run as the runs table keeps it (its document without results, ``finished_at`` ``None``
    while it runs); ``done_shards`` is bookkeeping, never shown."""

    document: RunDocument
    report: ReportLocation | None = None
    expires_at: float | None = None
    options: Options | None = None
    max_generations: int | None = None
    error: ErrorInfo | None = None
    done_shards: frozenset[str] = frozenset()
    monitor: MonitorSpec | None = None  # a sharded monitor run's, for its completion
    observation_key: str | None = None

    @property
    def sharded(self) -> bool:
        return self.document.mode == SHARDED

    @property
    def status(self) -> RunStatus | None:
        return self.document.status

    @property
    def all_counted(self) -> bool:
        """A running sharded run whose every shard is counted: ready to complete."""
        doc = self.document
        return doc.status is RunStatus.RUNNING and doc.shards_done == doc.shards_total

    def to_json(self) -> dict[str, Any]:
        """Its fields as stored (the codec adds its key, TTL and bookkeeping)."""
        doc = self.document.without_results().to_json()
        extra: dict[str, Any] = {
            "finished_at": self.document.finished_at,
            "report": None if self.report is None else self.report.to_json(),
        }
        if self.options is not None:
            extra["options"] = self.options.model_dump(mode="json")
        if self.max_generations is not None:
            extra["max_generations"] = self.max_generations
        if self.error is not None:
            extra["error"] = self.error.to_json()
        if self.monitor is not None:
            extra["monitor_spec"] = self.monitor.model_dump(mode="json")
            extra["observation_key"] = self.observation_key
        return doc | extra

    @classmethod
    def from_json(cls, data: Mapping[str, Any], done_shards: frozenset[str] = frozenset()) -> RunRecord:
        report, options, error = data.get("report"), data.get("options"), data.get("error")
        expires = data.get("expires_at")
        return cls(
            document=RunDocument.from_json(data),
            report=None if not report else ReportLocation(report["bucket"], report["key"]),
            expires_at=float(expires) if isinstance(expires, int | float) else None,
            options=None if options is None else Options.model_validate(options, strict=False),
            max_generations=data.get("max_generations"),
            error=None if error is None else ErrorInfo.from_json(error),
            done_shards=done_shards,
            monitor=None
            if data.get("monitor_spec") is None
            else MonitorSpec.model_validate(data["monitor_spec"]),
            observation_key=data.get("observation_key"),
        )

    def progress(self) -> dict[str, int]:
        doc = self.document
        return {
            "shards_done": doc.shards_done or 0,
            "shards_total": doc.shards_total or 0,
            "urls_done": doc.summary.done,
            "urls_total": doc.summary.total,
        }

    def to_view(self) -> dict[str, Any]:
        """As ``GET /runs`` shows it: ``expires_at`` in ISO 8601, a sharded run's progress."""
        view = self.to_json()
        if self.expires_at is not None:
            view["expires_at"] = iso_from_epoch(self.expires_at)
        if self.sharded:
            view["progress"] = self.progress()
        return view


@dataclass(frozen=True, slots=True)
class RunView:
    """``GET /runs/{run_id}``: the record, and the results (``None`` while a sharded run runs, or
    with ``results_error`` when the report cannot be read)."""

    record: RunRecord
    results: tuple[UrlResult, ...] | None = None
    results_error: ErrorInfo | None = None
    results_omitted: ResultsOmitted | None = None
    report: RunDocument | None = None  # the run's report, for what only it holds (degraded, monitor)

    def to_json(self) -> dict[str, Any]:
        view = self.record.to_view()
        if self.report is not None:
            from_report = self.report.to_json()
            view |= {k: from_report[k] for k in ("degraded", "thresholds", "monitor") if k in from_report}
        if self.results_error is not None:
            view["results_error"] = self.results_error.to_json()
        if self.results_omitted is not None:
            view["results_omitted"] = self.results_omitted.to_json()
        view["results"] = None if self.results is None else [r.to_json() for r in self.results]
        return view
