"""The request that follows a redirect (RFC 9110), hop by hop, as the fetcher sends it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import httpx
import idna

from fanout.core.urls import origin


class RedirectResponse(Protocol):
    """What a redirect's next request is made from: an ``httpx.Response`` or a ``wire.Hop``."""

    @property
    def status_code(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...


_CONTENT_HEADERS = (
    "content-encoding",
    "content-language",
    "content-location",
    "content-type",
    "content-length",
    "digest",
    "last-modified",
    "transfer-encoding",
)
_CREDENTIAL_HEADERS = ("authorization", "proxy-authorization", "cookie")


def redirect_request(request: httpx.Request, response: RedirectResponse) -> httpx.Request:
    """The request that follows ``response`` (a 301/302/303/307/308 with ``Location``).

    RFC 9110 section 15.4: 303 becomes GET (HEAD stays HEAD); 301 and 302 turn a POST
    into a GET and keep any other method; 307 and 308 keep the method and the body.
    When the method becomes GET the body and its headers (``Content-*``, ...) go. A
    relative ``Location`` is resolved against the request's URL, and the fragment is
    inherited when it has none (section 10.2.2). Leaving the origin (scheme, host,
    port) drops ``Authorization``, ``Proxy-Authorization`` and ``Cookie`` (the caller
    meant them for the first origin) and gives the new ``Host``. The new request goes
    through the transport's egress checks like the first one.

    Written here rather than taken from httpx: the fetcher sends on the transport
    directly, and ``AsyncClient._build_redirect_request`` is private (it also turns
    every 302 into a GET, as browsers do, where RFC 9110 allows that only for POST).
    An unparseable ``Location`` is an ``httpx.RemoteProtocolError``, as with httpx; so is a host
    that is no IDNA name (``xn--zz``), which httpx only finds out when it decodes the host.
    """
    try:
        return _following(request, response)
    except (httpx.InvalidURL, idna.IDNAError) as exc:
        raise httpx.RemoteProtocolError(f"Invalid URL in location header: {exc}.", request=request) from None


def _following(request: httpx.Request, response: RedirectResponse) -> httpx.Request:
    location = httpx.URL(response.headers["Location"])
    if location.scheme and not location.raw_host:  # "https:///path" (httpx#771): the same host
        location = location.copy_with(host=request.url.host)
    url = request.url.join(location) if location.is_relative_url else location
    if request.url.fragment and not url.fragment:
        url = url.copy_with(fragment=request.url.fragment)

    method = request.method
    status = response.status_code
    if (status == 303 and method != "HEAD") or (status in (301, 302) and method == "POST"):
        method = "GET"
    headers = request.headers.copy()
    content: bytes | None = None
    if method == request.method:
        content = request.content or None  # the fetcher's bodies are bytes, already read
    else:
        for name in _CONTENT_HEADERS:
            headers.pop(name, None)
    if url_host_key(url) != url_host_key(request.url):
        for name in (*_CREDENTIAL_HEADERS, "host"):
            headers.pop(name, None)  # httpx.Request sets Host from the new URL
    return httpx.Request(method, url, headers=headers, content=content, extensions=request.extensions)


def url_host_key(url: httpx.URL) -> tuple[str, str, int | None]:
    """``core.urls.host_key`` of an httpx URL: its host in the IDNA form httpx sends (``raw_host``),
    so a redirect hop waits for the same host's turn, and pause, as a URL given in either form."""
    return origin(url.scheme, url.raw_host.decode("ascii"), url.port)
