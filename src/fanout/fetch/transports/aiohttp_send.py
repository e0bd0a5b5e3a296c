"""The one way a request goes out on aiohttp, and the one mapping of what aiohttp raises.

Both paths of the aiohttp transport send here: ``FanoutAiohttpTransport.handle_async_request``
(an ``httpx.Request`` in, an ``httpx.Response`` out) and the lean hop of ``AiohttpWire``
(a URL and headers in, aiohttp's response under the ``Hop`` interface out). ``send`` is the
request builder (the URL handed over already encoded, no per-request timeout: the fetcher
bounds each whole attempt itself); ``map_aiohttp_exceptions`` (httpx's
``map_httpcore_exceptions`` shape) turns what a send or a body read raises into what the
fetcher sees: the service's own failure behind it (``base.raise_own_failure``), else the httpx
exception the stock transport raises for the same failure (``AIOHTTP_TO_HTTPX``: aiohttp's own
mapping is coarse, a refused connection there is ``ConnectTimeout``).
"""

from __future__ import annotations

from collections.abc import Iterable
from types import TracebackType
from typing import Any, Literal

import aiohttp
import httpx
import yarl

from fanout.fetch.transports.base import raise_own_failure

AIOHTTP_TO_HTTPX: tuple[tuple[type[BaseException], type[httpx.TransportError]], ...] = (
    (aiohttp.ConnectionTimeoutError, httpx.ConnectTimeout),
    (aiohttp.ServerTimeoutError, httpx.ReadTimeout),
    (aiohttp.ClientConnectorError, httpx.ConnectError),
    (aiohttp.ServerDisconnectedError, httpx.RemoteProtocolError),
    (aiohttp.ClientResponseError, httpx.RemoteProtocolError),
    (aiohttp.NonHttpUrlClientError, httpx.UnsupportedProtocol),
    (aiohttp.InvalidURL, httpx.UnsupportedProtocol),
    (aiohttp.ClientError, httpx.ReadError),  # ClientPayloadError, ClientOSError (reset), ...
)
"""aiohttp's exceptions and the httpx exception each becomes: the first row that matches."""


def to_httpx(exc: BaseException, request: httpx.Request | None) -> Exception | None:
    """The httpx exception for an aiohttp one (``None`` if it is not aiohttp's)."""
    cause = exc.__cause__ if isinstance(exc, httpx.TransportError) else exc
    for kind, mapped in AIOHTTP_TO_HTTPX:
        if isinstance(cause, kind):
            return mapped(str(cause) or type(cause).__name__, request=request)
    return None


class map_aiohttp_exceptions:
    """``with map_aiohttp_exceptions(request):`` what aiohttp raises inside, as the fetcher sees it.

    A class rather than a ``@contextmanager`` generator: it is entered on every send and every
    body read. Stateless once made, so a hop with no ``httpx.Request`` (the lean hop) shares
    ``UNBOUND`` and a body makes one for all its reads. ``BaseException``s that are not
    ``Exception``s (``CancelledError``) pass through untouched.
    """

    __slots__ = ("_request",)

    def __init__(self, request: httpx.Request | None = None) -> None:
        self._request = request

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> Literal[False]:
        if exc is None or not isinstance(exc, Exception):
            return False
        raise_own_failure(exc)
        mapped = to_httpx(exc, self._request)
        if mapped is None:
            return False
        raise mapped from exc


UNBOUND = map_aiohttp_exceptions()
"""The mapping for a hop with no ``httpx.Request``."""

NO_TIMEOUT = aiohttp.ClientTimeout(total=None, connect=None, sock_read=None, sock_connect=None)
VERSIONS = {aiohttp.HttpVersion10: b"HTTP/1.0", aiohttp.HttpVersion11: b"HTTP/1.1"}


async def send(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    headers: Iterable[tuple[str, str]],
    data: Any,
    request: httpx.Request | None,
) -> aiohttp.ClientResponse:
    """``url`` (encoded as httpx writes it: yarl neither parses nor requotes it again) sent on
    ``session`` as it is: no redirects, no decompression, no timeout of aiohttp's own."""
    sni = request.extensions.get("sni_hostname") if request is not None else None
    with UNBOUND if request is None else map_aiohttp_exceptions(request):
        return await session.request(
            method,
            yarl.URL(url, encoded=True),
            headers=headers,
            data=data,
            allow_redirects=False,
            auto_decompress=False,
            compress=False,
            timeout=NO_TIMEOUT,
            server_hostname=sni,
        )


def request_parts(request: httpx.Request) -> tuple[list[tuple[str, str]], Any]:
    """The headers and body of ``request`` as ``send`` takes them (a stream: aiohttp frames it)."""
    data: Any
    try:
        data = request.content or None
    except httpx.RequestNotRead:
        data = request.stream
        request.headers.pop("transfer-encoding", None)
    return request.headers.multi_items(), data


class AiohttpBody(httpx.AsyncByteStream):
    """An aiohttp response body as an httpx stream; read errors are httpx's, as with httpcore.

    Its own async iterator (no generator frame per response): each step is one
    ``readany()``, whatever aiohttp has buffered (flow control bounds it).
    """

    def __init__(self, response: aiohttp.ClientResponse, request: httpx.Request | None) -> None:
        self._response = response
        self._errors = map_aiohttp_exceptions(request)

    def __aiter__(self) -> AiohttpBody:
        return self

    async def __anext__(self) -> bytes:
        with self._errors:
            chunk = await self._response.content.readany()
        if not chunk:
            raise StopAsyncIteration
        return chunk

    async def aclose(self) -> None:
        await release(self._response)


async def release(response: aiohttp.ClientResponse) -> None:
    """What ``async with session.request(...)`` does on exit: the connection goes back to the
    pool only if the body was read to its end, else it is closed."""
    response.release()
    await response.wait_for_close()
