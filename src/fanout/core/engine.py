"""The fan-out engine: run many jobs concurrently under one absolute deadline.

It knows nothing of HTTP or AWS. It gets jobs (an awaitable factory and a grouping
key), caps (global and per key), an absolute deadline on the event loop's clock
(``loop.time()``, i.e. ``time.monotonic()``), and an optional ``stop_when`` predicate
that ends the run early (``asyncio.TaskGroup`` semantics). It returns one ``JobReport``
per job, in input order, whatever happened:

- ``done``: the job returned a value (the caller decides whether that value is good);
- ``raised``: the job raised an ``Exception`` (kept, never mixed into values);
- ``cancelled``: the job was running when the deadline came or the run was stopped;
- ``not_started``: the deadline came, or the run was stopped, before it got a slot.

Every task the engine starts is finished (cancelled and awaited) before it returns.
``CancelledError`` from outside is never swallowed: the children are cancelled and
awaited by the ``TaskGroup`` and the cancellation propagates.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")


class JobState(enum.StrEnum):
    NOT_STARTED = "not_started"
    RUNNING = "running"
    DONE = "done"
    RAISED = "raised"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class Job(Generic[T]):
    """One unit of work: ``run`` is called once, when the job gets its slots."""

    run: Callable[[], Awaitable[T]]
    key: Hashable = None


@dataclass(slots=True)
class JobReport(Generic[T]):
    """What became of one job. ``value`` is set only for ``done``, ``error`` only for ``raised``."""

    state: JobState = JobState.NOT_STARTED
    value: T | None = None
    error: Exception | None = None
    started_at: float | None = None
    finished_at: float | None = None

    @property
    def elapsed_s(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return self.finished_at - self.started_at


@dataclass(slots=True)
class RunReport(Generic[T]):
    """All job reports in input order, and why the run ended."""

    jobs: list[JobReport[T]] = field(default_factory=list)
    deadline_reached: bool = False
    stopped: bool = False


class _Run(Generic[T]):
    """The state of one ``run_under_deadline``: its slots, its tasks, whether it is stopping."""

    def __init__(
        self,
        deadline: float,
        concurrency: int,
        per_key_concurrency: int | None,
        stop_when: Callable[[JobReport[T]], bool] | None,
        n_jobs: int,
    ) -> None:
        self.loop = asyncio.get_running_loop()
        self.deadline = deadline
        self.report = RunReport[T](jobs=[JobReport() for _ in range(n_jobs)])
        self.global_slots = asyncio.Semaphore(concurrency)
        # A per-key cap at or above the global one can never bind: no per-key slots then.
        binding = per_key_concurrency is not None and per_key_concurrency < concurrency
        self.per_key = per_key_concurrency if binding else None
        self.key_slots: dict[Hashable, asyncio.Semaphore] = {}
        self.stop_when = stop_when
        self.stopping = False
        self.tasks: list[asyncio.Task[None]] = []

    def key_slot(self, key: Hashable, per_key: int) -> asyncio.Semaphore:
        slot = self.key_slots.get(key)
        if slot is None:
            slot = self.key_slots[key] = asyncio.Semaphore(per_key)
        return slot

    def stop_the_others(self) -> None:
        # The siblings are cancelled directly rather than by raising into the task group:
        # before Python 3.13 a TaskGroup aborting on a child's error swallows an outside
        # cancellation arriving meanwhile, and leaves the cancel it requested of its parent
        # counted (``cancelling()``). Cancelled children are not errors to it.
        self.stopping = True
        self.report.stopped = True
        current = asyncio.current_task()
        for task in self.tasks:
            if task is not current:
                task.cancel()

    async def one(self, job: Job[T], report: JobReport[T]) -> None:
        if self.per_key is None:
            async with self.global_slots:
                await self.slotted(job, report)
            return
        # Per-key slot first: a job waiting on a busy host must not hold a global slot.
        async with self.key_slot(job.key, self.per_key), self.global_slots:
            await self.slotted(job, report)

    async def slotted(self, job: Job[T], report: JobReport[T]) -> None:
        """``job`` run in its slots (all held until it ends)."""
        loop = self.loop
        if self.stopping or loop.time() >= self.deadline:
            return  # Got a slot too late: it stays "not_started".
        report.state = JobState.RUNNING
        report.started_at = loop.time()
        try:
            report.value = await job.run()
            report.state = JobState.DONE
        except Exception as exc:  # CancelledError is a BaseException: it propagates.
            report.error = exc
            report.state = JobState.RAISED
        finally:
            report.finished_at = loop.time()
        # Decided while still holding the slots, so no queued job starts in between.
        if not self.stopping and self.stop_when is not None and self.stop_when(report):
            self.stop_the_others()

    async def run(self, jobs: Sequence[Job[T]]) -> RunReport[T]:
        try:
            async with asyncio.timeout_at(self.deadline), asyncio.TaskGroup() as group:
                for job, report in zip(jobs, self.report.jobs, strict=True):
                    self.tasks.append(group.create_task(self.one(job, report)))
        except TimeoutError:
            self.report.deadline_reached = True
        # Each cancelled task's CancelledError holds a traceback through ``one``'s frame, which
        # holds this run, which holds the task: a cycle through every fetch's objects that only
        # the cyclic GC could free, long after the deadline (docs/benchmarks.md). Emptying the
        # list breaks it: they are freed as they go.
        self.tasks.clear()
        for report in self.report.jobs:
            if report.state is JobState.RUNNING:
                report.state = JobState.CANCELLED
        return self.report


async def run_under_deadline(
    jobs: Sequence[Job[T]],
    *,
    deadline: float,
    concurrency: int,
    per_key_concurrency: int | None = None,
    stop_when: Callable[[JobReport[T]], bool] | None = None,
) -> RunReport[T]:
    """Run ``jobs`` with at most ``concurrency`` in flight until done or ``deadline``.

    ``per_key_concurrency`` caps jobs sharing a ``key``; ``stop_when`` is called with
    each finished job's report and, when it returns true, cancels the rest. The limits are
    checked up front.
    """
    if concurrency < 1:
        raise ValueError(f"concurrency must be >= 1, got {concurrency}")
    if per_key_concurrency is not None and per_key_concurrency < 1:
        raise ValueError(f"per_key_concurrency must be >= 1, got {per_key_concurrency}")
    return await _Run(deadline, concurrency, per_key_concurrency, stop_when, len(jobs)).run(jobs)
