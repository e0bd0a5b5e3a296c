"""What every transport shares: the run's name resolution, and the one mapping of the service's
own lower-layer failures to what the fetcher sees.

Each transport (``aiohttp``, ``httpcore``) is an ``httpx.AsyncBaseTransport``. Its library
wraps whatever failed (aiohttp's ``ClientConnectorError.os_error``, httpx's ``__cause__``);
``raise_own_failure`` walks that chain and raises, as itself, the failure the service made:

====================================  ===========================================
found in the chain                    raised to the fetcher
====================================  ===========================================
``EgressBlocked``                     ``EgressBlocked`` (outcome ``blocked``)
``BlockedConnection`` (socket check)  its ``EgressBlocked``
``LookupFailed`` timed out            ``DnsTimeout`` (outcome ``timed_out``)
``LookupFailed``                      ``DnsError`` (outcome ``failed``)
====================================  ===========================================

Anything else is the library's to map (``transports.aiohttp`` maps aiohttp's exceptions to
httpx's in its own table; httpx maps httpcore's).
"""

from __future__ import annotations

import errno
import ssl
from collections.abc import Iterator
from functools import cache

import httpx

from fanout.errors import DnsError, DnsTimeout, EgressBlocked
from fanout.fetch.dns import AresResolver, LookupFailed
from fanout.fetch.egress.lookups import CheckedLookups
from fanout.fetch.egress.policy import EgressPolicy


class BlockedConnection(OSError):
    """A socket the egress policy refused to open.

    An ``OSError`` so that aiohttp's connection code treats it as one failed address; the
    chain walk recovers the ``EgressBlocked``.
    """

    def __init__(self, blocked: EgressBlocked) -> None:
        super().__init__(errno.EACCES, str(blocked))
        self.blocked = blocked


def causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and everything it wraps (causes, contexts, aiohttp's ``os_error``), once each."""
    todo: list[BaseException] = [exc]
    seen: set[int] = set()
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        nested = (current.__cause__, current.__context__, getattr(current, "os_error", None))
        todo.extend(e for e in nested if isinstance(e, BaseException))


def own_failure(exc: BaseException) -> Exception | None:
    """The service's own failure behind ``exc``, as the fetcher should see it (the table above)."""
    for current in causes(exc):
        if isinstance(current, EgressBlocked):
            return current if current is exc else EgressBlocked(current.reason, str(current))
        if isinstance(current, BlockedConnection):
            return EgressBlocked(current.blocked.reason, str(current.blocked))
        if isinstance(current, LookupFailed):
            if current.timed_out:
                return DnsTimeout(str(current))
            return DnsError(str(current), temporary=current.temporary)
    return None


def raise_own_failure(exc: Exception) -> None:
    """Raise the service's own failure behind ``exc`` (itself if it is one), if there is one."""
    mapped = own_failure(exc)
    if mapped is exc:
        raise exc
    if mapped is not None:
        raise mapped from exc


class RunLookups:
    """The run's name resolution: its c-ares channel (unless the policy has its own resolver) and
    the checked lookups over it; ``aclose`` ends both, pending lookups cancelled."""

    def __init__(self, policy: EgressPolicy, *, budget_s: float) -> None:
        self._dns = AresResolver(budget_s=budget_s) if policy.resolves_with_system else None
        self.checked = CheckedLookups(policy if self._dns is None else policy.for_run(self._dns))

    @property
    def policy(self) -> EgressPolicy:
        return self.checked.policy

    async def aclose(self) -> None:
        try:
            await self.checked.aclose()
        finally:
            if self._dns is not None:
                await self._dns.aclose()


@cache
def verified_ssl_context() -> ssl.SSLContext:
    """One verified TLS context per process (building one costs ~20-100 ms)."""
    return httpx.create_ssl_context(trust_env=False)
