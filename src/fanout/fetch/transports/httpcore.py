"""httpx's stock transport (httpcore) with the egress guard: the selectable alternative.

Imported only when ``FANOUT_HTTP_TRANSPORT=httpcore`` is chosen (``fetch.client.build_client``),
so the default path never pays for importing httpcore and h11 (part of a cold start: docs/benchmarks.md).

The pool's network backend resolves through the egress policy and connects to the
checked IP itself; TLS still uses the URL's host name for SNI and certificate checks.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

from fanout.errors import EgressBlocked
from fanout.fetch.egress.lookups import CheckedLookups
from fanout.fetch.egress.policy import EgressPolicy
from fanout.fetch.egress.rules import HOST_INVALID
from fanout.fetch.trace import CURRENT_TRACE, AttemptTrace
from fanout.fetch.transports.base import PEER, PeerInfo, RunLookups, raise_own_failure


class TracedStream(httpcore.AsyncNetworkStream):
    """httpcore's stream, marking the attempt's trace when its TLS handshake is done; it keeps
    the connection's ``PeerInfo`` (address, TLS facts)."""

    def __init__(
        self, inner: httpcore.AsyncNetworkStream, peer: PeerInfo, trace: AttemptTrace | None
    ) -> None:
        self._inner = inner
        self.peer = peer
        self._trace = trace

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:  # noqa: ASYNC109
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._inner.start_tls(ssl_context, server_hostname, timeout)
        if self._trace is not None:
            self._trace.handshaken(tls=True)
        return TracedStream(stream, PeerInfo(self.peer.ip, stream.get_extra_info("ssl_object")), None)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class GuardedNetworkBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend: resolve through the policy, connect to a checked IP.

    Addresses are tried in the resolver's order until one connects. The host name
    httpcore passes is used for nothing else: TLS gets the URL's host from httpcore.
    """

    def __init__(self, lookups: CheckedLookups, inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        self._lookups = lookups
        self._inner = inner if inner is not None else httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109  (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await self._lookups.resolve(host, port)
        except OSError as exc:  # LookupFailed, or an injected resolver's failure
            raise httpcore.ConnectError(str(exc) or type(exc).__name__) from exc
        failure: Exception | None = None
        trace = CURRENT_TRACE.get()
        for address in addresses:
            if trace is not None:
                trace.connecting(str(address))
            try:
                stream = await self._inner.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
                continue
            if trace is not None:
                trace.connected()
            return TracedStream(stream, PeerInfo(str(address)), trace)
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109  (httpcore's interface)
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise EgressBlocked(HOST_INVALID, "unix sockets are not allowed")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedHTTPTransport(httpx.AsyncHTTPTransport):
    """httpx's stock transport (httpcore) with the egress guard in its network backend."""

    def __init__(
        self, *, egress: EgressPolicy, lookups: RunLookups, verify: ssl.SSLContext, limits: httpx.Limits
    ) -> None:
        super().__init__(verify=verify, limits=limits, trust_env=False)
        self._check_url = egress.url_checks()
        self._lookups = lookups
        # httpx builds its pool without a way to pass a network backend: build the same
        # pool (as ``AsyncHTTPTransport.__init__`` does without a proxy) with ours.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=verify,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedNetworkBackend(lookups.checked),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        request.url = self._check_url(request.url)
        try:
            response = await super().handle_async_request(request)
        except Exception as exc:
            raise_own_failure(exc)
            raise
        stream = response.extensions.get("network_stream")
        if isinstance(stream, TracedStream):
            response.extensions[PEER] = stream.peer
        return response

    async def aclose(self) -> None:
        try:
            await super().aclose()
        finally:
            await self._lookups.aclose()
