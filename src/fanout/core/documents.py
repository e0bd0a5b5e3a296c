"""The documents a run produces, typed, and the one place they become JSON and back.

- ``RunDocument``: the answer of a run and its stored report. An inline run's answer has its
  budget, timings, summary, results and where it was persisted; a sharded run's launch answer
  has its shard counts and ``location``; a complete sharded run's report its merged results.
  Fields that do not apply are ``None`` and left out of the JSON; ``budget_ms`` and
  ``elapsed_ms`` are kept to 0.1 ms.

Records and views of runs read back are in ``records``.
"""

from __future__ import annotations

import enum
from typing import Annotated

import msgspec
from msgspec import Meta

from fanout.core.model import Document
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


SHARDED = "sharded"
"""A sharded run's ``mode`` (an inline run's document has none)."""

_set = msgspec.structs.force_setattr


class StoreOutcome(Document, frozen=True):
    """What became of one store's write: ``status``, and its ``error`` or location."""

    status: Annotated[StoreStatus, Meta(description="off, stored, failed, timed_out or pending")]
    error: Annotated[ErrorInfo | None, Meta(description="Why it was not stored")] = None
    bucket: Annotated[str | None, Meta(description="The report's bucket")] = None
    key: Annotated[str | None, Meta(description="The report's key")] = None
    table: Annotated[str | None, Meta(description="The record's table")] = None


class Persisted(Document, frozen=True, omit_defaults=False):
    """The ``persisted`` section: the report (S3) and the record (DynamoDB)."""

    report: Annotated[StoreOutcome, Meta(description="The run's report (S3)")]
    record: Annotated[StoreOutcome, Meta(description="The run's record (DynamoDB)")]
    stored: Annotated[bool, Meta(description="Both are stored")] = False

    def __post_init__(self) -> None:
        both = self.report.status is StoreStatus.STORED and self.record.status is StoreStatus.STORED
        _set(self, "stored", both)


class Leftovers(Document, frozen=True, omit_defaults=False):
    """An inline run's URLs cut by its deadline that may run again, by input position."""

    indexes: Annotated[tuple[int, ...], Meta(description="Their positions in the request")]
    carried_over: Annotated[bool, Meta(description="A sharded continuation runs them")]
    count: Annotated[int, Meta(description="How many")] = 0

    def __post_init__(self) -> None:
        _set(self, "count", len(self.indexes))


class Continuation(Document, frozen=True):
    """Where an inline run's leftovers went: a running sharded continuation, or why not."""

    status: Annotated[str, Meta(description="running, or why not: off, failed, ...")]
    urls: Annotated[int | None, Meta(description="URLs it continues")] = None
    shards: Annotated[int | None, Meta(description="Its shards")] = None
    location: Annotated[str | None, Meta(description="Where to poll it: /runs/{run_id}")] = None
    error: Annotated[ErrorInfo | None, Meta(description="Why it did not start")] = None


class ResultsOmitted(Document, frozen=True, omit_defaults=False, kw_only=True):
    """Why an answer carries fewer results than the run has (it would not fit)."""

    reason: Annotated[str, Meta(description="answer_too_large")] = "answer_too_large"
    answer_bytes: Annotated[int, Meta(description="The answer's size with every result")]
    limit_bytes: Annotated[int, Meta(description="The most an answer may be")]
    kept: Annotated[int, Meta(description="Results the answer carries")]
    omitted: Annotated[int, Meta(description="Results left out")]
    report_url: Annotated[str | None, Meta(description="A presigned URL of the full report")] = None
    report_url_expires_in_s: Annotated[int | None, Meta(description="Seconds the URL stays valid")] = None


def _tenth(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


class RunDocument(Document, frozen=True, kw_only=True):
    """A run's answer or report (see the module's docstring for which fields each has)."""

    run_id: Annotated[str, Meta(description="The run's id (a UUIDv7)")]
    source: Annotated[Source, Meta(description="What started it")]
    started_at: Annotated[str, Meta(description="When it started, ISO 8601 UTC")]
    finished_at: Annotated[str | None, Meta(description="When it finished (a stored run)")] = None
    mode: Annotated[str | None, Meta(description="sharded, for a sharded run")] = None
    status: Annotated[RunStatus | None, Meta(description="A sharded run's status")] = None
    budget_ms: Annotated[float | None, Meta(description="Time the run had for fetching, ms")] = None
    elapsed_ms: Annotated[float | None, Meta(description="Time the run took, ms")] = None
    deadline_reached: Annotated[bool | None, Meta(description="The deadline cut the run")] = None
    stopped_on_error: Annotated[bool | None, Meta(description="on_error: stop cut the run")] = None
    shards_total: Annotated[int | None, Meta(description="A sharded run's shards")] = None
    shards_done: Annotated[int | None, Meta(description="Its shards counted so far")] = None
    given_up: Annotated[int | None, Meta(description="Leftovers given up past the last generation")] = None
    targets: Annotated[str | None, Meta(description="Where the URL list came from: s3://...")] = None
    carried_over: Annotated[int | None, Meta(description="Leftovers continued by a later generation")] = None
    summary: Annotated[Summary, Meta(description="Counts by outcome")]
    degraded: Annotated[int | None, Meta(description="URLs that passed their checks, but slowly")] = None
    thresholds: Annotated[
        tuple[ThresholdResult, ...] | None, Meta(description="The run thresholds, evaluated")
    ] = None
    monitor: Annotated[MonitorReport | None, Meta(description="What the run did to its monitor")] = None
    location: Annotated[str | None, Meta(description="Where to poll a sharded run")] = None
    leftovers: Annotated[Leftovers | None, Meta(description="URLs cut by the deadline")] = None
    continuation: Annotated[Continuation | None, Meta(description="Where the leftovers went")] = None
    persisted: Annotated[Persisted | None, Meta(description="Where the run was stored")] = None
    results_omitted: Annotated[
        ResultsOmitted | None, Meta(description="Why results are missing from this answer")
    ] = None
    results: Annotated[tuple[UrlResult, ...] | None, Meta(description="One per URL, in input order")] = None
    replayed: Annotated[bool, Meta(description="A repeat of an Idempotency-Key: the first answer")] = False

    def __post_init__(self) -> None:
        if self.budget_ms is not None:
            _set(self, "budget_ms", _tenth(self.budget_ms))
        if self.elapsed_ms is not None:
            _set(self, "elapsed_ms", _tenth(self.elapsed_ms))

    def without_results(self) -> RunDocument:
        return self.replaced(results=None, results_omitted=None, persisted=None, replayed=False)
