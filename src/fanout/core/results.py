"""What became of each URL: one ``UrlResult`` with one ``Outcome``, and their ``Summary``.

These models are the only definition of a result's JSON form and its schema (answers, reports,
shard outcomes, the OpenAPI document).
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Annotated

import msgspec
from msgspec import Meta

from fanout.core.facts import Check, Redirect, Timings, TlsFacts
from fanout.core.model import Document


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
    def is_cut_by_run(self) -> bool:
        """``cancelled``/``not_started``: the run's deadline or ``on_error`` did it, not the URL."""
        return self in (Outcome.CANCELLED, Outcome.NOT_STARTED)

    @property
    def is_a_failure(self) -> bool:
        """The URL failed on its own: logged one by one, counted as such."""
        return self is not Outcome.OK and not self.is_cut_by_run


GIVEN_UP = "given_up"


class ErrorInfo(Document, frozen=True):
    """Why there is no usable answer: a stable ``type`` and a human ``message``."""

    type: Annotated[str, Meta(description="A stable name: ConnectError, ReadTimeout, given_up, ...")]
    message: Annotated[str, Meta(description="What happened, for a human")]


class UrlResult(Document, frozen=True):
    """One URL's result; an entry with ``expect`` or ``capture_headers`` also carries its checks,
    timings, peer, TLS and headers (docs/checks.md)."""

    url: Annotated[str, Meta(description="The entry's URL, as given")]
    outcome: Annotated[Outcome, Meta(description="What became of it (docs/contract.md)")]
    status_code: Annotated[int | None, Meta(description="The final response's status; null without one")]
    attempts: Annotated[int, Meta(description="Requests sent for it (retries included)")]
    elapsed_ms: Annotated[float | None, Meta(description="From its start to its result, ms (0.1 ms)")]
    bytes: Annotated[int | None, Meta(description="Bytes of the final response's body")]
    error: Annotated[ErrorInfo | None, Meta(description="Why it has no usable response")]
    checks: Annotated[tuple[Check, ...] | None, Meta(description="Each expectation and its verdict")] = None
    degraded: Annotated[bool | None, Meta(description="It passed, but slower than degraded_latency_ms")] = (
        None
    )
    timings: Annotated[Timings | None, Meta(description="The final attempt's phases")] = None
    remote_ip: Annotated[str | None, Meta(description="The address that answered")] = None
    http_version: Annotated[str | None, Meta(description="The HTTP version of the answer: 1.1, 2")] = None
    final_url: Annotated[str | None, Meta(description="The URL that gave the final response")] = None
    redirects: Annotated[tuple[Redirect, ...], Meta(description="The redirects followed, in order")] = ()
    tls: Annotated[TlsFacts | None, Meta(description="The TLS connection that answered (https)")] = None
    headers: Annotated[dict[str, str] | None, Meta(description="The headers captured, by name")] = None
    throttled: Annotated[int, Meta(ge=0, description="Times it waited for its host's turn (rate, pause)")] = 0
    retry_after_ms: Annotated[
        float | None, Meta(description="The last Retry-After it was told (429/503), ms")
    ] = None
    webhook_id: Annotated[
        str | None, Meta(description="A signed delivery's webhook-id (the same on every attempt)")
    ] = None

    def __post_init__(self) -> None:
        if self.elapsed_ms is not None:
            msgspec.structs.force_setattr(self, "elapsed_ms", round(self.elapsed_ms, 1))

    @property
    def failed_checks(self) -> tuple[str, ...]:
        """The names of the checks this URL's response failed (none without checks)."""
        return tuple(c.check for c in self.checks or () if not c.ok)

    @property
    def latency_ms(self) -> float | None:
        """The final attempt's ``total_ms`` when it has timings, else the URL's ``elapsed_ms``."""
        return self.timings.total_ms if self.timings is not None else self.elapsed_ms

    def given_up(self, generation: int) -> UrlResult:
        """This leftover, reported as not continued past ``generation``."""
        message = f"still unfinished at the deadline of generation {generation}: not continued further"
        return self.replaced(error=ErrorInfo(GIVEN_UP, message))


_Count = Annotated[int, Meta(ge=0, description="URLs with this outcome")]


class Summary(Document, frozen=True, omit_defaults=False):
    """Counts by outcome (every outcome present, zero or not) and the ``total`` of URLs.

    The counts add up to the total once every URL has its result; a sharded run in progress
    counts the URLs done so far.
    """

    total: Annotated[int, Meta(description="URLs in the run")] = 0
    ok: _Count = 0
    http_error: _Count = 0
    check_failed: _Count = 0
    failed: _Count = 0
    timed_out: _Count = 0
    cancelled: _Count = 0
    not_started: _Count = 0
    blocked: _Count = 0

    @classmethod
    def of(cls, outcomes: Iterable[Outcome], total: int | None = None) -> Summary:
        found = Counter(outcomes)
        counts = {o.value: found.get(o, 0) for o in Outcome}
        return cls(sum(counts.values()) if total is None else total, **counts)

    @classmethod
    def of_results(cls, results: Iterable[UrlResult]) -> Summary:
        return cls.of(r.outcome for r in results)

    @property
    def counts(self) -> Mapping[Outcome, int]:
        return {o: getattr(self, o.value) for o in Outcome}

    @property
    def done(self) -> int:
        return sum(getattr(self, o.value) for o in Outcome)

    def outcome_counts(self) -> dict[str, int]:
        """``{"ok": n, ...}``: every outcome, no total."""
        return {o.value: getattr(self, o.value) for o in Outcome}
