"""One invocation: its clock, its settings, Lambda's context, and its one event loop.

Everything asynchronous of an invocation runs on one loop (``run``, an ``asyncio.Runner``):
the fan-out, its stores, the idempotency record's calls, shards one after the other. The
HTTP client, the AWS clients and the c-ares channels that resolve their names are made and
closed inside it, so nothing (tasks, sockets, sessions, threads) carries over to the next
warm invocation. ``close`` ends the loop before the handler returns.

The loop is uvloop's by default (``FANOUT_EVENT_LOOP``): less CPU per callback and per socket
event than asyncio's, which is what a Lambda pays for. Where uvloop cannot be imported the
invocation runs on asyncio's loop instead, said once in the log (a missing speed-up, not a fault).
While it runs, the cyclic GC's youngest generation is collected less often
(``fewer_young_collections``; the command line's local run does the same).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

from fanout.config import EventLoopName, Settings
from fanout.core.budget import InvocationClock, LambdaContextLike
from fanout.observability.log import logger

T = TypeVar("T")

LoopFactory = Callable[[], asyncio.AbstractEventLoop]
_fallback_logged = False

YOUNG_GC_THRESHOLD = 20_000
"""Allocations (net) between collections of the youngest generation while a run goes (CPython: 700)."""
_runs_going = 0
_saved_thresholds: list[int] = []


@contextlib.contextmanager
def fewer_young_collections() -> Iterator[None]:
    """Collect the youngest GC generation every ``YOUNG_GC_THRESHOLD`` allocations while runs go
    (a whole invocation, or the command line's local run).

    A run allocates a few dozen objects per job that refcounting frees (the engine breaks their
    cycles) while thousands of jobs' reports stay alive: at CPython's default every 700
    allocations each collection traverses the young objects, and the older generations (every
    live report) are swept ever more often, CPU for nothing found. Cyclic garbage is still
    collected, less often. Process-wide, so counted: overlapping runs restore the thresholds
    when the last one ends.
    """
    global _runs_going
    if _runs_going == 0:
        _saved_thresholds[:] = gc.get_threshold()
        gc.set_threshold(max(YOUNG_GC_THRESHOLD, _saved_thresholds[0]), *_saved_thresholds[1:])
    _runs_going += 1
    try:
        yield
    finally:
        _runs_going -= 1
        if _runs_going == 0:
            gc.set_threshold(*_saved_thresholds)


def loop_factory(name: EventLoopName) -> LoopFactory | None:
    """The ``asyncio.Runner`` loop factory for ``name`` (``None``: asyncio's own loop).

    uvloop is imported here, on the first invocation, not when the module is: a process
    that never runs one (tools, tests of other parts) does not pay for it.
    """
    global _fallback_logged
    if name == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        if not _fallback_logged:
            _fallback_logged = True
            logger.warning("uvloop is not installed: running on asyncio's event loop")
        return None
    return uvloop.new_event_loop


async def awaited_alone(coro: Coroutine[Any, Any, T], what: str) -> T:
    """Await ``coro`` (the whole of one ``Invocation.run``), then log any task still alive.

    Every task a run starts is awaited by the engine; one alive here would be a bug, and the
    runner then cancels it rather than leaving a zombie for the next warm invocation.
    """
    result = await coro
    current = asyncio.current_task()
    leftovers = [t for t in asyncio.all_tasks() if t is not current]
    if leftovers:  # pragma: no cover - would be an engine bug
        logger.error(f"tasks alive after the {what}", extra={"tasks": [repr(t) for t in leftovers]})
    return result


async def _kept_in(kept: list[T], coro: Coroutine[Any, Any, T]) -> None:
    kept.append(await coro)


class Invocation:
    """The invocation a request runs in; ``close`` it before the handler returns."""

    __slots__ = ("_runner", "clock", "context", "settings")

    def __init__(self, clock: InvocationClock, settings: Settings, context: LambdaContextLike) -> None:
        self.clock = clock
        self.settings = settings
        self.context = context
        self._runner: asyncio.Runner | None = None

    @classmethod
    def begin(cls, context: LambdaContextLike, settings: Settings) -> Invocation:
        """The invocation's clock starts here: the remaining time is read once, on entry."""
        return cls(InvocationClock.of(context), settings, context)

    def run(self, coro: Coroutine[Any, Any, T], what: str) -> T:
        """Run ``coro`` to completion on the invocation's loop; no task of it may outlive it."""
        if self._runner is None:
            self._runner = asyncio.Runner(loop_factory=loop_factory(self.settings.event_loop))
        # The engine's jobs, the request's parsing and the answer's building all allocate per URL.
        # The result comes back through ``kept``, not as the task's: ``Runner.run``, restoring the
        # SIGINT handler in the main thread, has ``signal`` format a ValueError with the old
        # handler's repr, which holds the task, whose repr holds its result's: the whole answer
        # (14 MB of text for 10,000 results, the run's peak memory: docs/benchmarks.md).
        kept: list[T] = []
        with fewer_young_collections():
            self._runner.run(_kept_in(kept, awaited_alone(coro, what)))
        return kept[0]

    def close(self) -> None:
        if self._runner is not None:
            self._runner.close()
            self._runner = None
