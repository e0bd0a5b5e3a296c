"""Name resolution the deadline can stop: c-ares on the run's own event loop, no thread.

Why not ``getaddrinfo``: the C library's resolver blocks a thread of the loop's default
executor. Cancelling the awaiting task does not stop that thread, lookups queue behind
hung ones in the small pool, and ``asyncio.run`` joins the pool on the way out, so a
resolver that never answers held the handler's return until every lookup gave up
(resolver timeout x attempts x nameservers) and past the Lambda timeout.

Here a lookup is a c-ares query (``aiodns`` over ``pycares``): its sockets are watched by
the running loop (``add_reader``), so waiting for an answer costs nothing but a file
descriptor, cancelling the waiter is immediate, and ``AresResolver.aclose`` cancels every
query still pending and releases its sockets. The channel reads the system's
configuration as the C library does (``/etc/resolv.conf``: nameservers, search, ndots;
``/etc/hosts`` first, per ``/etc/nsswitch.conf``). One channel per run (or per store
session), with its per-try ``timeout`` and ``tries`` set from the attempt's budget; the
caller bounds the whole lookup further with its own deadline.

aiodns 4 drives pycares 5 with an event thread per channel by default; ``AresResolver``
asks for its socket-state callback mode instead (``compat.aiodns_hooks``), so no thread of
the invocation exists at all. pycares keeps one idle process-wide thread that destroys closed
channels: ``start_reaper`` starts it at init, outside any invocation.

``LookupFailed`` (an ``OSError``, so aiohttp and botocore treat it as a connection
failure) says whether the lookup timed out and whether another try may succeed.
"""

from __future__ import annotations

import asyncio
import socket
from types import TracebackType

import aiodns
import pycares
from aiohttp.abc import AbstractResolver, ResolveResult

from fanout.fetch.compat.aiodns_hooks import LoopDrivenResolver

_NUMERIC_FLAGS = socket.AI_NUMERICHOST | socket.AI_NUMERICSERV
_TEMPORARY = frozenset(
    {
        pycares.errno.ARES_ESERVFAIL,
        pycares.errno.ARES_EREFUSED,
        pycares.errno.ARES_ECONNREFUSED,
        pycares.errno.ARES_EBADRESP,
        pycares.errno.ARES_EOF,
        pycares.errno.ARES_EFORMERR,
    }
)
_REASONS = {
    pycares.errno.ARES_ENOTFOUND: "no such name",
    pycares.errno.ARES_ENODATA: "the name has no address",
    pycares.errno.ARES_ESERVFAIL: "the DNS server failed (SERVFAIL)",
    pycares.errno.ARES_EREFUSED: "the DNS server refused the query",
    pycares.errno.ARES_ECONNREFUSED: "no DNS server could be reached",
    pycares.errno.ARES_ETIMEOUT: "no DNS answer in time",
}


class LookupFailed(OSError):
    """``host`` has no usable answer; ``timed_out``: no answer in time; ``temporary``: retry may help."""

    def __init__(self, host: str, reason: str, *, timed_out: bool = False, temporary: bool = False) -> None:
        super().__init__(f"cannot resolve {host!r}: {reason}")
        self.host = host
        self.reason = reason
        self.timed_out = timed_out
        self.temporary = temporary


def query_timing(budget_s: float, tries: int = 2) -> tuple[float, int]:
    """c-ares' per-try timeout and tries for lookups that must end within ``budget_s``.

    c-ares doubles the timeout on each retry: with 2 tries the worst case is 3 x the
    first, so the first try gets a third of the budget (at most 5 s: an answer that has
    not come in 5 s is better asked for again).
    """
    first = min(5.0, max(0.05, budget_s / (2**tries - 1)))
    return first, tries


class AresResolver:
    """One c-ares channel on the running loop; ``async with`` closes it (pending queries cancelled).

    ``resolve(host, port)`` returns the host's addresses (IPv4 and IPv6) as strings, in the
    order c-ares sorts them (RFC 6724), or raises ``LookupFailed``.
    """

    def __init__(self, *, budget_s: float, tries: int = 2) -> None:
        timeout_s, tries = query_timing(budget_s, tries)
        self._inner = LoopDrivenResolver(timeout=timeout_s, tries=tries, loop=asyncio.get_running_loop())

    async def resolve(self, host: str, port: int) -> list[str]:
        try:
            answer = await self._inner.getaddrinfo(
                host, socket.AF_UNSPEC, port=port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
            )
        except aiodns.error.DNSError as exc:
            code = exc.args[0] if exc.args else -1
            reason = _REASONS.get(code) or (str(exc.args[1]) if len(exc.args) > 1 else "lookup failed")
            raise LookupFailed(
                host,
                reason,
                timed_out=code == pycares.errno.ARES_ETIMEOUT,
                temporary=code in _TEMPORARY,
            ) from None
        addresses = list(dict.fromkeys(node.addr[0].decode() for node in answer.nodes))
        if not addresses:
            raise LookupFailed(host, "the name has no address")
        return addresses

    async def aclose(self) -> None:
        await self._inner.close()

    def connector_resolver(self) -> AbstractResolver:
        """This resolver as aiohttp's, for clients that are not the fetcher's (AWS's)."""
        return ConnectorResolver(self)

    async def __aenter__(self) -> AresResolver:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


class ConnectorResolver(AbstractResolver):
    """An ``AresResolver`` as aiohttp's resolver (for clients that are not the fetcher's: AWS).

    The resolver belongs to whoever made it: ``close`` leaves it open.
    """

    def __init__(self, resolver: AresResolver) -> None:
        self._resolver = resolver

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return as_resolve_results(host, port, family, await self._resolver.resolve(host, port))

    async def close(self) -> None:
        return None


def as_resolve_results(
    host: str, port: int, family: socket.AddressFamily, addresses: list[str]
) -> list[ResolveResult]:
    """Addresses as aiohttp wants them: numeric, of ``family`` (or both for ``AF_UNSPEC``)."""
    results: list[ResolveResult] = []
    for address in addresses:
        af = socket.AF_INET6 if ":" in address else socket.AF_INET
        if family in (socket.AF_UNSPEC, af):
            result = ResolveResult(
                hostname=host, host=address, port=port, family=af, proto=0, flags=_NUMERIC_FLAGS
            )
            results.append(result)
    if not results:
        raise LookupFailed(host, f"no address of family {family.name}")
    return results


def start_reaper() -> None:
    """Start pycares' process-wide channel reaper now (at init), not inside an invocation.

    Creating a channel starts it; nothing is resolved and the channel is closed at once.
    """
    pycares.Channel(sock_state_cb=lambda fd, readable, writable: None).close()
