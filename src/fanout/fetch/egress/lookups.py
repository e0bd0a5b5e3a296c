"""A run's name resolutions: one per host, checked by the egress policy, shared by its askers."""

from __future__ import annotations

import asyncio

from fanout.errors import EgressBlocked
from fanout.fetch.dns import LookupFailed
from fanout.fetch.egress.policy import EgressPolicy
from fanout.fetch.egress.rules import IPAddress, normalize_host
from fanout.fetch.trace import waiting_on


class CheckedLookups:
    """A run's resolutions: one per host, checked, kept ``ttl_s``; concurrent askers share it.

    Both transports resolve through this (aiohttp's own DNS cache is off). A lookup runs in
    a task of its own so that one asker's timeout does not cancel it for the others; each
    asker waits with its own deadline and marks its attempt as waiting on DNS
    (``fanout.fetch.trace.waiting_on``). Answers and refusals are kept; failures that may pass
    (timeouts, SERVFAIL) are not. ``aclose`` cancels and awaits lookups still running.
    """

    def __init__(self, policy: EgressPolicy, *, ttl_s: float = 60.0) -> None:
        self._policy = policy
        self._ttl_s = ttl_s
        self._known: dict[str, tuple[float, list[IPAddress] | BaseException]] = {}
        self._running: dict[str, asyncio.Task[list[IPAddress]]] = {}

    @property
    def policy(self) -> EgressPolicy:
        return self._policy

    async def resolve(self, host: str, port: int) -> list[IPAddress]:
        literal = normalize_host(host)
        if not isinstance(literal, str):  # an IP literal: checked, never looked up (no DNS phase)
            self._policy.check_address(literal, spelled=host)
            return [literal]
        loop = asyncio.get_running_loop()
        known = self._known.get(host)
        if known is not None and known[0] > loop.time():
            if isinstance(known[1], BaseException):
                raise _fresh(known[1])
            return known[1]
        task = self._running.get(host)
        if task is None:
            task = self._running[host] = loop.create_task(self._policy.resolve(host, port))
            task.add_done_callback(lambda done: self._settle(host, done))
        with waiting_on(host):
            return await asyncio.shield(task)

    def _settle(self, host: str, task: asyncio.Task[list[IPAddress]]) -> None:
        self._running.pop(host, None)
        if task.cancelled():
            return
        failure = task.exception()  # retrieved here, whether or not anyone still waits
        if failure is None:
            self._known[host] = (asyncio.get_running_loop().time() + self._ttl_s, task.result())
        elif isinstance(failure, EgressBlocked) or (
            isinstance(failure, LookupFailed) and not (failure.timed_out or failure.temporary)
        ):
            self._known[host] = (asyncio.get_running_loop().time() + self._ttl_s, failure)

    async def aclose(self) -> None:
        tasks = list(self._running.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _fresh(failure: BaseException) -> BaseException:
    """A kept failure raised anew (an exception object carries its traceback once)."""
    if isinstance(failure, EgressBlocked):
        return EgressBlocked(failure.reason, str(failure))
    if isinstance(failure, LookupFailed):
        return LookupFailed(failure.host, failure.reason)
    return failure
