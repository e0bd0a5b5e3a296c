"""Sitemaps (sitemaps.org) as target lists: the ``<loc>`` of every page, for link checks and
cache warm-ups (``"targets": {"sitemap": ...}``, ``fanout run --sitemap``).

A sitemap names URLs someone else chose, on a host someone else runs, so it is read as
carefully as the fan-out reads its URLs:

- it is fetched with the run's own client (``fetch.client.build_client``) under the egress
  guard of the settings, every redirect hop included: a sitemap on a blocked address is
  refused before any connection, like a URL;
- the body is capped on the wire and again once decompressed (``max_targets_bytes``): plain
  XML, a gzipped file (``.xml.gz``, recognised by its magic bytes, whatever its name) or
  ``Content-Encoding: gzip``; decompression never produces more than the cap (a gzip bomb
  costs the cap);
- the XML is parsed with ``defusedxml`` and any DTD is refused, so entity expansion
  ("billion laughs"), external entities and DTD retrieval cannot happen; the stdlib parser is
  never given untrusted XML;
- a sitemap index (``<sitemapindex>``) is followed one level: its sitemaps are read, at most
  ``MAX_CHILD_SITEMAPS`` of them, ``CHILD_CONCURRENCY`` at a time, and an index inside an
  index is refused;
- at most ``max_urls`` page URLs in all; everything is read before ``before`` (a loop time).

Every way it can go wrong is ``TargetsUnreadable`` naming the sitemap and the reason.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from xml.etree.ElementTree import Element, ParseError

import httpx
from defusedxml import DefusedXmlException  # type: ignore[import-untyped]
from defusedxml.ElementTree import fromstring  # type: ignore[import-untyped]

from fanout.config import Settings
from fanout.errors import EgressBlocked, FetchError, TargetsUnreadable
from fanout.fetch.client import FanoutClient, build_client
from fanout.fetch.egress.policy import policy_for

MAX_CHILD_SITEMAPS = 100
CHILD_CONCURRENCY = 4
GZIP_MAGIC = b"\x1f\x8b"
ACCEPT = "application/xml, text/xml;q=0.9, application/gzip;q=0.8, */*;q=0.1"


@dataclass(frozen=True, slots=True)
class SitemapLimits:
    """How much one read may take: page URLs in all, bytes per document (wire and decoded)."""

    max_urls: int
    max_bytes: int

    @classmethod
    def of(cls, settings: Settings) -> SitemapLimits:
        return cls(max_urls=settings.max_urls, max_bytes=settings.max_targets_bytes)


@dataclass(frozen=True, slots=True)
class Sitemap:
    """One document: a ``urlset`` (page URLs) or, ``is_index``, a ``sitemapindex`` (URLs of sitemaps)."""

    is_index: bool
    locs: tuple[str, ...]


def gunzip(source: str, data: bytes, max_bytes: int) -> bytes:
    """``data`` decompressed, never past ``max_bytes`` of output (more: refused)."""
    inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
    try:
        out = inflater.decompress(data, max_bytes + 1)
    except zlib.error as exc:
        raise TargetsUnreadable(source, f"the sitemap is not valid gzip ({exc})") from None
    if len(out) > max_bytes:
        raise TargetsUnreadable(source, f"the sitemap inflates to more than {max_bytes} bytes")
    if not inflater.eof:
        raise TargetsUnreadable(source, "the sitemap's gzip data is truncated")
    return out


def _local(tag: str) -> str:
    """``{http://www.sitemaps.org/schemas/sitemap/0.9}url`` -> ``url`` (any namespace, or none)."""
    return tag.rpartition("}")[2]


def _parse_xml(source: str, data: bytes) -> Element:
    try:
        root: Element = fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        reason = f"the sitemap uses XML features that are refused ({type(exc).__name__})"
        raise TargetsUnreadable(source, reason) from None
    except ParseError as exc:
        raise TargetsUnreadable(source, f"the sitemap is not well-formed XML ({exc})") from None
    return root


def parse_sitemap(source: str, body: bytes, limits: SitemapLimits) -> Sitemap:
    """The document in ``body`` (gzipped or not); ``source`` names it in errors."""
    data = gunzip(source, body, limits.max_bytes) if body[:2] == GZIP_MAGIC else body
    root = _parse_xml(source, data)
    kind = _local(root.tag)
    if kind not in ("urlset", "sitemapindex"):
        raise TargetsUnreadable(source, f"<{kind}> is not a sitemap (<urlset> or <sitemapindex>)")
    is_index = kind == "sitemapindex"
    child = "sitemap" if is_index else "url"
    locs: list[str] = []
    for n, item in enumerate(e for e in root if _local(e.tag) == child):
        loc = next((e.text for e in item if _local(e.tag) == "loc"), None)
        if loc is None or not loc.strip():
            raise TargetsUnreadable(source, f"<{child}> {n + 1} has no <loc>")
        locs.append(loc.strip())
        if not is_index and len(locs) > limits.max_urls:
            raise TargetsUnreadable(source, f"the sitemap lists more than {limits.max_urls} URLs")
    if is_index and len(locs) > MAX_CHILD_SITEMAPS:
        reason = f"the index lists {len(locs)} sitemaps; at most {MAX_CHILD_SITEMAPS} are followed"
        raise TargetsUnreadable(source, reason)
    return Sitemap(is_index, tuple(locs))


async def _download(client: FanoutClient, url: str, max_bytes: int) -> bytes:
    """The body at ``url`` as sent (capped on the wire), gzip content-encoding undone."""
    headers = {"Accept": ACCEPT, "Accept-Encoding": "gzip"}
    try:
        async with client.stream("GET", url, headers=headers) as response:
            if response.status_code != 200:
                raise TargetsUnreadable(url, f"the sitemap answered HTTP {response.status_code}")
            parts: list[bytes] = []
            size = 0
            async for chunk in response.aiter_raw():
                size += len(chunk)
                if size > max_bytes:
                    raise TargetsUnreadable(url, f"the sitemap is larger than {max_bytes} bytes")
                parts.append(chunk)
            encoding = response.headers.get("content-encoding", "identity").strip().lower()
    except EgressBlocked as exc:
        raise TargetsUnreadable(url, f"refused by the egress guard ({exc.reason}): {exc}") from None
    except FetchError as exc:
        raise TargetsUnreadable(url, f"the sitemap cannot be fetched ({exc.type}: {exc})") from None
    except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as exc:
        raise TargetsUnreadable(url, f"the sitemap cannot be fetched ({type(exc).__name__}: {exc})") from None
    body = b"".join(parts)
    if encoding in ("gzip", "x-gzip"):
        return gunzip(url, body, max_bytes)
    if encoding not in ("", "identity"):
        raise TargetsUnreadable(url, f"the sitemap came with an unknown content-encoding {encoding!r}")
    return body


async def _fetch(client: FanoutClient, url: str, limits: SitemapLimits) -> Sitemap:
    return parse_sitemap(url, await _download(client, url, limits.max_bytes), limits)


async def _children(
    client: FanoutClient, source: str, urls: Sequence[str], limits: SitemapLimits
) -> list[str]:
    """The page URLs of an index's sitemaps, in the index's order (each one a ``urlset``)."""
    gate = asyncio.Semaphore(CHILD_CONCURRENCY)

    async def one(url: str) -> Sitemap:
        async with gate:
            return await _fetch(client, url, limits)

    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(one(url)) for url in urls]
    except ExceptionGroup as eg:  # the first reason is enough; the others were cancelled
        first = next((e for e in eg.exceptions if isinstance(e, TargetsUnreadable)), None)
        if first is None:
            raise
        raise first from None
    pages: list[str] = []
    for url, task in zip(urls, tasks, strict=True):
        child = task.result()
        if child.is_index:
            raise TargetsUnreadable(url, f"an index inside the index {source} is not followed (one level)")
        pages += child.locs
        if len(pages) > limits.max_urls:
            raise TargetsUnreadable(source, f"the sitemaps list more than {limits.max_urls} URLs")
    return pages


