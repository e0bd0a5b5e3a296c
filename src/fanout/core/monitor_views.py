"""``GET /monitors`` and ``GET /monitors/{name}``: monitors and their URLs as callers see them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta
from msgspec.structs import asdict

from fanout.core.ids import iso_from_epoch
from fanout.core.maintenance import Window, active_window
from fanout.core.model import Document
from fanout.core.monitor_report import MaintenanceNow
from fanout.core.monitors import Health, SubjectState
from fanout.core.results import ErrorInfo
from fanout.core.rounds import RegionFacts
from fanout.core.thresholds import ThresholdResult

_Iso = Annotated[str | None, Meta(description="ISO 8601 UTC; null: never")]
_Ratio = Annotated[float | None, Meta(description="The share of checks that passed; null: none")]
_Ms = Annotated[float | None, Meta(description="Milliseconds; null: no latency today")]


def _iso(epoch: float | None) -> str | None:
    return None if epoch is None else iso_from_epoch(epoch)


class LastCheck(Document, frozen=True, omit_defaults=False):
    """A URL's last observation."""

    outcome: Annotated[str, Meta(description="Its outcome (docs/contract.md)")]
    status_code: Annotated[int | None, Meta(description="Its final status")]
    error: Annotated[ErrorInfo | None, Meta(description="Why it had no usable response")]
    checks_failed: Annotated[tuple[str, ...], Meta(description="The checks it failed")]
    run_id: Annotated[str, Meta(description="The run that observed it")]
    latency_ms: Annotated[float | None, Meta(description="Its latency, ms (0.1 ms)")]


class Uptime(Document, frozen=True, omit_defaults=False):
    """Uptime over the last 24 hours, 7 and 30 days."""

    last_24h: _Ratio = msgspec.field(name="24h")
    last_7d: _Ratio = msgspec.field(name="7d")
    last_30d: _Ratio = msgspec.field(name="30d")


class Latency(Document, frozen=True, omit_defaults=False):
    """Today's latency percentiles."""

    p50_ms: _Ms
    p95_ms: _Ms


class RegionDay(Document, frozen=True, omit_defaults=False):
    """One UTC day of a URL as one region saw it."""

    day: Annotated[str, Meta(description="YYYY-MM-DD (UTC)")]
    ok: Annotated[int, Meta(description="Its checks that passed")]
    failed: Annotated[int, Meta(description="Its checks that failed")]
    p50_ms: _Ms
    p95_ms: _Ms


class UrlRegion(Document, frozen=True, omit_defaults=False):
    """A regional monitor's URL as one region saw it: its last word, and its days."""

    region: Annotated[str, Meta(description="The region")]
    passed: Annotated[bool | None, Meta(description="Its last check passed (null: neither)")]
    outcome: Annotated[str, Meta(description="Its last check's outcome")]
    status_code: Annotated[int | None, Meta(description="Its last check's final status")]
    latency_ms: Annotated[float | None, Meta(description="Its last check's latency, ms")]
    checked_at: Annotated[str, Meta(description="When, ISO 8601 UTC")]
    days: Annotated[tuple[RegionDay, ...], Meta(description="Its last days, oldest first (p50/p95)")]

    @classmethod
    def of(cls, facts: RegionFacts) -> UrlRegion:
        last = facts.last
        days = tuple(RegionDay(d.day, d.ok, d.failed, *d.latency) for d in facts.days)
        latency = None if last.latency_ms is None else round(last.latency_ms, 1)
        checked = iso_from_epoch(last.at)
        return cls(facts.region, last.passed, last.outcome, last.status_code, latency, checked, days)


class RegionLiveness(Document, frozen=True, omit_defaults=False):
    """A regional monitor's region: reporting, silent (it missed ``silent_after`` rounds), unknown."""

    region: Annotated[str, Meta(description="The region")]
    status: Annotated[
        Literal["reporting", "silent", "unknown"], Meta(description="reporting, silent, or unknown (never)")
    ]
    since: _Iso
    last_round: Annotated[str | None, Meta(description="The last round it reported (null: none)")]
    missed: Annotated[int, Meta(description="Rounds others reported since its last")]


class MonitorUrl(Document, frozen=True, omit_defaults=False):
    """One URL of a monitor: its status, last check, uptime and today's latency."""

    url: Annotated[str, Meta(description="The URL")]
    status: Annotated[Health, Meta(description="unknown, up or down")]
    since: Annotated[str | None, Meta(description="Since when it has this status, ISO 8601 UTC")]
    last_checked_at: _Iso
    consecutive_failures: Annotated[int, Meta(description="Failures in a row")]
    consecutive_successes: Annotated[int, Meta(description="Successes in a row")]
    last: Annotated[LastCheck | None, Meta(description="Its last observation")]
    uptime: Uptime
    latency_today: Latency
    pending_alerts: Annotated[int, Meta(description="Alerts not yet sent")]
    suppressed_by: Annotated[
        tuple[str, ...], Meta(description="What holds its owed alert: maintenance, or dependencies down")
    ] = ()
    regions: Annotated[
        tuple[UrlRegion, ...],
        Meta(description="A regional monitor's: what each region saw (docs/monitors.md)"),
    ] = ()

    @classmethod
    def of(cls, state: SubjectState, now: float) -> MonitorUrl:
        last, history = state.last, state.history
        today = history.today(now)
        p50, p95 = today.latency if today is not None else (None, None)
        checked = None
        if last is not None:
            latency = None if last.latency_ms is None else round(last.latency_ms, 1)
            checked = LastCheck(
                last.outcome, last.status_code, last.error, last.checks_failed, last.run_id, latency
            )
        return cls(
            url=state.subject,
            status=state.status,
            since=_iso(state.since),
            last_checked_at=_iso(state.last_checked_at),
            consecutive_failures=state.failures,
            consecutive_successes=state.successes,
            last=checked,
            uptime=Uptime(history.uptime_24h(now), history.uptime_days(now, 7), history.uptime_days(now, 30)),
            latency_today=Latency(p50, p95),
            pending_alerts=len(state.pending),
            suppressed_by=state.suppressed_by,
            regions=tuple(UrlRegion.of(f) for f in state.region_facts),
        )


