"""The engine alone: fake jobs on the event loop, no HTTP, no AWS."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Awaitable, Callable

import pytest

from fanout.core.engine import Job, JobReport, JobState, run_under_deadline

pytestmark = pytest.mark.anyio


class PeakSpy:
    """Records how many jobs run at once, overall and per key."""

    def __init__(self) -> None:
        self.now = 0
        self.peak = 0
        self.by_key: dict[object, int] = {}
        self.peak_by_key: dict[object, int] = {}

    def job(self, key: object, delay: float, value: object = "v") -> Job[object]:
        async def run() -> object:
            self.now += 1
            self.peak = max(self.peak, self.now)
            self.by_key[key] = self.by_key.get(key, 0) + 1
            self.peak_by_key[key] = max(self.peak_by_key.get(key, 0), self.by_key[key])
            try:
                await asyncio.sleep(delay)
                return value
            finally:
                self.now -= 1
                self.by_key[key] -= 1

        return Job(run=run, key=key)


def soon(seconds: float) -> float:
    return asyncio.get_running_loop().time() + seconds


def job_of(fn: Callable[[], Awaitable[object]], key: object = None) -> Job[object]:
    return Job(run=fn, key=key)


async def test_results_in_input_order_with_values_and_errors_apart() -> None:
    async def value(v: int, delay: float) -> int:
        await asyncio.sleep(delay)
        return v

    async def boom() -> int:
        await asyncio.sleep(0.01)
        raise ValueError("nope")

    jobs = [job_of(lambda: value(1, 0.03)), job_of(boom), job_of(lambda: value(3, 0.0))]
    run = await run_under_deadline(jobs, deadline=soon(5), concurrency=10)
    assert [r.state for r in run.jobs] == [JobState.DONE, JobState.RAISED, JobState.DONE]
    assert [r.value for r in run.jobs] == [1, None, 3]
    assert isinstance(run.jobs[1].error, ValueError)
    assert not run.deadline_reached
    assert not run.stopped


async def test_deadline_cancels_running_and_leaves_queued_not_started() -> None:
    before = asyncio.all_tasks()
    started: list[int] = []
    cancelled: list[int] = []

    async def slow(i: int) -> int:
        started.append(i)
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.append(i)
            raise
        return i

    jobs = [job_of(lambda i=i: slow(i)) for i in range(5)]
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    run = await run_under_deadline(jobs, deadline=t0 + 0.1, concurrency=2)
    elapsed = loop.time() - t0
    assert run.deadline_reached
    assert [r.state for r in run.jobs] == [JobState.CANCELLED] * 2 + [JobState.NOT_STARTED] * 3
    assert sorted(cancelled) == [0, 1] == sorted(started)
    assert elapsed < 1.0
    # Nothing of the run is left alive.
    assert asyncio.all_tasks() == before


async def test_deadline_already_past_starts_nothing() -> None:
    spy = PeakSpy()
    run = await run_under_deadline([spy.job("a", 0.0)], deadline=soon(-1), concurrency=1)
    assert run.deadline_reached
    assert run.jobs[0].state is JobState.NOT_STARTED
    assert spy.peak == 0


async def test_global_and_per_key_caps_hold() -> None:
    spy = PeakSpy()
    jobs = [spy.job(f"host{i % 3}", 0.01) for i in range(60)]
    run = await run_under_deadline(jobs, deadline=soon(10), concurrency=5, per_key_concurrency=2)
    assert all(r.state is JobState.DONE for r in run.jobs)
    assert spy.peak == 5
    assert max(spy.peak_by_key.values()) == 2


async def test_busy_key_does_not_hold_global_slots() -> None:
    """A job queued for a saturated host must not block jobs for other hosts."""
    spy = PeakSpy()
    jobs = [spy.job("busy", 0.2) for _ in range(10)] + [spy.job("free", 0.0)]
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    done_at: list[float] = []

    def stop_when(report: JobReport[object]) -> bool:
        done_at.append(loop.time() - t0)
        return False

    await run_under_deadline(
        jobs, deadline=t0 + 10, concurrency=3, per_key_concurrency=1, stop_when=stop_when
    )
    assert min(done_at) < 0.1  # the "free" job ran while "busy" ones queued


async def test_stop_when_gives_taskgroup_semantics_and_keeps_everything() -> None:
    async def ok() -> str:
        await asyncio.sleep(0.5)
        return "ok"

    async def bad() -> str:
        await asyncio.sleep(0.01)
        return "bad"

    jobs = [job_of(ok), job_of(bad), job_of(ok), job_of(ok)]
    run = await run_under_deadline(
        jobs, deadline=soon(10), concurrency=3, stop_when=lambda r: r.value == "bad"
    )
    assert run.stopped
    assert not run.deadline_reached
    assert [r.state for r in run.jobs] == [
        JobState.CANCELLED,
        JobState.DONE,
        JobState.CANCELLED,
        JobState.NOT_STARTED,
    ]
    assert run.jobs[1].value == "bad"


async def test_outside_cancellation_cancels_children_and_propagates() -> None:
    before = asyncio.all_tasks()
    cancelled = 0

    async def slow() -> None:
        nonlocal cancelled
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled += 1
            raise

    outer = asyncio.create_task(  # noqa: RUF006 - awaited below
        run_under_deadline([job_of(slow) for _ in range(4)], deadline=soon(10), concurrency=4)
    )
    await asyncio.sleep(0.05)
    outer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await outer
    assert cancelled == 4
    assert asyncio.all_tasks() == before


async def test_a_job_raising_cancelled_error_is_not_reported_as_a_failure() -> None:
    """A child's CancelledError is cancellation, never an ordinary 'raised' result."""

    async def self_cancel() -> None:
        raise asyncio.CancelledError

    async def fine() -> str:
        return "fine"

    run = await run_under_deadline([job_of(self_cancel), job_of(fine)], deadline=soon(5), concurrency=2)
    assert run.jobs[0].state is JobState.CANCELLED
    assert run.jobs[0].error is None
    assert run.jobs[1].state is JobState.DONE


async def test_limits_are_checked_up_front() -> None:
    with pytest.raises(ValueError, match="concurrency"):
        await run_under_deadline([], deadline=soon(1), concurrency=0)
    with pytest.raises(ValueError, match="per_key_concurrency"):
        await run_under_deadline([], deadline=soon(1), concurrency=1, per_key_concurrency=0)


async def test_many_jobs_leave_no_tasks_behind() -> None:
    before = asyncio.all_tasks()
    spy = PeakSpy()
    run = await run_under_deadline(
        [spy.job(i % 7, 0.001) for i in range(2000)],
        deadline=soon(30),
        concurrency=100,
        per_key_concurrency=20,
    )
    assert sum(r.state is JobState.DONE for r in run.jobs) == 2000
    gc.collect()
    assert asyncio.all_tasks() == before
