"""The httpx client the fetcher uses, over aiohttp (default) or httpx's stock httpcore.

Why aiohttp under httpx: with 100 requests in flight httpcore 1.0.9 keeps the client
at 100 % CPU (~19x slower than aiohttp, deadline timers firing hundreds of ms late) and
leaks pool slots when requests are cancelled under contention (httpcore #1093, #961,
#1110). ``httpx-aiohttp`` keeps httpx's API (requests, responses, exceptions) on
aiohttp's connection pool. Its exception mapping is coarse (a refused connection
becomes ``ConnectTimeout``), so ``FanoutAiohttpTransport`` maps aiohttp's exceptions
to the httpx exception the stock transport raises for the same failure; the fetcher
then sees one vocabulary whichever transport is selected.

Clients are made per run, inside the running event loop, and closed before the run
returns (an aiohttp session cannot outlive its loop).

The egress guard (``fanout.egress``) is wired into both transports, so it holds for the
first request and for every redirect hop the fetcher sends:

- ``handle_async_request`` runs ``EgressPolicy.check_url`` before any I/O (scheme,
  userinfo, port, host syntax, literal and numeric addresses); its verdict is kept per
  scheme, host and port for the transport's run (``egress.UrlChecks``).
- aiohttp: the ``TCPConnector`` gets a resolver that resolves once through the policy
  (every answer checked, the host refused if any is blocked) and returns only those
  addresses, which aiohttp connects to as given; its DNS cache (``ttl_dns_cache``) only
  ever holds checked answers, and the connector belongs to one run. A socket factory
  re-checks the address of every socket aiohttp opens, including IP-literal hosts,
  which aiohttp connects to without asking the resolver.
- httpcore: the pool's network backend resolves through the policy and connects to the
  checked IP itself; TLS still uses the URL's host name for SNI and certificate checks.

Refusals surface as ``EgressBlocked`` whatever layer raised them (unwrapped from
aiohttp's and httpx's exceptions here).
"""

from __future__ import annotations

import errno
import ipaddress
import socket
import ssl
import typing
from collections.abc import Callable
from functools import cache
from http.cookiejar import CookieJar, DefaultCookiePolicy

import aiohttp
import httpx
import yarl
from aiohttp.abc import AbstractResolver, ResolveResult
from httpx_aiohttp import AiohttpTransport

from fanout.config import TransportName
from fanout.dns import AresResolver, LookupFailed, as_resolve_results
from fanout.egress import DEFAULT_POLICY, HOST_INVALID, CheckedLookups, EgressPolicy
from fanout.errors import EgressBlocked

AddrInfo = tuple[int, int, int, str, tuple[typing.Any, ...]]


class BlockedConnection(OSError):
    """A socket the egress policy refused to open.

    An ``OSError`` so that aiohttp's connection code treats it as one failed address;
    ``refusal`` recovers the ``EgressBlocked`` from whatever wraps it.
    """

    def __init__(self, blocked: EgressBlocked) -> None:
        super().__init__(errno.EACCES, str(blocked))
        self.blocked = blocked


class DNSError(httpx.ConnectError):
    """The host name has no usable answer (no such name, SERVFAIL, ...); ``temporary``: a retry may help."""

    def __init__(
        self, message: str, *, temporary: bool = False, request: httpx.Request | None = None
    ) -> None:
        super().__init__(message, request=request)
        self.temporary = temporary


class DNSTimeout(httpx.ConnectTimeout):
    """No DNS answer came within the attempt's time (``request_timeout_s``)."""


def _causes(exc: BaseException) -> typing.Iterator[BaseException]:
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


def refusal(exc: BaseException) -> EgressBlocked | None:
    """The egress refusal behind ``exc`` (itself, or anywhere in its causes), if any."""
    for current in _causes(exc):
        if isinstance(current, EgressBlocked):
            return current
        if isinstance(current, BlockedConnection):
            return current.blocked
    return None


def reraise_refusal(exc: Exception) -> None:
    """Raise the ``EgressBlocked`` behind ``exc`` as itself, if there is one."""
    blocked = refusal(exc)
    if blocked is exc:
        raise exc
    if blocked is not None:
        raise EgressBlocked(blocked.reason, str(blocked)) from exc


