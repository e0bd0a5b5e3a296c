"""The engine's pool of workers: no task per job, and jobs waiting for their moment hold no worker."""

from __future__ import annotations

import asyncio

import pytest

from fanout.core.engine import Job, JobReport, JobState, Later, run_under_deadline

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


def again_then(value: str, wait_s: float, order: list[str]) -> Job[str]:
    """A job that first answers ``Later`` (``wait_s`` from now), then ``value``."""
    runs: list[int] = []

    async def run() -> str | Later:
        runs.append(1)
        order.append(f"{value}#{len(runs)}")
        if len(runs) == 1:
            return Later(asyncio.get_running_loop().time() + wait_s)
        return value

    return Job(run, key=value)


async def test_a_job_that_answers_later_gives_back_its_worker_and_is_run_again() -> None:
    loop = asyncio.get_running_loop()
    order: list[str] = []

    async def now() -> str:
        order.append("now")
        return "now"

    run = await run_under_deadline(
        [again_then("later", 0.2, order), Job(now, key="now")], deadline=loop.time() + 10, concurrency=1
    )
    assert order == ["later#1", "now", "later#2"]  # the only worker ran "now" while "later" waited
    later, other = run.jobs
    assert (later.state, later.value, other.state) == (JobState.DONE, "later", JobState.DONE)
    assert later.started_at is not None
    assert later.finished_at is not None
    assert other.finished_at is not None
    # One report, from its first run to its last (uvloop's clock counts whole milliseconds).
    assert later.started_at <= other.finished_at < later.finished_at
    assert later.finished_at - later.started_at >= 0.2 - 0.001


async def test_a_job_waiting_after_later_keeps_its_key_s_slot() -> None:
    loop = asyncio.get_running_loop()
    order: list[str] = []

    async def same_key() -> str:
        order.append("same")
        return "same"

    jobs = [again_then("k", 0.2, order), Job(same_key, key="k"), again_then("free", 0.0, order)]
    run = await run_under_deadline(jobs, deadline=loop.time() + 10, concurrency=2, per_key_concurrency=1)
    assert order.index("same") > order.index("k#2")  # the key's one slot stayed with the waiting job
    assert [r.state for r in run.jobs] == [JobState.DONE] * 3
    assert order.index("free#2") < order.index("k#2")


async def test_a_job_waiting_after_later_when_the_deadline_comes_is_cancelled_and_not_asked_to_stop() -> None:
    loop = asyncio.get_running_loop()
    order: list[str] = []
    told: list[JobState] = []

    def stop_when(report: JobReport[str]) -> bool:
        told.append(report.state)
        return False

    run = await run_under_deadline(
        [again_then("late", 5.0, order)], deadline=loop.time() + 0.2, concurrency=1, stop_when=stop_when
    )
    assert run.deadline_reached
    assert order == ["late#1"]
    assert run.jobs[0].state is JobState.CANCELLED
    assert run.jobs[0].started_at is not None
    assert run.jobs[0].finished_at is None  # not in flight when cut: no time of its own
    assert told == []  # a job that is not done is not judged


async def test_a_job_back_from_later_goes_before_jobs_not_yet_started() -> None:
    """Two workers held 0.3 s by "busy" jobs; meanwhile "queued" becomes ready (0.05 s), then "r"
    comes back from its ``Later`` (0.1 s). When a worker frees, the job under way goes first."""
    loop = asyncio.get_running_loop()
    order: list[str] = []

    def job(name: str, sleep_s: float = 0.0, ready_in_s: float | None = None) -> Job[str]:
        async def run() -> str:
            order.append(name)
            await asyncio.sleep(sleep_s)
            return name

        ready_at = None if ready_in_s is None else (lambda: loop.time() + ready_in_s)
        return Job(run, key=name, ready_at=ready_at)

    jobs = [again_then("r", 0.1, order), job("busy1", 0.3), job("queued", ready_in_s=0.05), job("busy2", 0.3)]
    run = await run_under_deadline(jobs, deadline=loop.time() + 10, concurrency=2)
    assert order.index("r#2") < order.index("queued"), order
    assert [r.state for r in run.jobs] == [JobState.DONE] * 4
