"""The aiohttp transport's ``Wire``: the common hop straight to aiohttp, httpx objects on demand.

The common hop is a plain URL (its path and query only of characters httpx would leave as
they are), the client's headers and no body. Its origin (``scheme://authority``) goes through
httpx and the egress URL check once per run (``_Origin``: the canonical origin and the exact
header list, ``Host`` included, that ``httpx.Request`` would send); the hop is then the
canonical origin plus the URL's own path and query, given to aiohttp already encoded. Any
other hop (``%``-escapes, a fragment, dot segments, the entry's headers or body, a redirect)
is built as an ``httpx.Request``. Either way the hop goes out through the transport's one
request builder and exception mapping (``transports.aiohttp_send``). The answer is aiohttp's
response under the ``Hop`` interface; its ``httpx.Request`` is built only if a redirect needs it.
``tests/integration/test_lean_wire.py`` checks the URLs against httpx.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import aiohttp
import httpx

from fanout.errors import ResponseTooLarge
from fanout.fetch.body import BodyInspector
from fanout.fetch.transports.aiohttp import FanoutAiohttpTransport, response_extensions
from fanout.fetch.transports.aiohttp_send import (
    UNBOUND,
    map_aiohttp_exceptions,
    release,
    request_parts,
    send,
)
from fanout.fetch.wire import Hop, build_request

_PLAIN = r"A-Za-z0-9\-._~!$&'()*+,;=:@/"
_PLAIN_URL = re.compile(rf"([A-Za-z][A-Za-z0-9+.\-]*://[^/?#]*)((?:/[{_PLAIN}]*)?(?:\?[{_PLAIN}?]*)?)\Z")
"""An origin, then a path and query only of characters httpx leaves as they are (no ``%``)."""
_DOT_SEGMENT = re.compile(r"/\.\.?(?:[/?]|\Z)")
MAX_ORIGINS = 4_096


@dataclass(frozen=True, slots=True)
class _Origin:
    canonical: str  # scheme://host[:port] as httpx writes it, after the egress URL check
    headers: list[tuple[str, str]]  # what httpx.Request sends: Host, then the client's headers


class AiohttpHop:
    """An aiohttp response as a ``Hop``; the body is read with ``chunks`` (errors are httpx's)."""

    __slots__ = ("_data", "_method", "_request", "_response", "_sent", "headers", "status_code", "url")

    def __init__(
        self,
        response: aiohttp.ClientResponse,
        method: str,
        url: str,
        sent_headers: list[tuple[str, str]],
        data: bytes | None,
        request: httpx.Request | None,
    ) -> None:
        self._response = response
        self._method = method
        self._sent = sent_headers
        self._data = data
        self._request = request
        self.status_code = response.status
        self.url = url
        self.headers: Mapping[str, str] = response.headers

    def raw_headers(self) -> Iterable[tuple[bytes, bytes]]:
        return self._response.raw_headers

    def extensions(self) -> Mapping[str, object]:
        return response_extensions(self._response)

    def request(self) -> httpx.Request:
        if self._request is None:
            self._request = httpx.Request(self._method, self.url, headers=self._sent, content=self._data)
        return self._request

    async def drain(self, limit: int, inspector: BodyInspector | None) -> int:
        """``wire.count_chunks`` over ``readany`` inline: no stream object, no async iterator."""
        size = 0
        read = self._response.content.readany
        request = self._request  # as ``AiohttpBody``: httpx's read errors
        with UNBOUND if request is None else map_aiohttp_exceptions(request):
            while chunk := await read():
                size += len(chunk)
                if size > limit:
                    raise ResponseTooLarge(f"body larger than max_body_bytes={limit}")
                if inspector is not None and not inspector.full:
                    inspector.feed(chunk)
        return size

    async def aclose(self) -> None:
        await release(self._response)


class AiohttpWire:
    """Hops on ``transport``'s aiohttp session with the client's ``defaults`` headers."""

    def __init__(self, transport: FanoutAiohttpTransport, defaults: httpx.Headers) -> None:
        self._transport = transport
        self._defaults = defaults
        self._origins: dict[str, _Origin] = {}
        self._session: aiohttp.ClientSession | None = None

    async def send(self, method: str, url: str, headers: Mapping[str, str], content: bytes | None) -> Hop:
        if not headers and content is None:
            match = _PLAIN_URL.match(url)
            if match is not None:
                origin_text, rest = match.groups()
                if "/." not in rest or not _DOT_SEGMENT.search(rest):
                    origin = self._origins.get(origin_text) or self._origin(origin_text)
                    if origin is not None:
                        url = origin.canonical + rest
                        return await self._request(method, url, origin.headers, None, None)
        return await self.follow(build_request(self._defaults, method, url, headers, content))

    async def follow(self, request: httpx.Request) -> Hop:
        request.url = self._transport.check_url(request.url)
        url = str(request.url)
        headers, data = request_parts(request)
        return await self._request(request.method, url, headers, data, request)

    def _origin(self, origin_text: str) -> _Origin | None:
        """httpx's reading of ``origin_text`` and its egress verdict (a refusal raises)."""
        request = build_request(self._defaults, "GET", origin_text + "/", {}, None)
        checked = str(self._transport.check_url(request.url))
        if not checked.endswith("/"):  # pragma: no cover - httpx always writes the "/" path
            return None
        origin = _Origin(checked[:-1], request.headers.multi_items())
        if len(self._origins) < MAX_ORIGINS:
            self._origins[origin_text] = origin
        return origin

    async def _request(
        self,
        method: str,
        url: str,
        headers: list[tuple[str, str]],
        data: bytes | None,
        request: httpx.Request | None,
    ) -> AiohttpHop:
        session = self._session
        if session is None:
            session = self._session = self._transport.session()
        response = await send(session, method, url, headers, data, request)
        return AiohttpHop(response, method, url, headers, data, request)
