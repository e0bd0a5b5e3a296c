"""The documents a run produces, typed, and the one place they become JSON and back.

- ``RunDocument``: the answer of a run and its stored report. An inline run's answer has its
  budget, timings, summary, results and where it was persisted; a sharded run's launch answer
  has its shard counts and ``location``; a complete sharded run's report its merged results.
  Fields that do not apply are ``None`` and left out of the JSON.

Records and views of runs read back are in ``records``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol, TypeVar

from fanout.core.monitor_report import MonitorReport
from fanout.core.results import ErrorInfo, Summary, UrlResult
from fanout.core.thresholds import ThresholdResult


class Source(enum.StrEnum):
    DIRECT = "direct"
    API = "api"
    SCHEDULE = "schedule"
    CLI = "cli"  # the ``fanout run`` command line, in-process


class RunStatus(enum.StrEnum):
    RUNNING = "running"
    COMPLETE = "complete"
    FAILED = "failed"


class StoreStatus(enum.StrEnum):
    OFF = "off"
    STORED = "stored"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    PENDING = "pending"


T_co = TypeVar("T_co", covariant=True)

SHARDED = "sharded"
"""A sharded run's ``mode`` (an inline run's document has none)."""


def _drop_none(pairs: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in pairs.items() if v is not None}


class _FromJson(Protocol[T_co]):
    def from_json(self, data: Mapping[str, Any], /) -> T_co: ...


def _parsed(kind: _FromJson[T_co], data: Mapping[str, Any] | None) -> T_co | None:
    return None if data is None else kind.from_json(data)


@dataclass(frozen=True, slots=True)
class StoreOutcome:
    """What became of one store's write: ``status``, and its ``error`` or location."""

    status: StoreStatus
    error: ErrorInfo | None = None
    bucket: str | None = None
    key: str | None = None
    table: str | None = None

    def to_json(self) -> dict[str, Any]:
        return _drop_none(
            {
                "status": self.status.value,
                "error": None if self.error is None else self.error.to_json(),
                "bucket": self.bucket,
                "key": self.key,
                "table": self.table,
            }
        )

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StoreOutcome:
        error = data.get("error")
        return cls(
            StoreStatus(data["status"]),
            None if error is None else ErrorInfo.from_json(error),
            data.get("bucket"),
            data.get("key"),
            data.get("table"),
        )


