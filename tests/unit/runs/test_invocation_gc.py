"""The invocation's GC policy: the youngest generation is collected less often while it runs
(the engine itself leaves the collector alone)."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator

import pytest

from fanout.config import Settings
from fanout.core.budget import InvocationClock
from fanout.core.engine import Job, JobState, run_under_deadline
from fanout.runs.invocation import YOUNG_GC_THRESHOLD, Invocation, fewer_young_collections


@pytest.fixture
def default_thresholds() -> Iterator[tuple[int, int, int]]:
    saved = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    try:
        yield gc.get_threshold()
    finally:
        gc.set_threshold(*saved)


def test_thresholds_are_raised_while_runs_go_and_restored_after_the_last(
    default_thresholds: tuple[int, int, int],
) -> None:
    with fewer_young_collections():
        assert gc.get_threshold() == (YOUNG_GC_THRESHOLD, 10, 10)
        with fewer_young_collections():  # an overlapping run
            assert gc.get_threshold()[0] == YOUNG_GC_THRESHOLD
        assert gc.get_threshold()[0] == YOUNG_GC_THRESHOLD  # the first still goes
    assert gc.get_threshold() == default_thresholds


def test_a_higher_threshold_set_by_the_process_is_kept(default_thresholds: tuple[int, int, int]) -> None:
    gc.set_threshold(YOUNG_GC_THRESHOLD * 2, 10, 10)
    with fewer_young_collections():
        assert gc.get_threshold()[0] == YOUNG_GC_THRESHOLD * 2
    assert gc.get_threshold()[0] == YOUNG_GC_THRESHOLD * 2


def test_thresholds_are_restored_when_the_run_raises(default_thresholds: tuple[int, int, int]) -> None:
    with pytest.raises(RuntimeError), fewer_young_collections():
        raise RuntimeError("boom")
    assert gc.get_threshold() == default_thresholds


def test_an_invocation_holds_the_raised_threshold_and_a_cut_run_restores_it(
    default_thresholds: tuple[int, int, int],
) -> None:
    seen: list[int] = []

    async def job() -> int:
        seen.append(gc.get_threshold()[0])
        await asyncio.sleep(10)
        return 1

    async def cut_run() -> JobState:
        loop = asyncio.get_running_loop()
        run = await run_under_deadline([Job(run=job)], deadline=loop.time() + 0.05, concurrency=1)
        assert run.deadline_reached
        return run.jobs[0].state

    invocation = Invocation(InvocationClock.begin(10_000), Settings(), context=None)  # type: ignore[arg-type]
    try:
        assert invocation.run(cut_run(), "test") is JobState.CANCELLED
    finally:
        invocation.close()
    assert seen == [YOUNG_GC_THRESHOLD]
    assert gc.get_threshold() == default_thresholds


@pytest.mark.anyio
async def test_the_engine_alone_leaves_the_collector_alone(default_thresholds: tuple[int, int, int]) -> None:
    seen: list[tuple[int, int, int]] = []

    async def job() -> int:
        seen.append(gc.get_threshold())
        return 1

    loop = asyncio.get_running_loop()
    await run_under_deadline([Job(run=job)], deadline=loop.time() + 5, concurrency=1)
    assert seen == [default_thresholds]
