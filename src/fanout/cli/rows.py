"""A result document (as JSON) read the way every output format reads it: one row per URL,
and what the document says about the run as an exit status.

Every format works on the JSON documents the service answers (a run, ``GET /runs/{id}``, a
sharded launch), so a run here, a direct invoke and an API call print the same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fanout.cli.errors import EXIT_NOT_OK, EXIT_OK

Document = Mapping[str, Any]
RUNS_DOING = {
    "cancelled": "still in flight when the run's deadline came (or on_error=cancel stopped the run)",
    "not_started": "the run's deadline came (or on_error=cancel stopped the run) before it started",
}


@dataclass(frozen=True, slots=True)
class Row:
    """One URL's result, ``index`` from 1; ``method`` is None when the request is not known
    (``fanout runs show``: a run record does not keep its entries)."""

    index: int
    method: str | None
    result: Mapping[str, Any]

    @property
    def url(self) -> str:
        return str(self.result.get("url", ""))

    @property
    def outcome(self) -> str:
        return str(self.result.get("outcome", ""))

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"

    @property
    def total_ms(self) -> float | None:
        """The last attempt's whole time (results with an ``expect`` or captured headers)."""
        return (self.result.get("timings") or {}).get("total_ms")

    @property
    def cert_days(self) -> float | None:
        return (self.result.get("tls") or {}).get("days_to_expiry")

    @property
    def failed_checks(self) -> list[str]:
        return [str(c.get("check")) for c in self.result.get("checks") or [] if not c.get("ok")]

    @property
    def error(self) -> Mapping[str, Any]:
        return self.result.get("error") or {}

    @property
    def why(self) -> str:
        """Why the URL is not plainly ok: its failed checks, its error type, or ``degraded``."""
        if self.failed_checks:
            return ", ".join(self.failed_checks)
        if self.error.get("type"):
            return str(self.error["type"])
        return "degraded" if self.result.get("degraded") else ""

    def failure_message(self) -> str:
        """One line for a failed test: the outcome, then what failed."""
        checks = [c for c in self.result.get("checks") or [] if not c.get("ok")]
        if checks:
            shown = [
                f"{c.get('check')} expected {c.get('expected')!r}, got {c.get('actual')!r}" for c in checks
            ]
            return f"{self.outcome}: {'; '.join(shown)}"
        if self.error:
            return f"{self.outcome}: {self.error.get('type')}: {self.error.get('message')}"
        status = self.result.get("status_code")
        if status is not None:
            return f"{self.outcome}: HTTP {status}"
        return f"{self.outcome}: {RUNS_DOING.get(self.outcome, 'no answer')}"


def methods_of(request: Mapping[str, Any]) -> list[str | None]:
    """Each entry's method in a request document (GET for a bare URL); none for a target list."""
    entries = request.get("urls")
    if not isinstance(entries, list):
        return []
    return [str(e.get("method") or "GET").upper() if isinstance(e, Mapping) else "GET" for e in entries]


def rows_of(document: Document, methods: Sequence[str | None] = ()) -> list[Row]:
    """The document's results as rows; ``methods`` (by position) when it matches the results."""
    results: list[Mapping[str, Any]] = list(document.get("results") or [])
    known = list(methods) if len(methods) == len(results) else [None] * len(results)
    return [Row(i + 1, m, r) for i, (m, r) in enumerate(zip(known, results, strict=True))]


def breached(document: Document) -> list[Mapping[str, Any]]:
    """The run's thresholds that were not met."""
    return [t for t in document.get("thresholds") or [] if t.get("ok") is False]


def exit_status(document: Document) -> int:
    """0 when every URL of the run ended ``ok`` and no threshold was breached; 1 otherwise,
    and for a run still running or failed (its URLs are not all known to be ok)."""
    if document.get("status") in ("running", "failed"):
        return EXIT_NOT_OK
    summary = document.get("summary") or {}
    total = int(summary.get("total", 0))
    if total == 0 or int(summary.get("ok", 0)) != total or breached(document):
        return EXIT_NOT_OK
    return EXIT_OK