def reraise_lookup_failure(exc: Exception, request: httpx.Request | None) -> None:
    """Raise ``DNSTimeout``/``DNSError`` for the failed lookup behind ``exc``, if there is one."""
    failed = next((e for e in _causes(exc) if isinstance(e, LookupFailed)), None)
    if failed is None:
        return
    if failed.timed_out:
        raise DNSTimeout(str(failed), request=request) from exc
    raise DNSError(str(failed), temporary=failed.temporary, request=request) from exc


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
        return socket.socket(family=family, type=type_, proto=proto)

    return make


def _to_httpx(exc: BaseException, request: httpx.Request | None) -> Exception | None:
    """The httpx exception for an aiohttp one (``None`` if it is not aiohttp's)."""
    cause = exc.__cause__ if isinstance(exc, httpx.TransportError) else exc
    if not isinstance(cause, aiohttp.ClientError | aiohttp.ServerTimeoutError):
        return None
    message = str(cause) or type(cause).__name__
    mapped: type[httpx.TransportError]
    if isinstance(cause, aiohttp.ConnectionTimeoutError):
        mapped = httpx.ConnectTimeout
    elif isinstance(cause, aiohttp.ServerTimeoutError):
        mapped = httpx.ReadTimeout
    elif isinstance(cause, aiohttp.ClientConnectorError):
        mapped = httpx.ConnectError
    elif isinstance(cause, aiohttp.ServerDisconnectedError | aiohttp.ClientResponseError):
        mapped = httpx.RemoteProtocolError
    elif isinstance(cause, aiohttp.NonHttpUrlClientError | aiohttp.InvalidURL):
        mapped = httpx.UnsupportedProtocol
    else:  # ClientPayloadError, ClientOSError (reset), other connection errors
        mapped = httpx.ReadError
    return mapped(message, request=request)


_NO_TIMEOUT = aiohttp.ClientTimeout(total=None, connect=None, sock_read=None, sock_connect=None)


class _AiohttpBody(httpx.AsyncByteStream):
    """An aiohttp response body as an httpx stream; read errors are httpx's, as with httpcore.

    Its own async iterator (no generator frame per response): each step is one
    ``readany()``, whatever aiohttp has buffered (flow control bounds it).
    """

    def __init__(self, response: aiohttp.ClientResponse, request: httpx.Request) -> None:
        self._response = response
        self._request = request

    def __aiter__(self) -> _AiohttpBody:
        return self

    async def __anext__(self) -> bytes:
        try:
            chunk = await self._response.content.readany()
        except Exception as exc:
            mapped = _to_httpx(exc, self._request)
            if mapped is None:
                raise
            raise mapped from exc
        if not chunk:
            raise StopAsyncIteration
        return chunk

    async def aclose(self) -> None:
        # What ``async with session.request(...)`` does on exit: the connection goes back
        # to the pool only if the body was read to its end, else it is closed.
        self._response.release()
        await self._response.wait_for_close()


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

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        request.url = self._check_url(request.url)
        session = self.client
        if not isinstance(session, aiohttp.ClientSession):
            session = self.client = self.get_client()
        data: typing.Any
        try:
            data = request.content or None
        except httpx.RequestNotRead:  # a streamed body: aiohttp frames it itself
            data = request.stream
            request.headers.pop("transfer-encoding", None)
        try:
            response = await session.request(
                request.method,
                yarl.URL(str(request.url), encoded=True),
                headers=request.headers.multi_items(),
                data=data,
                allow_redirects=False,
                auto_decompress=False,
                compress=False,
                timeout=_NO_TIMEOUT,
                server_hostname=request.extensions.get("sni_hostname"),
            )
        except Exception as exc:
            reraise_refusal(exc)
            reraise_lookup_failure(exc, request)
            mapped = _to_httpx(exc, request)
            if mapped is None:
                raise
            raise mapped from exc
        extensions = {"http_version": b"HTTP/1.1"}
        if response.reason:
            extensions["reason_phrase"] = response.reason.encode()
        return httpx.Response(
            status_code=response.status,
            headers=response.raw_headers,
            stream=_AiohttpBody(response, request),
            request=request,
            extensions=extensions,
        )


@cache
def verified_ssl_context() -> ssl.SSLContext:
    """One verified TLS context per process (building one costs ~20-100 ms)."""
    return httpx.create_ssl_context(trust_env=False)


def _session_factory(
    *, concurrency: int, per_host_concurrency: int, max_header_bytes: int, lookups: CheckedLookups
) -> Callable[[], aiohttp.ClientSession]:
    def make() -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            limit=concurrency,
            limit_per_host=per_host_concurrency,
            ssl=verified_ssl_context(),
            use_dns_cache=False,  # the run's CheckedLookups keep resolutions (checked) instead
            resolver=GuardedResolver(lookups),
            socket_factory=guarded_socket_factory(lookups.policy),
        )
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
        # twice with retries=0). The fetcher owns retries; aiohttp's own test client turns
        # this off the same way (no public switch exists).
        session._retry_connection = False
        return session

    return make


