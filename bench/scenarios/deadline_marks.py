"""Where the deadline worker's phase marks come from: the service's own calls, wrapped where
``fanout.runs`` looks them up (in the worker process only; src is untouched), and the raw aiohttp
anchor, which marks its deadline timer, the end of its gather and of its session itself.
"""

from __future__ import annotations

import time
from typing import Any


def instrument(marks: dict[str, float]) -> None:
    """Record phase instants by wrapping the names ``fanout.runs`` modules call."""
    import asyncio

    from fanout.runs import fetch_run as one_run
    from fanout.runs import inline, service

    # The names as the modules look them up (imported there, not exported: hence the ignores).
    engine = one_run.run_under_deadline  # type: ignore[attr-defined]
    fanout = inline.fetch_run  # type: ignore[attr-defined]

    async def timed_engine(*args: Any, deadline: float, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        marks["deadline"] = deadline
        loop.call_at(deadline, lambda: marks.update(timer=time.monotonic(), timer_cpu=time.process_time()))
        try:
            return await engine(*args, deadline=deadline, **kwargs)
        finally:
            marks.update(engine_done=time.monotonic(), engine_done_cpu=time.process_time())

    async def timed_fanout(*args: Any, **kwargs: Any) -> Any:
        try:
            return await fanout(*args, **kwargs)
        finally:
            marks["fanout_done"] = time.monotonic()

    one_run.run_under_deadline = timed_engine  # type: ignore[attr-defined]
    inline.fetch_run = timed_fanout  # type: ignore[attr-defined]

    report = getattr(service, "report_run", None)  # logs and metrics after the loop
    if report is not None:

        def timed_report(*args: Any, **kwargs: Any) -> Any:
            marks.update(report_start=time.monotonic(), report_start_cpu=time.process_time())
            try:
                return report(*args, **kwargs)
            finally:
                marks.update(report_done=time.monotonic(), report_done_cpu=time.process_time())

        service.report_run = timed_report  # type: ignore[attr-defined]


def anchor_invocation(urls: list[str], deadline: float) -> dict[str, Any]:
    """Raw aiohttp: gather every URL under ``timeout_at(deadline)``, then close, in asyncio.run."""
    import asyncio

    import aiohttp

    marks: dict[str, Any] = {"deadline": deadline}

    async def main() -> None:
        loop = asyncio.get_running_loop()
        loop.call_at(deadline, lambda: marks.__setitem__("timer", time.monotonic()))
        connector = aiohttp.TCPConnector(limit=len(urls), limit_per_host=0)
        async with aiohttp.ClientSession(connector=connector) as session:

            async def one(url: str) -> None:
                async with session.get(url) as response:
                    await response.read()

            try:
                async with asyncio.timeout_at(deadline):
                    await asyncio.gather(*(one(u) for u in urls))
            except TimeoutError:
                marks["cancelled"] = len(urls)
            marks["engine_done"] = time.monotonic()
        marks["fanout_done"] = time.monotonic()

    asyncio.run(main())
    return marks
