"""One attempt's trace: which name it waits on (for a timeout's diagnosis) and how long each
phase took (DNS, TCP connect, TLS handshake, time to first byte, transfer), summed over its hops.

The fetcher makes one per attempt and sets it in a context variable for the attempt's task; the
parts that see a phase happen in that task (the lookups, the socket factory, the transport's
protocol factory) and mark it here, at the cost of a clock read. A phase that was not needed (a
kept-alive connection, an answer already resolved) counts zero.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from fanout.core.facts import Timings


@dataclass(slots=True)
class AttemptTrace:
    started: float = 0.0
    resolving: str | None = None
    dns_s: float = 0.0
    connect_s: float = 0.0
    tls_s: float = 0.0
    ttfb_s: float = 0.0
    transfer_s: float = 0.0
    remote_ip: str | None = None
    tls_used: bool = False
    _connecting_at: float | None = None
    _ready_at: float | None = None
    _hop_at: float = 0.0

    def hop(self) -> None:
        """A request (the first, or a redirect's) is being sent now."""
        self._hop_at = time.monotonic()
        self._ready_at = None

    def connecting(self, ip: str) -> None:
        """A socket to ``ip`` is being opened (the socket factory)."""
        self._connecting_at = time.monotonic()
        self.remote_ip = ip

    def connected(self) -> None:
        """TCP is up (the transport's protocol is made): TLS, if any, starts now."""
        now = time.monotonic()
        if self._connecting_at is not None:
            self.connect_s += now - self._connecting_at
            self._connecting_at = None
        self._ready_at = now

    def handshaken(self, *, tls: bool) -> None:
        """The connection is ready for the request (after its TLS handshake, with ``tls``)."""
        now = time.monotonic()
        if tls and self._ready_at is not None:
            self.tls_s += now - self._ready_at
            self.tls_used = True
        self._ready_at = now

    def answered(self) -> float:
        """The response's headers arrived: time to first byte from the connection being ready."""
        now = time.monotonic()
        self.ttfb_s += now - max(self._ready_at or self._hop_at, self._hop_at)
        return now

    def drained(self, headers_at: float) -> None:
        self.transfer_s += time.monotonic() - headers_at

    def timings(self, *, https: bool) -> Timings:
        """The phases so far; ``tls_ms`` is None when no hop was https."""
        ms = 1000.0
        return Timings.rounded(
            self.dns_s * ms,
            self.connect_s * ms,
            self.tls_s * ms if https or self.tls_used else None,
            self.ttfb_s * ms,
            self.transfer_s * ms,
            (time.monotonic() - self.started) * ms,
        )


CURRENT_TRACE: ContextVar[AttemptTrace | None] = ContextVar("fanout_attempt_trace", default=None)


@contextmanager
def waiting_on(host: str) -> Iterator[None]:
    """Mark the current attempt as waiting for ``host``'s answer (its DNS time, and a timeout's
    diagnosis). A wait cut by cancellation (the attempt's timeout) leaves the mark: the fetcher
    then reports the timeout as DNS's."""
    trace = CURRENT_TRACE.get()
    if trace is None:
        yield
        return
    trace.resolving = host
    started = time.monotonic()
    try:
        yield
    except asyncio.CancelledError:
        raise
    except BaseException:
        trace.resolving = None
        raise
    finally:
        trace.dns_s += time.monotonic() - started
    trace.resolving = None
