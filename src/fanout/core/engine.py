"""The fan-out engine: run many jobs concurrently under one absolute deadline.

It knows nothing of HTTP or AWS. It gets jobs (an awaitable factory and a grouping
key), caps (global and per key), an absolute deadline on the event loop's clock
(``loop.time()``, i.e. ``time.monotonic()``), and an optional ``stop_when`` predicate
that ends the run early (``asyncio.TaskGroup`` semantics). It returns one ``JobReport``
per job, in input order, whatever happened:

- ``done``: the job returned a value (the caller decides whether that value is good);
- ``raised``: the job raised an ``Exception`` (kept, never mixed into values);
- ``cancelled``: the job was running (or waiting after ``Later``) when the deadline came or the
  run was stopped;
- ``not_started``: the deadline came, or the run was stopped, before it got a slot.

Jobs are run by a pool of ``concurrency`` workers, not a task per job created up front (a task
and its frames for each of 10,000 URLs cost memory; docs/benchmarks.md). A job waits for its
key's slot in the key's backlog, not in a worker: a busy host never holds a worker. A job with
``ready_at`` (a host's turn, say) waits for that moment parked on a timer, also without a worker;
so does a job that answers ``Later`` (a retry waiting for a paused host's turn): it is run again
then, by the first free worker (before jobs not yet started), keeping its key's slot and its report
meanwhile.

Every task the engine starts is finished (cancelled and awaited) before it returns.
``CancelledError`` from outside is never swallowed: the workers are cancelled and
awaited by the ``TaskGroup`` and the cancellation propagates.
"""

from __future__ import annotations

import asyncio
import enum
from collections import deque
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

T = TypeVar("T")


class JobState(enum.StrEnum):
    NOT_STARTED = "not_started"
    RUNNING = "running"
    DONE = "done"
    RAISED = "raised"
    CANCELLED = "cancelled"


T_co = TypeVar("T_co", covariant=True)


@dataclass(frozen=True, slots=True)
class Later:
    """A job's answer that it is not done yet: run it again at loop time ``at``. Meanwhile it
    holds its key's slot and stays ``running``, but no worker: a job waiting to retry does not
    keep other keys' jobs waiting."""

    at: float


class Runnable(Protocol[T_co]):
    """What the engine runs: a ``Job``, or any object with the same three members (one object per
    job, where a caller keeps a job's state in it: ``runs.url_jobs``)."""

    @property
    def key(self) -> Hashable: ...

    @property
    def ready_at(self) -> Callable[[], float | None] | None: ...

    def run(self) -> Awaitable[T_co | Later]: ...


@dataclass(frozen=True, slots=True)
class Job(Generic[T]):
    """One unit of work: ``run`` is called when the job gets its slots (again, after it answers
    ``Later``).

    ``ready_at``, when given, is asked once, when the job gets its key's slot: the loop time
    before which it may not start (None: now); it keeps its key's slot meanwhile, not a worker.
    """

    run: Callable[[], Awaitable[T | Later]]
    key: Hashable = None
    ready_at: Callable[[], float | None] | None = None


@dataclass(slots=True)
class JobReport(Generic[T]):
    """What became of one job. ``value`` is set only for ``done``, ``error`` only for ``raised``;
    ``finished_at`` stays None for a job cut while it waited after a ``Later`` (not in flight)."""

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


