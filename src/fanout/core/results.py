"""What became of each URL: one ``UrlResult`` with one ``Outcome``, and their ``Summary``.

``to_json``/``from_json`` here are the only place a result is turned into JSON and back
(answers, reports, shard outcomes).
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from fanout.core.facts import Details


class Outcome(enum.StrEnum):
    """Exactly one per URL; see docs/contract.md."""

    OK = "ok"
    HTTP_ERROR = "http_error"
    CHECK_FAILED = "check_failed"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"
    NOT_STARTED = "not_started"
    BLOCKED = "blocked"

    @property
    def is_the_runs_doing(self) -> bool:
        """``cancelled``/``not_started``: the run's deadline or ``on_error`` did it, not the URL."""
        return self in (Outcome.CANCELLED, Outcome.NOT_STARTED)

    @property
    def is_a_failure(self) -> bool:
        """The URL failed on its own: logged one by one, counted as such."""
        return self is not Outcome.OK and not self.is_the_runs_doing


GIVEN_UP = "given_up"


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    """Why a URL has no usable response: a stable ``type`` and a human ``message``."""

    type: str
    message: str

    def to_json(self) -> dict[str, str]:
        return {"type": self.type, "message": self.message}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ErrorInfo:
        return cls(str(data["type"]), str(data["message"]))


@dataclass(frozen=True, slots=True)
class UrlResult:
    url: str
    outcome: Outcome
    status_code: int | None = None
    attempts: int = 0
    elapsed_ms: float | None = None
    bytes: int | None = None
    error: ErrorInfo | None = None
    details: Details | None = None

    def to_json(self) -> dict[str, Any]:
        data = {
            "url": self.url,
            "outcome": self.outcome.value,
            "status_code": self.status_code,
            "attempts": self.attempts,
            "elapsed_ms": None if self.elapsed_ms is None else round(self.elapsed_ms, 1),
            "bytes": self.bytes,
            "error": None if self.error is None else self.error.to_json(),
        }
        if self.details is not None:
            data |= self.details.to_json()
        return data

    @property
    def degraded(self) -> bool:
        return bool(self.details is not None and self.details.degraded)

    @property
    def failed_checks(self) -> tuple[str, ...]:
        """The names of the checks this URL's response failed (none without checks)."""
        checks = () if self.details is None else self.details.checks or ()
        return tuple(c.check for c in checks if not c.ok)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> UrlResult:
        error = data.get("error")
        return cls(
            url=data["url"],
            outcome=Outcome(data["outcome"]),
            status_code=data.get("status_code"),
            attempts=data.get("attempts", 0),
            elapsed_ms=data.get("elapsed_ms"),
            bytes=data.get("bytes"),
            error=None if error is None else ErrorInfo.from_json(error),
            details=Details.from_json(data),
        )

    def given_up(self, generation: int) -> UrlResult:
        """This leftover, reported as not continued past ``generation``."""
        message = f"still unfinished at the deadline of generation {generation}: not continued further"
        return replace(self, error=ErrorInfo(GIVEN_UP, message))


@dataclass(frozen=True, slots=True)
class Summary:
    """Counts by outcome (every outcome present, zero or not) and the ``total`` of URLs.

    The counts add up to the total once every URL has its result; a sharded run in progress
    counts the URLs done so far.
    """

    total: int
    counts: Mapping[Outcome, int]

    @classmethod
    def of(cls, outcomes: Iterable[Outcome], total: int | None = None) -> Summary:
        found = Counter(outcomes)
        counts = {o: found.get(o, 0) for o in Outcome}
        return cls(sum(counts.values()) if total is None else total, counts)

    @classmethod
    def of_results(cls, results: Iterable[UrlResult]) -> Summary:
        return cls.of(r.outcome for r in results)

    @property
    def done(self) -> int:
        return sum(self.counts.values())

    def outcome_counts(self) -> dict[str, int]:
        """``{"ok": n, ...}``: every outcome, no total."""
        return {o.value: self.counts.get(o, 0) for o in Outcome}

    def to_json(self) -> dict[str, int]:
        return {"total": self.total} | self.outcome_counts()

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Summary:
        return cls(int(data.get("total", 0)), {o: int(data.get(o.value, 0)) for o in Outcome})
