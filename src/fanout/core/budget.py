"""The invocation's clock and the run's deadline: computed once, passed down as one value.

All instants are on the monotonic clock the event loop uses (``loop.time()`` is
``time.monotonic()`` for asyncio's loop)::

    timeout_at = invocation start + clamp(remaining time)                 Lambda's timeout
    answer_by  = timeout_at - margin        margin  = base + per URL x URLs
    work_by    = answer_by - cleanup        cleanup = per fetch in flight x min(URLs, concurrency)
    persist_by = work_by - after            after:   what follows persistence (the idempotency record)
    monitor_by = persist_by - persist       persist: writing the report and the record (or a shard's finish)
    fetch_by   = monitor_by - monitor       monitor: the monitor's state updates and alerts (monitor runs)

- **answer_by** is when the handler returns its answer; the **margin** pays for what comes
  after it before Lambda's timeout (the decorators flush metrics and logs, the runtime
  serialises and sends the answer, which grows with the URLs).
- **work_by** is when everything inside the invocation's loop must end; the **cleanup** pays
  for cancelling and awaiting every fetch still in flight, closing their connections,
  building the document and the run's log lines. ``make bench`` measures it per fetch in flight.
- The reserves (**monitor**, **persist**, **after**) are cut from the end of the work budget,
  together never more than half of it, so a short invocation still fans out. Inline runs and shards slice the
  same way (a shard's persist reserve is its finish: results, counts, continuation, merge).

``cap_s`` (API Gateway's 30 s integration timeout) bounds ``answer_by`` the same way.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol

from fanout.config import Settings

LAMBDA_MAX_REMAINING_MS = 15 * 60 * 1000


class LambdaContextLike(Protocol):
    """What the service reads of Lambda's context object."""

    def get_remaining_time_in_millis(self) -> int: ...


def clamp_remaining_ms(remaining_ms: float) -> float:
    """Lambda's remaining time, clamped to [0, 15 min] (emulators have reported nonsense)."""
    if remaining_ms != remaining_ms:  # NaN
        return 0.0
    return min(max(float(remaining_ms), 0.0), float(LAMBDA_MAX_REMAINING_MS))


def margin_s(n_urls: int, settings: Settings) -> float:
    """From the answer to Lambda's timeout: base + per-URL allowance."""
    return (settings.deadline_margin_base_ms + settings.deadline_margin_per_url_ms * n_urls) / 1000


def cleanup_s(in_flight: int, settings: Settings) -> float:
    """From the end of the work to the answer, for ``in_flight`` fetches in flight."""
    return settings.deadline_cleanup_per_url_ms * max(0, in_flight) / 1000


@dataclass(frozen=True, slots=True)
class RunDeadline:
    """The named instants of one run (monotonic seconds), from its start to Lambda's timeout."""

    started: float
    fetch_by: float
    monitor_by: float
    persist_by: float
    work_by: float
    answer_by: float
    timeout_at: float

    @property
    def fetch_budget_s(self) -> float:
        """The fan-out's time: what the document reports as ``budget_ms``."""
        return max(0.0, self.fetch_by - self.started)

    @property
    def work_budget_s(self) -> float:
        return max(0.0, self.work_by - self.started)

    @property
    def margin_s(self) -> float:
        return self.timeout_at - self.answer_by

    @property
    def cleanup_s(self) -> float:
        return self.answer_by - self.work_by


@dataclass(frozen=True, slots=True)
class InvocationClock:
    """When the invocation started (monotonic) and how long Lambda gave it (clamped)."""

    started: float
    remaining_ms: float

    @classmethod
    def begin(cls, remaining_ms: float, now: float | None = None) -> InvocationClock:
        started = time.monotonic() if now is None else now
        return cls(started=started, remaining_ms=clamp_remaining_ms(remaining_ms))

    @classmethod
    def of(cls, context: LambdaContextLike) -> InvocationClock:
        return cls.begin(context.get_remaining_time_in_millis())

    @property
    def timeout_at(self) -> float:
        return self.started + self.remaining_ms / 1000

    def slack_ms(self, now: float | None = None) -> float:
        """Time left before the Lambda timeout, now."""
        return (self.timeout_at - (time.monotonic() if now is None else now)) * 1000

    def share(self, parts: int, now: float | None = None) -> InvocationClock:
        """A clock starting now with 1/``parts`` of the time left (one of ``parts`` records)."""
        start = time.monotonic() if now is None else now
        return InvocationClock(started=start, remaining_ms=max(0.0, self.slack_ms(start)) / max(parts, 1))

    def deadline(
        self,
        n_urls: int,
        settings: Settings,
        *,
        in_flight: int | None = None,
        cap_s: float | None = None,
        persist_s: float = 0.0,
        after_s: float = 0.0,
        monitor_s: float = 0.0,
    ) -> RunDeadline:
        """The deadline of a run of ``n_urls``, anchored at the invocation's start, whenever asked.

        ``in_flight`` is how many fetches can be in flight at once (min(URLs, the request's
        ``concurrency``)); by default min(``n_urls``, ``settings.max_concurrency``), the most
        any request can have.
        """
        timeout_at = self.timeout_at
        margin = margin_s(n_urls, settings)
        answer_budget = max(0.0, self.remaining_ms / 1000 - margin)
        if cap_s is not None:
            answer_budget = min(answer_budget, max(0.0, cap_s - margin))
        if in_flight is None:
            in_flight = min(n_urls, settings.max_concurrency)
        work_budget = max(0.0, answer_budget - cleanup_s(in_flight, settings))
        reserve = monitor_s + persist_s + after_s
        if reserve > work_budget / 2:
            scale = work_budget / 2 / reserve
            monitor_s, persist_s, after_s = monitor_s * scale, persist_s * scale, after_s * scale
        work_by = self.started + work_budget
        return RunDeadline(
            started=self.started,
            fetch_by=work_by - after_s - persist_s - monitor_s,
            monitor_by=work_by - after_s - persist_s,
            persist_by=work_by - after_s,
            work_by=work_by,
            answer_by=self.started + answer_budget,
            timeout_at=timeout_at,
        )
