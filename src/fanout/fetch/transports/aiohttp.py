"""httpx requests on aiohttp's connection pool: the default transport.

Why aiohttp under httpx: with 100 requests in flight httpcore 1.0.9 keeps the client at 100 %
CPU (many times aiohttp's CPU, deadline timers firing late: docs/benchmarks.md) and leaks pool slots
when requests are cancelled under contention (httpcore #1093, #961, #1110). ``httpx-aiohttp``
keeps httpx's API (requests, responses, exceptions) on aiohttp's pool. Requests go out, and
aiohttp's exceptions become httpx's, in one place (``transports.aiohttp_send``), for this
transport and for the lean hop of ``transports.aiohttp_wire``: the fetcher sees one vocabulary
whichever transport is selected.

Each connection's phases are marked on the attempt's trace (``fetch.trace``): the socket factory
when a socket opens, the connection's protocol (``TimedHandler``) when TCP is up and when TLS is
done; the response names its connection's ``PeerInfo`` (address, TLS facts). The protocol and
the response's link to it are aiohttp internals, reached through ``compat.aiohttp_hooks``.

The egress guard is wired in twice: ``handle_async_request`` runs the URL check before any I/O
(its verdict kept per scheme, host and port for the run), and the session's connector gets a
resolver that returns only the run's checked addresses (aiohttp connects to them as given; its
own DNS cache is off) and a socket factory that re-checks the address of every socket it
opens, including IP-literal hosts, which aiohttp connects to without asking the resolver.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
import typing
from collections.abc import Callable

import aiohttp
import httpx
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.client_proto import ResponseHandler
from httpx_aiohttp import AiohttpTransport

from fanout.errors import EgressBlocked
from fanout.fetch.compat.aiohttp_hooks import (
    response_protocol,
    turn_off_connection_retry,
    use_protocol_factory,
)
from fanout.fetch.dns import as_resolve_results
from fanout.fetch.egress.lookups import CheckedLookups
from fanout.fetch.egress.policy import EgressPolicy
from fanout.fetch.egress.rules import HOST_INVALID
from fanout.fetch.trace import CURRENT_TRACE, AttemptTrace
from fanout.fetch.transports.aiohttp_send import AiohttpBody, request_parts, send
from fanout.fetch.transports.base import (
    PEER,
    BlockedConnection,
    PeerInfo,
    RunLookups,
)

AddrInfo = tuple[int, int, int, str, tuple[typing.Any, ...]]


class GuardedResolver(AbstractResolver):
    """aiohttp's resolver: the run's checked lookups (one resolution a host), checked addresses out."""

    def __init__(self, lookups: CheckedLookups) -> None:
        self._lookups = lookups

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        addresses = await self._lookups.resolve(host, port)
        return as_resolve_results(host, port, family, [str(a) for a in addresses])

    async def close(self) -> None:
        pass


def guarded_socket_factory(policy: EgressPolicy) -> Callable[[AddrInfo], socket.socket]:
    """aiohttp's socket factory: the last check, on the exact address being connected to."""

    def make(addr_info: AddrInfo) -> socket.socket:
        family, type_, proto, _, sockaddr = addr_info
        try:
            try:
                address = ipaddress.ip_address(str(sockaddr[0]))
            except ValueError:
                raise EgressBlocked(HOST_INVALID, f"not an IP address: {sockaddr[0]!r}") from None
            policy.check_address(address)
        except EgressBlocked as exc:
            raise BlockedConnection(exc) from exc
        trace = CURRENT_TRACE.get()
        if trace is not None:
            trace.connecting(str(address))
        return socket.socket(family=family, type=type_, proto=proto)

    return make