class FanoutClient(httpx.AsyncClient):
    """The run's httpx client, which also names the transport it sends on.

    ``transport`` is public so the fetcher can call ``handle_async_request`` directly
    (httpx's public transport API): ``AsyncClient.send`` adds auth and redirect
    generators, cookie extraction, event hooks, logging and a stream wrapper, ~80 us a
    request for nothing this service uses. The client still owns the transport (``async
    with`` closes it) and works as any ``httpx.AsyncClient`` for other callers.
    It never keeps a cookie (``_NoCookieJar``): one URL's cookies must not reach another's.
    """

    def __init__(
        self,
        *,
        transport: httpx.AsyncBaseTransport,
        user_agent: str,
        follow_redirects: bool = False,
        max_redirects: int = 0,
    ) -> None:
        super().__init__(
            transport=transport,
            trust_env=False,
            follow_redirects=follow_redirects,
            max_redirects=max_redirects,
            timeout=None,  # The fetcher caps each whole attempt itself.
            headers={"User-Agent": user_agent},
            # The jar itself: ``AsyncClient(cookies=httpx.Cookies(jar))`` would copy the
            # cookies into a new default-policy ``CookieJar``, which keeps and sends them.
            cookies=_NoCookieJar(),
        )
        self.transport = transport


class RunLookups:
    """The run's name resolution: its c-ares channel (unless the policy has its own resolver) and
    the checked lookups over it; ``aclose`` ends both, pending lookups cancelled."""

    def __init__(self, policy: EgressPolicy, *, budget_s: float) -> None:
        self._dns = AresResolver(budget_s=budget_s) if policy.resolves_with_system else None
        self.checked = CheckedLookups(policy if self._dns is None else policy.for_run(self._dns))

    async def aclose(self) -> None:
        try:
            await self.checked.aclose()
        finally:
            if self._dns is not None:
                await self._dns.aclose()


def build_client(
    *,
    transport: TransportName,
    concurrency: int,
    per_host_concurrency: int,
    follow_redirects: bool,
    max_redirects: int,
    max_header_bytes: int,
    user_agent: str,
    egress: EgressPolicy | None = None,
    dns_budget_s: float = 10.0,
) -> FanoutClient:
    """An httpx client for one run, made inside its event loop; the caller closes it (``async with``).

    Connection pools are sized to the run's caps so requests never queue inside
    the pool (the engine's own slots do the queueing, outside any timeout).
    ``egress`` defaults to the policy from the process's settings: never unguarded.
    ``dns_budget_s`` bounds each lookup (the attempt's ``request_timeout_s``).
    """
    policy = DEFAULT_POLICY if egress is None else egress
    lookups = RunLookups(policy, budget_s=dns_budget_s)
    base: httpx.AsyncBaseTransport
    if transport == "aiohttp":
        base = FanoutAiohttpTransport(
            egress=policy,
            lookups=lookups,
            verify=verified_ssl_context(),
            trust_env=False,
            client=_session_factory(
                concurrency=concurrency,
                per_host_concurrency=per_host_concurrency,
                max_header_bytes=max_header_bytes,
                lookups=lookups.checked,
            ),
        )
    else:
        from fanout.transport_httpcore import GuardedHTTPTransport  # httpcore: only when chosen

        limits = httpx.Limits(
            max_connections=concurrency, max_keepalive_connections=concurrency, keepalive_expiry=5.0
        )
        base = GuardedHTTPTransport(
            egress=policy, lookups=lookups, verify=verified_ssl_context(), limits=limits
        )
    return FanoutClient(
        transport=base, user_agent=user_agent, follow_redirects=follow_redirects, max_redirects=max_redirects
    )


class _NoCookieJar(CookieJar):
    """Keeps nothing and adds nothing: one URL's cookies must not reach another's requests."""

    def __init__(self) -> None:
        super().__init__(policy=DefaultCookiePolicy(allowed_domains=[]))  # and if asked: no domain

    def extract_cookies(self, response: typing.Any, request: typing.Any) -> None:
        return None

    def add_cookie_header(self, request: typing.Any) -> None:
        return None

    def set_cookie(self, cookie: typing.Any) -> None:
        return None
