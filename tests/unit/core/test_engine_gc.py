"""The engine's GC policy and its per-key caps at or above the global cap."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator

import pytest

from fanout.core.engine import YOUNG_GC_THRESHOLD, Job, JobState, fewer_young_collections, run_under_deadline

pytestmark = pytest.mark.anyio


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


async def test_a_run_holds_the_raised_threshold_and_a_cut_run_restores_it(
    default_thresholds: tuple[int, int, int],
) -> None:
    seen: list[int] = []

    async def job() -> int:
        seen.append(gc.get_threshold()[0])
        await asyncio.sleep(10)
        return 1

    loop = asyncio.get_running_loop()
    run = await run_under_deadline([Job(run=job)], deadline=loop.time() + 0.05, concurrency=1)
    assert run.deadline_reached
    assert run.jobs[0].state is JobState.CANCELLED
    assert seen == [YOUNG_GC_THRESHOLD]
    assert gc.get_threshold() == default_thresholds


async def test_a_per_key_cap_at_the_global_cap_still_caps_each_key() -> None:
    running: dict[str, int] = {"a": 0, "b": 0}
    peak: dict[str, int] = {"a": 0, "b": 0}
    total_peak = [0]

    def job(key: str) -> Job[str]:
        async def run() -> str:
            running[key] += 1
            peak[key] = max(peak[key], running[key])
            total_peak[0] = max(total_peak[0], sum(running.values()))
            await asyncio.sleep(0.005)
            running[key] -= 1
            return key

        return Job(run=run, key=key)

    jobs = [job("a" if i % 3 else "b") for i in range(60)]
    loop = asyncio.get_running_loop()
    for per_key in (4, 8):  # equal to, then above, the global cap: the global cap binds
        run = await run_under_deadline(
            jobs, deadline=loop.time() + 5, concurrency=4, per_key_concurrency=per_key
        )
        assert [r.value for r in run.jobs] == [j.key for j in jobs]
        assert total_peak[0] == 4
        assert max(peak.values()) <= 4
