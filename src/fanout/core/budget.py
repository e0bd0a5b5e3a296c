"""The invocation's clock and the run's deadline: computed once, passed down as one value.

All instants are on the monotonic clock the event loop uses (``loop.time()`` is
``time.monotonic()`` for asyncio's loop)::

    timeout_at = invocation start + clamp(remaining time)                 Lambda's timeout
    answer_by  = timeout_at - margin        margin  = base + per URL x URLs
    work_by    = answer_by - cleanup        cleanup = per fetch in flight x min(URLs, concurrency)
                                            (per fetch: learned from the last runs cut, CleanupCost)
    persist_by = work_by - after            after:   what follows persistence (the idempotency record)
    monitor_by = persist_by - persist       persist: writing the report and the record (or a shard's finish)
    fetch_by   = monitor_by - monitor       monitor: the monitor's state updates and alerts (monitor runs)

- **answer_by** is when the handler returns its answer; the **margin** pays for what comes
  after it before Lambda's timeout (the decorators flush metrics and logs, the runtime
  serialises and sends the answer, which grows with the URLs).
- **work_by** is when everything inside the invocation's loop must end; the **cleanup** pays
  for cancelling and awaiting every fetch still in flight, closing their connections,
  building the document and the run's log lines. It is learned, per fetch in flight, from the
  runs this process cut by their deadline (``CleanupCost``); ``make bench`` measures it.
- The reserves (**monitor**, **persist**, **after**) are cut from the end of the work budget,
  together never more than half of it, so a short invocation still fans out. Inline runs and shards slice the
  same way (a shard's persist reserve is its finish: results, counts, continuation, merge).

``cap_s`` (API Gateway's 30 s integration timeout) bounds ``answer_by`` the same way.
"""

from __future__ import annotations

import statistics
import time
from collections import deque
from dataclasses import dataclass
from typing import Protocol

LAMBDA_MAX_REMAINING_MS = 15 * 60 * 1000


class LambdaContextLike(Protocol):
    """What the service reads of Lambda's context object."""

    def get_remaining_time_in_millis(self) -> int: ...


def clamp_remaining_ms(remaining_ms: float) -> float:
    """Lambda's remaining time, clamped to [0, 15 min] (emulators have reported nonsense)."""
    if remaining_ms != remaining_ms:  # NaN
        return 0.0
    return min(max(float(remaining_ms), 0.0), float(LAMBDA_MAX_REMAINING_MS))


class DeadlineSettings(Protocol):
    """What a deployment sets for deadlines (``fanout.config.Settings`` is one): the core reads no
    setting, its callers pass them in."""

    @property
    def deadline_margin_base_ms(self) -> float: ...
    @property
    def deadline_margin_per_url_ms(self) -> float: ...
    @property
    def deadline_cleanup_per_url_ms(self) -> float: ...
    @property
    def function_memory_mb(self) -> int: ...
    @property
    def max_concurrency(self) -> int: ...


def margin_s(n_urls: int, settings: DeadlineSettings) -> float:
    """From the answer to Lambda's timeout: base + per-URL allowance."""
    return (settings.deadline_margin_base_ms + settings.deadline_margin_per_url_ms * n_urls) / 1000


FULL_VCPU_MB = 1_769
"""The memory size at which Lambda gives a function one whole vCPU (CPU scales with memory)."""


def cpu_share(settings: DeadlineSettings) -> float:
    """The function's share of one vCPU, from its memory size (1.0 where it is unknown)."""
    memory_mb = settings.function_memory_mb
    return min(1.0, memory_mb / FULL_VCPU_MB) if memory_mb > 0 else 1.0


def cleanup_s(in_flight: int, settings: DeadlineSettings) -> float:
    """From the end of the work to the answer, for ``in_flight`` fetches in flight (the setting):
    cancelling and awaiting them is CPU work, so it takes longer on a smaller share of a vCPU."""
    return settings.deadline_cleanup_per_url_ms / cpu_share(settings) * max(0, in_flight) / 1000


class CleanupCost:
    """What a run cut by its deadline really spends, per fetch in flight, from the deadline to its
    answer (cancelling and awaiting them, closing the client, the document, the answer), learned
    from this process's last runs with at least ``LEARN_MIN`` fetches in flight.

    Why learned: the cost depends on the CPU the function gets (memory size, architecture,
    neighbours), so a fixed allowance is either too large (time given up on every cut run) or too
    small. Runs with fewer fetches in flight, or before any run was cut, use the setting.
    """

    LEARN_MIN = 100
    SAMPLES = 9
    BOUNDS = (0.25, 4.0)  # the learned cost stays within these multiples of the setting

    def __init__(self) -> None:
        self._per_fetch_s: deque[float] = deque(maxlen=self.SAMPLES)
        self._cut: tuple[RunDeadline, int] | None = None

    def cut(self, deadline: RunDeadline, in_flight: int) -> None:
        """A run was cut at its ``fetch_by`` with ``in_flight`` fetches in flight. Learned only
        when nothing is reserved between its fetch deadline and its work deadline (a store's or a
        monitor's reserve would be counted as cleanup)."""
        learn = in_flight >= self.LEARN_MIN and deadline.fetch_by >= deadline.work_by
        self._cut = (deadline, in_flight) if learn else None

    def answered(self, now: float | None = None) -> None:
        """The answer of the run last ``cut`` is ready: learn what its cleanup cost."""
        if self._cut is None:
            return
        deadline, in_flight = self._cut
        self._cut = None
        now = time.monotonic() if now is None else now
        if deadline.fetch_by < now <= deadline.timeout_at:  # else not this invocation's answer
            self._per_fetch_s.append((now - deadline.fetch_by) / in_flight)

    def forget(self) -> None:
        self._per_fetch_s.clear()
        self._cut = None

    def seconds(self, in_flight: int, settings: DeadlineSettings) -> float:
        """The cleanup allowance for ``in_flight`` fetches: learned when it can be, else the setting."""
        prior = cleanup_s(in_flight, settings)
        if in_flight < self.LEARN_MIN or not self._per_fetch_s or prior <= 0:
            return prior
        learned = statistics.median(self._per_fetch_s) * in_flight
        low, high = self.BOUNDS
        return min(max(learned, prior * low), prior * high)


CLEANUP_COST = CleanupCost()
"""The process's (a warm Lambda's) learned cleanup cost: fed by runs cut by their deadline."""


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
        settings: DeadlineSettings,
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
        work_budget = max(0.0, answer_budget - CLEANUP_COST.seconds(in_flight, settings))
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
