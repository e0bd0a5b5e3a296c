"""How the fetcher sends one hop: a ``Wire`` over the run's transport, and the ``Hop`` it answers.

Why not an ``httpx.Request`` and an ``httpx.Response`` for every hop: with no latency to wait
on, building them (URL parsing and quoting, header normalisation, stream wrappers) cost more
CPU than aiohttp's whole request underneath. The aiohttp transport's wire
(``transports.aiohttp_wire``) sends the common hop (a plain URL, the client's headers, no
body) straight to aiohttp, with the URL check and header list httpx would have produced, and
builds httpx objects only where a hop needs them (a redirect to follow, the entry's own
headers or body). Any other transport (httpcore, tests' ``MockTransport``) goes through
``HttpxWire``: httpx's objects, as before. Either way errors are httpx's (and the service's
own, ``transports.base``), and each hop goes through the egress URL check.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterable, Iterable, Mapping
from typing import Protocol

import httpx
import idna

from fanout.core.requests import UrlEntry
from fanout.core.signing import signed_headers
from fanout.errors import EgressBlocked, ResponseTooLarge
from fanout.fetch.body import BodyInspector
from fanout.fetch.egress.rules import URL_INVALID

REDIRECT_STATUS = frozenset({301, 302, 303, 307, 308})


class Hop(Protocol):
    """One response, headers in, body still on the wire (``drain``, then ``aclose``)."""

    status_code: int
    url: str  # as sent: checked by the egress guard, in httpx's canonical form
    headers: Mapping[str, str]  # case-insensitive (httpx.Headers, aiohttp's CIMultiDictProxy)

    def raw_headers(self) -> Iterable[tuple[bytes, bytes]]: ...

    def extensions(self) -> Mapping[str, object]: ...

    def request(self) -> httpx.Request: ...

    async def drain(self, limit: int, inspector: BodyInspector | None) -> int:
        """Read the body to its end, counting wire bytes (``ResponseTooLarge`` past ``limit``);
        ``inspector`` keeps its first part. Read errors are httpx's."""
        ...

    async def aclose(self) -> None: ...


class Wire(Protocol):
    """Sends hops: the first of an attempt from its parts, a redirect's as an ``httpx.Request``."""

    async def send(self, method: str, url: str, headers: Mapping[str, str], content: bytes | None) -> Hop: ...

    async def follow(self, request: httpx.Request) -> Hop: ...


def build_request(
    defaults: httpx.Headers, method: str, url: str, headers: Mapping[str, str], content: bytes | None
) -> httpx.Request:
    """The ``httpx.Request`` of a hop: the client's headers, the entry's over them."""
    merged = defaults  # httpx.Request copies it
    if headers:
        merged = merged.copy()
        merged.update(headers)
    try:
        return httpx.Request(method, url, headers=merged, content=content)
    except (httpx.InvalidURL, idna.IDNAError) as exc:  # a URL the egress guard cannot even parse is refused
        raise EgressBlocked(URL_INVALID, f"not a valid URL: {exc}") from exc


async def count_chunks(chunks: AsyncIterable[bytes], limit: int, inspector: BodyInspector | None) -> int:
    """``Hop.drain`` over an iterator of raw chunks."""
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise ResponseTooLarge(f"body larger than max_body_bytes={limit}")
        if inspector is not None and not inspector.full:
            inspector.feed(chunk)
    return size


class HttpxHop:
    """A hop answered by an ``httpx.AsyncBaseTransport``: its ``httpx.Response``."""

    __slots__ = ("_request", "_response", "headers", "status_code", "url")

    def __init__(self, request: httpx.Request, response: httpx.Response) -> None:
        self._request = request
        self._response = response
        self.status_code = response.status_code
        self.headers: Mapping[str, str] = response.headers
        self.url = str(request.url)  # the transport's checked URL

    def raw_headers(self) -> Iterable[tuple[bytes, bytes]]:
        return self._response.headers.raw

    def extensions(self) -> Mapping[str, object]:
        return self._response.extensions

    def request(self) -> httpx.Request:
        return self._request

    async def drain(self, limit: int, inspector: BodyInspector | None) -> int:
        return await count_chunks(self._response.aiter_raw(), limit, inspector)

    async def aclose(self) -> None:
        await self._response.aclose()


class HttpxWire:
    """Hops through any httpx transport's ``handle_async_request``, with the client's headers."""

    def __init__(self, transport: httpx.AsyncBaseTransport, defaults: httpx.Headers) -> None:
        self._send = transport.handle_async_request
        self._defaults = defaults

    async def send(self, method: str, url: str, headers: Mapping[str, str], content: bytes | None) -> Hop:
        return await self.follow(build_request(self._defaults, method, url, headers, content))

    async def follow(self, request: httpx.Request) -> Hop:
        return HttpxHop(request, await self._send(request))


def headers_and_body(entry: UrlEntry) -> tuple[Mapping[str, str], bytes | None]:
    """The entry's own headers and its body (``json``: compact, ``Content-Type`` unless given)."""
    if "json_body" not in entry.model_fields_set:
        return entry.headers, None
    headers = dict(entry.headers)
    if not any(k.lower() == "content-type" for k in headers):
        headers["Content-Type"] = "application/json"
    return headers, json.dumps(entry.json_body, separators=(",", ":")).encode()


def signed_headers_and_body(
    entry: UrlEntry, webhook_id: str | None
) -> tuple[Mapping[str, str], bytes | None]:
    """A signed entry's headers with this attempt's Standard Webhooks signature over the exact
    bytes sent (a new timestamp each attempt, the same ``webhook_id``)."""
    headers, content = headers_and_body(entry)
    if entry.sign is None or webhook_id is None:
        return headers, content
    signed = signed_headers(entry.sign.secrets, webhook_id, int(time.time()), content or b"")
    return {**headers, **signed}, content