_Count = Annotated[int | None, Meta(description="The monitor's URLs with this status after its last run")]
_SUMMARY_KEYS = (
    "name", "last_run_id", "last_run_at", "urls", "up", "down", "unknown", "failure_threshold",
    "success_threshold", "thresholds", "group", "tags",
)  # fmt: skip


class MonitorSummary(Document, frozen=True, omit_defaults=False, kw_only=True):
    """A monitor as its last run left it."""

    name: Annotated[str, Meta(description="The monitor")]
    last_run_id: Annotated[str | None, Meta(description="Its last run")]
    last_run_at: _Iso
    urls: Annotated[int | None, Meta(description="Its URLs")]
    up: _Count
    down: _Count
    unknown: _Count
    failure_threshold: Annotated[int | None, Meta(description="Failures in a row that make a URL down")]
    success_threshold: Annotated[int | None, Meta(description="Successes in a row that make it up again")]
    thresholds: Annotated[tuple[ThresholdResult, ...], Meta(description="Its last run's thresholds")] = ()
    group: Annotated[str | None, Meta(description="Its group (the monitors file's group)")] = None
    tags: Annotated[dict[str, str], Meta(description="Its tags (the monitors file's tags)")] = msgspec.field(
        default_factory=dict
    )
    maintenance_active: Annotated[bool, Meta(description="A maintenance window is active now")] = False
    maintenance: Annotated[MaintenanceNow | None, Meta(description="That window (null: none)")] = None
    dependencies_down: Annotated[
        tuple[str, ...], Meta(description="Its depends_on its last run found down")
    ] = ()
    quorum: Annotated[int | None, Meta(description="A regional monitor's quorum (null: not regional)")] = None
    regions: Annotated[
        tuple[RegionLiveness, ...],
        Meta(description="A regional monitor's regions: which report, which are silent"),
    ] = ()

    @classmethod
    def of(cls, summary: Mapping[str, Any], now: float | None = None) -> MonitorSummary:
        """From a stored summary (any field it lacks is null); its maintenance window as of ``now``."""
        fields: dict[str, Any] = {k: summary.get(k) for k in _SUMMARY_KEYS}
        fields["thresholds"] = fields["thresholds"] or ()
        fields["tags"] = fields["tags"] or {}
        fields["dependencies_down"] = summary.get("dependencies_down") or ()
        fields["quorum"] = summary.get("quorum")
        fields["regions"] = [_liveness(r) for r in summary.get("regions") or ()]
        if now is not None and summary.get("maintenance"):
            windows = [Window.model_validate(w) for w in summary["maintenance"]]
            active = active_window(windows, now)
            if active is not None:
                fields |= {"maintenance_active": True, "maintenance": active.to_json()}
        return msgspec.convert(fields, MonitorSummary, strict=False)


def _liveness(stored: Mapping[str, Any]) -> dict[str, Any]:
    return {**stored, "since": _iso(stored.get("since"))}


class MonitorListing(Document, frozen=True, omit_defaults=False):
    """``GET /monitors``: the monitors, by name, and the cursor of the next page."""

    monitors: Annotated[tuple[MonitorSummary, ...], Meta(description="Monitors, by name")]
    next_cursor: Annotated[str | None, Meta(description="The next page's cursor; null: the last page")]

    @classmethod
    def of(
        cls, summaries: Sequence[Mapping[str, Any]], next_cursor: str | None, now: float | None = None
    ) -> MonitorListing:
        return cls(tuple(MonitorSummary.of(s, now) for s in summaries), next_cursor)


class MonitorView(MonitorSummary, frozen=True, kw_only=True):
    """``GET /monitors/{name}``: a monitor and a page of its URLs."""

    urls_page: Annotated[tuple[MonitorUrl, ...], Meta(description="A page of its URLs")]
    next_cursor: Annotated[str | None, Meta(description="The next page's cursor; null: the last page")]

    @classmethod
    def at(
        cls, summary: Mapping[str, Any], states: Sequence[SubjectState], next_cursor: str | None, now: float
    ) -> MonitorView:
        urls_page = tuple(MonitorUrl.of(s, now) for s in states)
        return cls(**asdict(MonitorSummary.of(summary, now)), urls_page=urls_page, next_cursor=next_cursor)