def _being_cancelled() -> bool:
    """Whether someone asked to cancel the current task (not only a job raising CancelledError)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


class _Run(Generic[T]):
    """The state of one ``run_under_deadline``: its workers, the jobs waiting, who runs what."""

    def __init__(
        self,
        jobs: Sequence[Runnable[T]],
        deadline: float,
        concurrency: int,
        per_key_concurrency: int | None,
        stop_when: Callable[[JobReport[T]], bool] | None,
    ) -> None:
        self.loop = asyncio.get_running_loop()
        self.jobs = jobs
        self.deadline = deadline
        self.workers = min(concurrency, len(jobs))
        self.report = RunReport[T](jobs=[JobReport() for _ in jobs])
        self.per_key = per_key_concurrency
        self.stop_when = stop_when
        self.stopping = False
        self.tasks: list[asyncio.Task[None]] = []
        self.pending = iter(range(len(jobs)))  # not yet looked at, in input order
        self.unplaced = len(jobs)  # not given to a worker (pending, backlogged, parked, runnable, resumed)
        self.runnable: deque[int] = deque()  # their key's slot held, their moment come
        self.resumed: deque[int] = deque()  # as ``runnable``, after a ``Later``: they go first
        self.running_by_key: dict[Hashable, int] = {}
        self.backlog: dict[Hashable, deque[int]] = {}  # waiting for their key's slot
        self.parked: set[asyncio.TimerHandle] = set()  # waiting for their ``ready_at``
        self.wake = asyncio.Event()

    def admit(self, index: int) -> None:
        """``index`` takes its key's slot (or waits in the key's backlog), then its moment."""
        key = self.jobs[index].key
        if self.per_key is not None:
            running = self.running_by_key.get(key, 0)
            if running >= self.per_key:
                self.backlog.setdefault(key, deque()).append(index)
                return
            self.running_by_key[key] = running + 1
        ready_at = self.jobs[index].ready_at
        self.park(index, ready_at() if ready_at is not None else None, self.runnable)

    def park(self, index: int, at: float | None, queue: deque[int]) -> None:
        """``index``, its key's slot held, goes to ``queue`` at loop time ``at`` (None: now)."""
        if at is None or at <= self.loop.time():
            queue.append(index)
            return
        handles: list[asyncio.TimerHandle] = []

        def come() -> None:
            self.parked.discard(handles[0])
            queue.append(index)
            self.wake.set()

        handles.append(self.loop.call_at(at, come))
        self.parked.add(handles[0])

    def release(self, key: Hashable) -> None:
        """A job of ``key`` ended: the next of its backlog gets the slot."""
        if self.per_key is None:
            return
        self.running_by_key[key] -= 1
        waiting = self.backlog.get(key)
        if waiting:
            self.admit(waiting.popleft())
            if not waiting:
                del self.backlog[key]
            if self.runnable:
                self.wake.set()

    async def next_job(self) -> int | None:
        """The next job for a worker; ``None`` when there is none left to start."""
        while not self.stopping:
            queue = self.resumed or self.runnable  # a job under way before one not yet started
            if queue:
                self.unplaced -= 1
                return queue.popleft()
            index = next(self.pending, None)
            if index is not None:
                self.admit(index)
                continue
            if self.unplaced == 0:
                return None
            self.wake.clear()  # jobs are backlogged or parked: one of them will come
            await self.wake.wait()
        return None

    async def worker(self) -> None:
        while (index := await self.next_job()) is not None:
            later = None
            try:
                later = await self.slotted(self.jobs[index], self.report.jobs[index])
            except asyncio.CancelledError:
                if _being_cancelled():  # not a local: this frame must not hold its task (``run``)
                    raise
                # The job cancelled itself (no one cancelled this worker): it is reported
                # cancelled and the worker goes on.
            finally:
                if later is None:
                    self.release(self.jobs[index].key)
            if later is not None:  # to be run again: it keeps its key's slot, not this worker
                self.unplaced += 1
                self.park(index, later.at, self.resumed)
        self.wake.set()  # the last ones out let idle workers see there is nothing left

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

    async def slotted(self, job: Runnable[T], report: JobReport[T]) -> Later | None:
        """``job`` run by a worker (its key's slot held until it ends); its ``Later``, if it
        answered that."""
        loop = self.loop
        if self.stopping or loop.time() >= self.deadline:
            return None  # Got a slot too late: it stays "not_started" (or "running": cancelled).
        if report.started_at is None:  # not when it runs again after a ``Later``
            report.state = JobState.RUNNING
            report.started_at = loop.time()
        later = None
        try:
            value = await job.run()
            if isinstance(value, Later):
                later = value
            else:
                report.value = value
                report.state = JobState.DONE
        except Exception as exc:  # CancelledError is a BaseException: it propagates.
            report.error = exc
            report.state = JobState.RAISED
        finally:
            if later is None:
                report.finished_at = loop.time()
        if later is not None:
            return later
        # Decided while this worker still has the job, so no queued job starts in between.
        if not self.stopping and self.stop_when is not None and self.stop_when(report):
            self.stop_the_others()
        return None

    async def run(self) -> RunReport[T]:
        try:
            async with asyncio.timeout_at(self.deadline), asyncio.TaskGroup() as group:
                for _ in range(self.workers):
                    self.tasks.append(group.create_task(self.worker()))
        except TimeoutError:
            self.report.deadline_reached = True
        finally:
            for handle in self.parked:
                handle.cancel()
            self.parked.clear()
        # Each cancelled task's CancelledError holds a traceback through the worker's frame,
        # which holds this run, which holds the task: a cycle only the cyclic GC could free,
        # long after the deadline (docs/benchmarks.md). Emptying the list breaks it.
        self.tasks.clear()
        for report in self.report.jobs:
            if report.state is JobState.RUNNING:  # in flight, or waiting after a ``Later``
                report.state = JobState.CANCELLED
        return self.report


async def run_under_deadline(
    jobs: Sequence[Runnable[T]],
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
    # A per-key cap at or above the global one can never bind: no per-key slots then.
    per_key = (
        per_key_concurrency if per_key_concurrency is not None and per_key_concurrency < concurrency else None
    )
    return await _Run(jobs, deadline, concurrency, per_key, stop_when).run()
