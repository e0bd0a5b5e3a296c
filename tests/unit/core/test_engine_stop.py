"""Stopping a run (``stop_when``, i.e. ``on_error: "cancel"``) and outside cancellation together.

Regression tests: the engine used to stop by raising into its ``asyncio.TaskGroup``.
Before Python 3.13 a task group aborting on a child's error swallows a cancellation of
its parent that arrives while the children are being cancelled and awaited, and it
leaves the cancellation it requested of the parent counted in ``cancelling()``.
"""

from __future__ import annotations

import asyncio
from functools import partial

import pytest

from fanout.core.engine import Job, JobState, run_under_deadline

pytestmark = pytest.mark.anyio


async def bad() -> str:
    await asyncio.sleep(0.01)
    return "bad"


async def slow_to_cancel() -> str:
    """A job whose cleanup, once cancelled, takes a while (like closing a connection)."""
    try:
        await asyncio.sleep(30)
    except asyncio.CancelledError:
        await asyncio.sleep(0.3)  # a second cancel would interrupt this: fine either way
        raise
    return "ok"


def stop_on_bad(report: object) -> bool:
    return getattr(report, "value", None) == "bad"


async def test_outside_cancellation_while_the_run_is_stopping_propagates() -> None:
    before = asyncio.all_tasks()
    loop = asyncio.get_running_loop()
    run = asyncio.create_task(
        run_under_deadline(
            [Job(bad), Job(slow_to_cancel), Job(slow_to_cancel)],
            deadline=loop.time() + 30,
            concurrency=3,
            stop_when=stop_on_bad,
        )
    )
    await asyncio.sleep(0.15)  # "bad" stopped the run at ~0.01 s; the others are cleaning up
    assert not run.done()
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    assert run.cancelled()
    assert asyncio.all_tasks() == before


async def test_a_stopped_run_leaves_no_cancellation_pending_on_its_caller() -> None:
    task = asyncio.current_task()
    assert task is not None
    before = task.cancelling()
    loop = asyncio.get_running_loop()
    for _ in range(3):
        run = await run_under_deadline(
            [Job(bad), Job(slow_to_cancel)], deadline=loop.time() + 30, concurrency=2, stop_when=stop_on_bad
        )
        assert run.stopped
        assert [r.state for r in run.jobs] == [JobState.DONE, JobState.CANCELLED]
        assert task.cancelling() == before
    # And the caller's own timeouts still work as timeouts.
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.01):
            await asyncio.sleep(1)


async def test_queued_jobs_stay_not_started_when_the_run_stops() -> None:
    loop = asyncio.get_running_loop()
    started: list[int] = []

    async def numbered(i: int) -> str:
        started.append(i)
        await asyncio.sleep(0.01 if i == 0 else 30)
        return "bad" if i == 0 else "ok"

    run = await run_under_deadline(
        [Job(partial(numbered, i)) for i in range(6)],
        deadline=loop.time() + 30,
        concurrency=2,
        stop_when=stop_on_bad,
    )
    assert run.stopped
    assert not run.deadline_reached
    assert [r.state for r in run.jobs] == [JobState.DONE, JobState.CANCELLED] + [JobState.NOT_STARTED] * 4
    assert started == [0, 1]