class TimedHandler(ResponseHandler):
    """aiohttp's connection protocol, marking the attempt's trace: made when TCP is up, told
    ``connection_made`` once TLS (if any) is done; it keeps the connection's ``PeerInfo``."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(loop)
        self.trace: AttemptTrace | None = CURRENT_TRACE.get()
        self.peer = PeerInfo(None)
        if self.trace is not None:
            self.trace.connected()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        peername = transport.get_extra_info("peername")
        ssl_object = transport.get_extra_info("ssl_object")
        self.peer = PeerInfo(str(peername[0]) if peername else None, ssl_object)
        if self.trace is not None:
            self.trace.handshaken(tls=ssl_object is not None)
            self.trace = None  # the next requests on this connection are other attempts'


class FanoutAiohttpTransport(AiohttpTransport):
    """httpx requests on aiohttp's pool: the egress URL check, precise exception mapping.

    ``handle_async_request`` replaces ``httpx_aiohttp``'s (same request, same response)
    to spend less CPU per request: no per-request ``ClientTimeout`` (the fetcher bounds
    each whole attempt itself), the URL handed to aiohttp already encoded (httpx encoded
    it; ``encoded=True`` skips yarl's second parse and requote) and one stream wrapper
    instead of two. The session, its lifecycle and ``aclose`` are ``httpx_aiohttp``'s;
    the connection-level egress checks live in the session's connector
    (``_session_factory``).
    """

    def __init__(self, *, egress: EgressPolicy, lookups: RunLookups, **kwargs: typing.Any) -> None:
        super().__init__(**kwargs)
        self._check_url = egress.url_checks()
        self._lookups = lookups

    async def aclose(self) -> None:
        try:
            await super().aclose()
        finally:
            await self._lookups.aclose()

    def check_url(self, url: httpx.URL) -> httpx.URL:
        """The egress URL check (verdicts kept for the run); the URL to send."""
        return self._check_url(url)

    def session(self) -> aiohttp.ClientSession:
        """The run's aiohttp session, made on first use (inside the run's loop)."""
        session = self.client
        if not isinstance(session, aiohttp.ClientSession):
            session = self.client = self.get_client()
        return session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        request.url = self._check_url(request.url)
        headers, data = request_parts(request)
        response = await send(self.session(), request.method, str(request.url), headers, data, request)
        return httpx.Response(
            status_code=response.status,
            headers=response.raw_headers,
            stream=AiohttpBody(response, request),
            request=request,
            extensions=response_extensions(response),
        )


_VERSIONS = {aiohttp.HttpVersion10: b"HTTP/1.0", aiohttp.HttpVersion11: b"HTTP/1.1"}


def response_extensions(response: aiohttp.ClientResponse) -> dict[str, typing.Any]:
    """The httpx response extensions of ``response``: version, reason, its connection's peer."""
    version = _VERSIONS.get(response.version, b"HTTP/1.1") if response.version else b"HTTP/1.1"
    extensions: dict[str, typing.Any] = {"http_version": version}
    if response.reason:
        extensions["reason_phrase"] = response.reason.encode()
    protocol = response_protocol(response)  # the connection may already be back in the pool
    if isinstance(protocol, TimedHandler):
        extensions[PEER] = protocol.peer
    return extensions


def _session_factory(
    *,
    concurrency: int,
    per_host_concurrency: int,
    max_header_bytes: int,
    lookups: CheckedLookups,
    ssl_context: ssl.SSLContext,
) -> Callable[[], aiohttp.ClientSession]:
    """The run's aiohttp session (made on first use, inside the run's loop), guarded."""

    def make() -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            limit=concurrency,
            limit_per_host=per_host_concurrency,
            ssl=ssl_context,
            use_dns_cache=False,  # the run's CheckedLookups keep resolutions (checked) instead
            resolver=GuardedResolver(lookups),
            socket_factory=guarded_socket_factory(lookups.policy),
        )
        use_protocol_factory(connector, TimedHandler)  # connections that mark the attempt's trace
        session = aiohttp.ClientSession(
            connector=connector,
            trust_env=False,
            auto_decompress=False,
            cookie_jar=aiohttp.DummyCookieJar(),
            max_line_size=max_header_bytes,
            max_field_size=max_header_bytes,
        )
        # aiohttp silently re-sends an idempotent request once when a reused connection
        # drops, outside the fetcher's retry rules and attempt count (a reset URL was hit
        # twice with retries=0). The fetcher owns retries.
        turn_off_connection_retry(session)
        return session

    return make


def aiohttp_transport(
    *,
    concurrency: int,
    per_host_concurrency: int,
    max_header_bytes: int,
    egress: EgressPolicy,
    lookups: RunLookups,
    ssl_context: ssl.SSLContext,
) -> FanoutAiohttpTransport:
    return FanoutAiohttpTransport(
        egress=egress,
        lookups=lookups,
        verify=ssl_context,
        trust_env=False,
        client=_session_factory(
            concurrency=concurrency,
            per_host_concurrency=per_host_concurrency,
            max_header_bytes=max_header_bytes,
            lookups=lookups.checked,
            ssl_context=ssl_context,
        ),
    )
