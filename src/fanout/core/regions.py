"""Probes from several regions, the shared words: which regions a monitor is checked from, how
many must agree (``quorum``), and the report a probe region sends its home region after a run
(docs/monitors.md, "Regions"; docs/architecture.md for the path it takes).

A probe region keeps no monitor state: it fetches, then sends one ``RegionReport`` (its word on
each subject for one scheduled time) to the home region, where observations of the same
``scheduled_at`` from different regions form a round and the monitor's state machine runs on
the rounds' verdicts. The report carries the monitor's spec as the schedule gave it, so the home
region needs nothing from the probe but this document.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from msgspec import Meta
from pydantic import Field

from fanout.core.model import Document
from fanout.core.results import ErrorInfo

REGION_PATTERN = r"^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]{1,2}$"
Region = Annotated[str, Field(pattern=REGION_PATTERN, max_length=32, description="An AWS region: eu-west-1")]
MAX_REGIONS = 10
SILENT_AFTER_DEFAULT = 3


def majority(regions: int) -> int:
    """The default quorum: more than half of the regions."""
    return regions // 2 + 1


def round_of(scheduled_at: str) -> str:
    """The round a scheduled time names, normalised (``2026-12-07T03:50:00Z``), so that the same
    instant written two ways is one round; raises ValueError for what is not a time."""
    text = scheduled_at.strip()
    moment = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    if moment.tzinfo is None:
        raise ValueError("a scheduled time needs its offset (Z)")
    return moment.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


class RegionObservation(Document, frozen=True):
    """One region's word on one subject (a URL, or ``threshold:...``) in one round."""

    subject: Annotated[str, Meta(description="The URL, or threshold:<rule>")]
    passed: Annotated[bool | None, Meta(description="true ok, false failing, null: the run's doing")]
    outcome: Annotated[str, Meta(description="The result's outcome (breached/passed: a threshold)")]
    at: Annotated[float, Meta(description="When observed, epoch seconds")]
    status_code: Annotated[int | None, Meta(description="The final status")] = None
    latency_ms: Annotated[float | None, Meta(description="The response's latency")] = None
    error: Annotated[ErrorInfo | None, Meta(description="Why there is no usable answer")] = None
    checks_failed: Annotated[tuple[str, ...], Meta(description="The checks that failed")] = ()


class RegionReport(Document, frozen=True, kw_only=True, tag_field="kind", tag="region_report"):
    """What a probe region sends the home region after one scheduled run of a regional monitor.

    ``key`` is the probe's delivery (the schedule's event id): a report delivered twice is one
    report. A run with many URLs is sent in ``parts`` (each under the queue's message size); the
    parts of one report share its ``key`` and each is applied on its own.
    """

    monitor: Annotated[dict[str, Any], Meta(description="The monitor's spec, as the schedule gave it")]
    region: Annotated[str, Meta(description="The probe region")]
    scheduled_at: Annotated[str, Meta(description="The round: the schedule's scheduled time")]
    run_id: Annotated[str, Meta(description="The probe's run")]
    key: Annotated[str, Meta(description="The probe's delivery: applied once")]
    sent_at: Annotated[float, Meta(description="When first sent, epoch seconds (kept on a resend)")]
    observations: Annotated[tuple[RegionObservation, ...], Meta(description="Its word per subject")]
    part: Annotated[int, Meta(ge=0, description="This part's index")] = 0
    parts: Annotated[int, Meta(ge=1, description="How many parts the report has")] = 1


class RegionDelivery(Document, frozen=True, kw_only=True):
    """A probe region's run, as its document's ``monitor.region`` says: whether its report reached
    the home region, and what became of reports kept from earlier runs."""

    region: Annotated[str, Meta(description="This (probe) region")]
    home: Annotated[str, Meta(description="The home region")]
    round: Annotated[str, Meta(description="The round this run observed: its scheduled time")]
    sent: Annotated[bool, Meta(description="This run's report reached the home region")]
    parts: Annotated[int, Meta(description="Messages the report took")] = 1
    outbox_delivered: Annotated[int, Meta(description="Reports of earlier runs delivered with this one")] = 0
    outbox_kept: Annotated[int, Meta(description="Reports kept in this region's outbox for a later run")] = 0
    late_dropped: Annotated[int, Meta(description="Kept reports past the round bound, dropped")] = 0
    error: Annotated[str | None, Meta(description="Why the home region was not reached")] = None
