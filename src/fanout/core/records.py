"""What the runs table keeps of a run, and how ``GET /runs`` shows it.

- ``RunRecord``: a run's document without results, when it finished, where its report is;
  for a sharded run its options and shard bookkeeping (``Generations``). ``RecordFields`` is
  its stored form.
- ``RecordView``: a record as ``GET /runs`` lists it; ``RunView``: as ``GET /runs/{run_id}``
  shows it, with the run's results (or why not).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from msgspec import Meta
from msgspec.structs import asdict

from fanout.core.documents import SHARDED, ResultsOmitted, RunDocument, RunStatus
from fanout.core.ids import iso_from_epoch
from fanout.core.model import SCHEMA_REF, Document
from fanout.core.monitors import MonitorSpec
from fanout.core.requests import Options
from fanout.core.results import ErrorInfo, UrlResult


class ReportLocation(Document, frozen=True):
    """Where a run's report is (S3)."""

    bucket: Annotated[str, Meta(description="The reports bucket")]
    key: Annotated[str, Meta(description="The report's key")]


class Progress(Document, frozen=True, omit_defaults=False):
    """A sharded run's progress."""

    shards_done: Annotated[int, Meta(description="Shards counted")]
    shards_total: Annotated[int, Meta(description="Shards in the run")]
    urls_done: Annotated[int, Meta(description="URLs with a final result")]
    urls_total: Annotated[int, Meta(description="URLs in the run")]


def _request_part(name: str, description: str) -> Any:
    """A field holding a part of the request (a pydantic model, dumped): its schema is the
    request's own component."""
    return Meta(description=description, extra_json_schema={"$ref": SCHEMA_REF.format(name=name)})


class _RecordBase(RunDocument, frozen=True, kw_only=True):
    """A run's document without results, and what the runs table keeps beside it."""

    finished_at: Annotated[str | None, Meta(description="When it finished; null while it runs")]
    report: Annotated[ReportLocation | None, Meta(description="Where its report is")]
    options: Annotated[Any, _request_part("Options", "A sharded run's options")] = None
    max_generations: Annotated[int | None, Meta(description="A sharded run's last generation")] = None
    error: Annotated[ErrorInfo | None, Meta(description="Why the run failed")] = None
    monitor_spec: Annotated[Any, _request_part("MonitorSpec", "A sharded monitor run's monitor")] = None
    observation_key: Annotated[str | None, Meta(description="What its monitor observation is keyed by")] = (
        None
    )
    scheduled_at: Annotated[str | None, Meta(description="A regional monitor run's round")] = None


class RecordFields(_RecordBase, frozen=True, kw_only=True):
    """A run as the runs table stores it (the codec adds its key and bookkeeping)."""

    expires_at: Annotated[float | None, Meta(description="When the record expires, epoch seconds")] = None


class RecordView(_RecordBase, frozen=True, kw_only=True):
    """A run as ``GET /runs`` lists it: ``expires_at`` in ISO 8601, a sharded run's progress."""

    expires_at: Annotated[str | None, Meta(description="When the record expires, ISO 8601 UTC")] = None
    progress: Annotated[Progress | None, Meta(description="A sharded run's progress")] = None


class RunView(RecordView, frozen=True, kw_only=True):
    """``GET /runs/{run_id}``: the record and the results (null while a sharded run runs, or
    with ``results_error`` when the report cannot be read)."""

    results_error: Annotated[ErrorInfo | None, Meta(description="Why the results cannot be read")] = None
    results: Annotated[tuple[UrlResult, ...] | None, Meta(description="One per URL, in input order")]

    @classmethod
    def of(
        cls,
        record: RunRecord,
        results: tuple[UrlResult, ...] | None = None,
        *,
        results_error: ErrorInfo | None = None,
        results_omitted: ResultsOmitted | None = None,
        report: RunDocument | None = None,
    ) -> RunView:
        """``record`` with its results; ``report``: the run's report, for what only it holds."""
        fields = asdict(record.to_view())
        if report is not None:
            fields |= {
                k: v for k in ("degraded", "thresholds", "monitor") if (v := getattr(report, k)) is not None
            }
        fields |= {"results": results, "results_error": results_error, "results_omitted": results_omitted}
        return cls(**fields)