@dataclass(frozen=True, slots=True)
class Persisted:
    """The ``persisted`` section: the report (S3) and the record (DynamoDB)."""

    report: StoreOutcome
    record: StoreOutcome

    @property
    def stored(self) -> bool:
        return self.report.status is StoreStatus.STORED and self.record.status is StoreStatus.STORED

    def to_json(self) -> dict[str, Any]:
        return {"stored": self.stored, "report": self.report.to_json(), "record": self.record.to_json()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Persisted:
        return cls(StoreOutcome.from_json(data["report"]), StoreOutcome.from_json(data["record"]))


@dataclass(frozen=True, slots=True)
class Leftovers:
    """An inline run's URLs cut by its deadline that may run again, by input position."""

    indexes: tuple[int, ...]
    carried_over: bool

    def to_json(self) -> dict[str, Any]:
        return {"count": len(self.indexes), "indexes": list(self.indexes), "carried_over": self.carried_over}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Leftovers:
        return cls(tuple(data["indexes"]), bool(data["carried_over"]))


@dataclass(frozen=True, slots=True)
class Continuation:
    """Where an inline run's leftovers went: a running sharded continuation, or why not."""

    status: str
    urls: int | None = None
    shards: int | None = None
    location: str | None = None
    error: ErrorInfo | None = None

    def to_json(self) -> dict[str, Any]:
        return _drop_none(
            {
                "status": self.status,
                "urls": self.urls,
                "shards": self.shards,
                "location": self.location,
                "error": None if self.error is None else self.error.to_json(),
            }
        )

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Continuation:
        error = data.get("error")
        return cls(
            str(data["status"]),
            data.get("urls"),
            data.get("shards"),
            data.get("location"),
            None if error is None else ErrorInfo.from_json(error),
        )


@dataclass(frozen=True, slots=True)
class ResultsOmitted:
    """Why an answer carries fewer results than the run has (it would not fit)."""

    answer_bytes: int
    limit_bytes: int
    kept: int
    omitted: int
    report_url: str | None = None
    report_url_expires_in_s: int | None = None
    reason: str = "answer_too_large"

    def to_json(self) -> dict[str, Any]:
        return {
            "reason": self.reason,
            "answer_bytes": self.answer_bytes,
            "limit_bytes": self.limit_bytes,
            "kept": self.kept,
            "omitted": self.omitted,
            "report_url": self.report_url,
            "report_url_expires_in_s": self.report_url_expires_in_s,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ResultsOmitted:
        return cls(
            answer_bytes=int(data["answer_bytes"]),
            limit_bytes=int(data["limit_bytes"]),
            kept=int(data["kept"]),
            omitted=int(data["omitted"]),
            report_url=data.get("report_url"),
            report_url_expires_in_s=data.get("report_url_expires_in_s"),
            reason=str(data.get("reason", "answer_too_large")),
        )


_NUMBERS = ("budget_ms", "elapsed_ms", "shards_total", "shards_done", "given_up", "carried_over", "degraded")
_TEXTS = ("finished_at", "targets", "location", "mode")


@dataclass(frozen=True, slots=True)
class RunDocument:
    """A run's answer or report (see the module's docstring for which fields each has)."""

    run_id: str
    source: Source
    started_at: str
    summary: Summary
    results: tuple[UrlResult, ...] | None = None
    budget_ms: float | None = None
    elapsed_ms: float | None = None
    deadline_reached: bool | None = None
    stopped_on_error: bool | None = None
    finished_at: str | None = None
    mode: str | None = None
    status: RunStatus | None = None
    shards_total: int | None = None
    shards_done: int | None = None
    given_up: int | None = None
    carried_over: int | None = None
    degraded: int | None = None
    targets: str | None = None
    location: str | None = None
    leftovers: Leftovers | None = None
    continuation: Continuation | None = None
    persisted: Persisted | None = None
    results_omitted: ResultsOmitted | None = None
    thresholds: tuple[ThresholdResult, ...] | None = None
    monitor: MonitorReport | None = None
    replayed: bool = False

    def to_json(self) -> dict[str, Any]:
        return _drop_none(
            {
                "run_id": self.run_id,
                "source": self.source.value,
                "started_at": self.started_at,
                "finished_at": self.finished_at,
                "mode": self.mode,
                "status": None if self.status is None else self.status.value,
                "budget_ms": None if self.budget_ms is None else round(self.budget_ms, 1),
                "elapsed_ms": None if self.elapsed_ms is None else round(self.elapsed_ms, 1),
                "deadline_reached": self.deadline_reached,
                "stopped_on_error": self.stopped_on_error,
                "shards_total": self.shards_total,
                "shards_done": self.shards_done,
                "given_up": self.given_up,
                "targets": self.targets,
                "carried_over": self.carried_over,
                "summary": self.summary.to_json(),
                "degraded": self.degraded,
                "thresholds": None if self.thresholds is None else [t.to_json() for t in self.thresholds],
                "monitor": None if self.monitor is None else self.monitor.to_json(),
                "location": self.location,
                "leftovers": None if self.leftovers is None else self.leftovers.to_json(),
                "continuation": None if self.continuation is None else self.continuation.to_json(),
                "persisted": None if self.persisted is None else self.persisted.to_json(),
                "results_omitted": None if self.results_omitted is None else self.results_omitted.to_json(),
                "results": None if self.results is None else [r.to_json() for r in self.results],
                "replayed": True if self.replayed else None,
            }
        )

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RunDocument:
        """A stored document back (a report, a record's fields, a recorded answer)."""
        results = data.get("results")
        status = data.get("status")
        return cls(
            run_id=data["run_id"],
            source=Source(data["source"]),
            started_at=data["started_at"],
            summary=Summary.from_json(data.get("summary") or {}),
            results=None if results is None else tuple(UrlResult.from_json(r) for r in results),
            deadline_reached=data.get("deadline_reached"),
            stopped_on_error=data.get("stopped_on_error"),
            status=None if status is None else RunStatus(status),
            leftovers=_parsed(Leftovers, data.get("leftovers")),
            continuation=_parsed(Continuation, data.get("continuation")),
            persisted=_parsed(Persisted, data.get("persisted")),
            results_omitted=_parsed(ResultsOmitted, data.get("results_omitted")),
            thresholds=None
            if data.get("thresholds") is None
            else tuple(ThresholdResult.from_json(t) for t in data["thresholds"]),
            monitor=_parsed(MonitorReport, data.get("monitor")),
            replayed=bool(data.get("replayed")),
            **{k: data.get(k) for k in (*_NUMBERS, *_TEXTS)},
        )

    def without_results(self) -> RunDocument:
        return replace(self, results=None, results_omitted=None, persisted=None, replayed=False)
