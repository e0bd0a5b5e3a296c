"""``GET /monitors`` and ``GET /monitors/{name}``: monitors and their URLs as callers see them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fanout.core.ids import iso_from_epoch
from fanout.core.monitors import SubjectState


def _iso(epoch: float | None) -> str | None:
    return None if epoch is None else iso_from_epoch(epoch)


def subject_view(state: SubjectState, now: float) -> dict[str, Any]:
    """One URL's status, last check, uptime over 24 h / 7 d / 30 d and today's latency."""
    last = state.last
    history = state.history
    today = history.today(now)
    p50, p95 = today.latency if today is not None else (None, None)
    return {
        "url": state.subject,
        "status": state.status.value,
        "since": _iso(state.since),
        "last_checked_at": _iso(state.last_checked_at),
        "consecutive_failures": state.failures,
        "consecutive_successes": state.successes,
        "last": None
        if last is None
        else {
            "outcome": last.outcome,
            "status_code": last.status_code,
            "error": None if last.error is None else last.error.to_json(),
            "checks_failed": list(last.checks_failed),
            "run_id": last.run_id,
            "latency_ms": None if last.latency_ms is None else round(last.latency_ms, 1),
        },
        "uptime": {
            "24h": history.uptime_24h(now),
            "7d": history.uptime_days(now, 7),
            "30d": history.uptime_days(now, 30),
        },
        "latency_today": {"p50_ms": p50, "p95_ms": p95},
        "pending_alerts": len(state.pending),
    }


def summary_view(summary: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("name", "last_run_id", "last_run_at", "urls", "up", "down", "unknown")
    view = {k: summary.get(k) for k in keys}
    view["failure_threshold"] = summary.get("failure_threshold")
    view["success_threshold"] = summary.get("success_threshold")
    view["thresholds"] = summary.get("thresholds") or []
    view["group"] = summary.get("group")
    view["tags"] = summary.get("tags") or {}
    return view


@dataclass(frozen=True, slots=True)
class MonitorListing:
    monitors: tuple[Mapping[str, Any], ...]
    next_cursor: str | None

    def to_json(self) -> dict[str, Any]:
        return {"monitors": [summary_view(m) for m in self.monitors], "next_cursor": self.next_cursor}


@dataclass(frozen=True, slots=True)
class MonitorView:
    summary: Mapping[str, Any]
    states: Sequence[SubjectState]
    next_cursor: str | None
    now: float

    def to_json(self) -> dict[str, Any]:
        view = summary_view(self.summary)
        view["urls_page"] = [subject_view(s, self.now) for s in self.states]
        view["next_cursor"] = self.next_cursor
        return view