@dataclass(frozen=True, slots=True)
class Generations:
    """A sharded run's generation bookkeeping (never shown): every generation's leftovers are
    gathered into one continuation, sent once the whole generation is counted.

    ``sent`` counts the shard messages sent so far; ``generation`` is the one they belong to;
    ``cut`` holds the counted shards that left leftovers (each also holds a place in
    ``shards_total`` until its generation is collected); ``collector`` is the shard that
    collected the latest generation and ``sent_generation`` the latest generation whose messages
    were all sent (until it reaches ``generation``, the collector's redelivery sends them again).
    """

    sent: int
    generation: int
    cut: frozenset[str] = frozenset()
    collector: str | None = None
    sent_generation: int | None = None  # None: ``generation``

    @property
    def unsent(self) -> bool:
        """The latest generation was collected, its messages not all sent yet."""
        return self.sent_generation is not None and self.sent_generation < self.generation

    def cut_in(self, generation: int) -> list[str]:
        """The shards of ``generation`` whose leftovers its continuation gathers, in order."""
        return sorted(s for s in self.cut if s.endswith(f"-g{generation}"))


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
    scheduled_at: str | None = None  # a regional monitor run's round, for its completion
    generations: Generations | None = None  # None: a run from before leftovers were gathered

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

    @property
    def generation_counted(self) -> bool:
        """A running sharded run whose every shard sent is counted, with leftovers to gather."""
        doc, g = self.document, self.generations
        return (
            doc.status is RunStatus.RUNNING
            and g is not None
            and doc.shards_done == g.sent
            and g.sent < (doc.shards_total or 0)
        )

    def fields(self) -> RecordFields:
        """Its stored form (without ``expires_at``: the codec writes the TTL)."""
        doc = asdict(self.document.without_results())
        return RecordFields(
            **doc,
            report=self.report,
            options=None if self.options is None else self.options.model_dump(mode="json"),
            max_generations=self.max_generations,
            error=self.error,
            monitor_spec=None if self.monitor is None else self.monitor.model_dump(mode="json"),
            observation_key=self.observation_key,
            scheduled_at=self.scheduled_at,
        )

    def to_json(self) -> dict[str, Any]:
        return self.fields().to_json()

    @classmethod
    def from_json(
        cls,
        data: dict[str, Any],
        done_shards: frozenset[str] = frozenset(),
        generations: Generations | None = None,
    ) -> RunRecord:
        stored = RecordFields.from_json(data)
        names = RunDocument.__struct_fields__
        return cls(
            document=RunDocument(**{k: getattr(stored, k) for k in names}),
            report=stored.report,
            expires_at=stored.expires_at,
            options=None if stored.options is None else Options.model_validate(stored.options, strict=False),
            max_generations=stored.max_generations,
            error=stored.error,
            done_shards=done_shards,
            generations=generations,
            monitor=None if stored.monitor_spec is None else MonitorSpec.model_validate(stored.monitor_spec),
            observation_key=stored.observation_key,
            scheduled_at=stored.scheduled_at,
        )

    def progress(self) -> Progress:
        doc = self.document
        return Progress(doc.shards_done or 0, doc.shards_total or 0, doc.summary.done, doc.summary.total)

    def to_view(self) -> RecordView:
        """As ``GET /runs`` shows it: ``expires_at`` in ISO 8601, a sharded run's progress."""
        fields = asdict(self.fields())
        fields["expires_at"] = None if self.expires_at is None else iso_from_epoch(self.expires_at)
        return RecordView(**fields, progress=self.progress() if self.sharded else None)


class RunListing(Document, frozen=True, omit_defaults=False):
    """``GET /runs``: the most recent runs, newest first, and the cursor of the next page."""

    runs: Annotated[tuple[RecordView, ...], Meta(description="Runs, newest first")]
    limit: Annotated[int, Meta(description="The page size asked for")]
    next_cursor: Annotated[str | None, Meta(description="The next page's cursor; null: the last page")]
