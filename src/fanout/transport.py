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
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Callable
from functools import cache
from http.cookiejar import CookieJar, DefaultCookiePolicy

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

from fanout.config import TransportName


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


class _RemappedStream(httpx.AsyncByteStream):
    """A response body stream whose read errors are httpx's, as with httpcore."""

    def __init__(self, inner: httpx.AsyncByteStream, request: httpx.Request) -> None:
        self._inner = inner
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._inner:
                yield chunk
        except Exception as exc:
            mapped = _to_httpx(exc, self._request)
            if mapped is None:
                raise
            raise mapped from exc

    async def aclose(self) -> None:
        await self._inner.aclose()


class FanoutAiohttpTransport(AiohttpTransport):
    """``httpx_aiohttp.AiohttpTransport`` with precise exception mapping."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            response = await super().handle_async_request(request)
        except Exception as exc:
            mapped = _to_httpx(exc, request)
            if mapped is None:
                raise
            raise mapped from exc
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _RemappedStream(response.stream, request)
        return response


@cache
def verified_ssl_context() -> ssl.SSLContext:
    """One verified TLS context per process (building one costs ~20-100 ms)."""
    return httpx.create_ssl_context(trust_env=False)


def _session_factory(
    *, concurrency: int, per_host_concurrency: int, max_header_bytes: int
) -> Callable[[], aiohttp.ClientSession]:
    def make() -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            limit=concurrency,
            limit_per_host=per_host_concurrency,
            ssl=verified_ssl_context(),
            ttl_dns_cache=60,
        )
        return aiohttp.ClientSession(
            connector=connector,
            trust_env=False,
            auto_decompress=False,
            cookie_jar=aiohttp.DummyCookieJar(),
            max_line_size=max_header_bytes,
            max_field_size=max_header_bytes,
        )

    return make


def build_client(
    *,
    transport: TransportName,
    concurrency: int,
    per_host_concurrency: int,
    follow_redirects: bool,
    max_redirects: int,
    max_header_bytes: int,
    user_agent: str,
) -> httpx.AsyncClient:
    """An httpx client for one run; the caller closes it (``async with``).

    Connection pools are sized to the run's caps so requests never queue inside
    the pool (the engine's own slots do the queueing, outside any timeout).
    """
    limits = httpx.Limits(
        max_connections=concurrency, max_keepalive_connections=concurrency, keepalive_expiry=5.0
    )
    base: httpx.AsyncBaseTransport
    if transport == "aiohttp":
        base = FanoutAiohttpTransport(
            verify=verified_ssl_context(),
            trust_env=False,
            client=_session_factory(
                concurrency=concurrency,
                per_host_concurrency=per_host_concurrency,
                max_header_bytes=max_header_bytes,
            ),
        )
    else:
        base = httpx.AsyncHTTPTransport(verify=verified_ssl_context(), limits=limits, trust_env=False)
    return httpx.AsyncClient(
        transport=base,
        trust_env=False,
        follow_redirects=follow_redirects,
        max_redirects=max_redirects,
        timeout=None,  # The fetcher caps each whole attempt itself.
        headers={"User-Agent": user_agent},
        cookies=_no_cookies(),
    )


def _no_cookies() -> httpx.Cookies:
    """A cookie jar that keeps nothing: one URL's cookies must not reach another's requests."""
    return httpx.Cookies(CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])))