def _client(settings: Settings) -> FanoutClient:
    """The run's kind of client, guarded by the settings' egress policy, following redirects."""
    return build_client(
        transport=settings.http_transport,
        concurrency=CHILD_CONCURRENCY,
        per_host_concurrency=CHILD_CONCURRENCY,
        follow_redirects=True,
        max_redirects=settings.default_max_redirects,
        max_header_bytes=settings.max_header_bytes,
        user_agent=settings.user_agent,
        egress=policy_for(settings),
        dns_budget_s=settings.default_request_timeout_s,
        ca_bundle=settings.ca_bundle,
    )


async def read_sitemap(
    source: str, settings: Settings, *, before: float, body: bytes | None = None
) -> list[str]:
    """The page URLs of the sitemap at ``source``, read before ``before`` (the loop's clock).

    ``body``: the sitemap's content, already read (a local file named ``source``); an index
    there still has its sitemaps fetched.
    """
    limits = SitemapLimits.of(settings)
    try:
        async with asyncio.timeout_at(before), _client(settings) as client:
            if body is None:
                top = await _fetch(client, source, limits)
            else:
                top = parse_sitemap(source, body, limits)
            pages = await _children(client, source, top.locs, limits) if top.is_index else list(top.locs)
    except TimeoutError:
        raise TargetsUnreadable(source, "the sitemap could not be read in the time the run has") from None
    if not pages:
        raise TargetsUnreadable(source, "the sitemap lists no URLs")
    return pages
