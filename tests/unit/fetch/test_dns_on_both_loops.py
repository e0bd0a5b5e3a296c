"""c-ares (``AresResolver``: socket-state callbacks on the running loop) on uvloop and on asyncio's loop."""

from __future__ import annotations

import asyncio
import threading

import pytest

from fanout.fetch.dns import AresResolver, LookupFailed
from fanout.runs.invocation import loop_factory


async def _lookups() -> tuple[list[str], str]:
    threads = threading.active_count()
    async with AresResolver(budget_s=5.0) as resolver:
        found = await resolver.resolve("localhost", 80)
        with pytest.raises(LookupFailed):
            await resolver.resolve("no-such-name.invalid", 80)
    assert threading.active_count() <= threads + 1  # no event thread per channel (pycares' reaper at most)
    return found, type(asyncio.get_running_loop()).__module__


@pytest.mark.parametrize("loop", ["uvloop", "asyncio"])
def test_lookups_answer_and_fail_on_each_loop(loop: str) -> None:
    with asyncio.Runner(loop_factory=loop_factory(loop)) as runner:  # type: ignore[arg-type]
        found, module = runner.run(_lookups())
    assert "127.0.0.1" in found
    assert module.startswith(loop)
