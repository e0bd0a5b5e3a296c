"""The engine's pool of workers: no task per job, and jobs waiting for their moment hold no worker."""

from __future__ import annotations

import asyncio

import pytest

from fanout.core.engine import Job, JobState, run_under_deadline

pytestmark = pytest.mark.anyio


async def test_there_are_never_more_tasks_than_workers() -> None:
    before = len(asyncio.all_tasks())
    seen: list[int] = []

    async def count() -> int:
        seen.append(len(asyncio.all_tasks()))
        await asyncio.sleep(0)
        return 1

    loop = asyncio.get_running_loop()
    run = await run_under_deadline(
        [Job(count, key=i % 3) for i in range(1_000)], deadline=loop.time() + 30, concurrency=10
    )
    assert all(r.state is JobState.DONE for r in run.jobs)
    assert max(seen) == before + 10  # this test's task and the 10 workers


async def test_a_job_waiting_for_its_moment_holds_no_worker() -> None:
    loop = asyncio.get_running_loop()
    order: list[str] = []

    def job(name: str) -> Job[str]:
        async def run() -> str:
            order.append(name)
            return name

        return Job(run, key=name)

    later = Job(job("later").run, key="later", ready_at=lambda: loop.time() + 0.3)
    run = await run_under_deadline([later, job("now")], deadline=loop.time() + 10, concurrency=1)
    assert order == ["now", "later"]  # the only worker ran "now" while "later" waited
    assert [r.state for r in run.jobs] == [JobState.DONE, JobState.DONE]
    assert run.jobs[0].started_at is not None
    assert run.jobs[1].finished_at is not None
    assert run.jobs[0].started_at >= run.jobs[1].finished_at


async def test_a_moment_past_the_deadline_leaves_the_job_not_started() -> None:
    loop = asyncio.get_running_loop()
    started: list[int] = []

    async def run() -> int:
        started.append(1)
        return 1

    jobs = [Job(run, key="k", ready_at=lambda: loop.time() + 5), Job(run, key="other")]
    report = await run_under_deadline(jobs, deadline=loop.time() + 0.2, concurrency=4)
    assert report.deadline_reached
    assert [r.state for r in report.jobs] == [JobState.NOT_STARTED, JobState.DONE]
    assert started == [1]


async def test_a_key_s_backlog_waits_without_workers_and_keeps_its_order() -> None:
    loop = asyncio.get_running_loop()
    order: list[int] = []

    def job(i: int, key: str) -> Job[int]:
        async def run() -> int:
            order.append(i)
            await asyncio.sleep(0.01)
            return i

        return Job(run, key=key)

    jobs = [job(i, "busy") for i in range(5)] + [job(5, "free")]
    run = await run_under_deadline(jobs, deadline=loop.time() + 10, concurrency=2, per_key_concurrency=1)
    assert [r.value for r in run.jobs] == list(range(6))
    assert order.index(5) < order.index(2)  # the free host did not queue behind the busy one
    assert [i for i in order if i != 5] == [0, 1, 2, 3, 4]
