"""The engine's per-key caps at or above the global cap."""

from __future__ import annotations

import asyncio

import pytest

from fanout.core.engine import Job, run_under_deadline

pytestmark = pytest.mark.anyio


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
