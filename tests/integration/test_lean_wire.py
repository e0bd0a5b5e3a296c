"""The aiohttp wire's lean hop sends, byte for byte, what the httpx-built request sends.

A real server on 127.0.0.1 records each request's head (request line and headers); every URL
is sent twice through the same run's wire, once as the lean hop (``AiohttpWire.send``) and once
forced through an ``httpx.Request`` (``AiohttpWire.follow``), and the two heads must be equal,
as must the URL each hop reports. URLs the lean hop does not take (``%``-escapes, fragments, dot
segments, spaces, non-ASCII) must come out the same too, and a refused URL is refused the same.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator

import pytest

from fanout.config import get_settings
from fanout.errors import EgressBlocked
from fanout.fetch.client import FanoutClient, build_client
from fanout.fetch.transports.aiohttp import FanoutAiohttpTransport
from fanout.fetch.transports.aiohttp_wire import AiohttpWire
from fanout.fetch.wire import build_request

pytestmark = pytest.mark.anyio


class HeadRecorder:
    """Answers every request with a 2-byte 200 (keep-alive) and keeps its head."""

    def __init__(self) -> None:
        self.heads: list[bytes] = []
        self.server: asyncio.Server | None = None

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                self.heads.append(head)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])


@pytest.fixture
async def recorder() -> AsyncIterator[HeadRecorder]:
    rec = HeadRecorder()
    rec.server = await asyncio.start_server(rec.handle, "127.0.0.1", 0)
    async with rec.server:
        yield rec


@pytest.fixture
async def client() -> AsyncIterator[FanoutClient]:
    settings = get_settings()
    async with build_client(
        transport="aiohttp",
        concurrency=4,
        per_host_concurrency=4,
        follow_redirects=False,
        max_redirects=0,
        max_header_bytes=settings.max_header_bytes,
        user_agent="fanout-lean-test",
    ) as made:
        yield made


def _wire(client: FanoutClient) -> AiohttpWire:
    assert isinstance(client.transport, FanoutAiohttpTransport)
    return AiohttpWire(client.transport, client.headers)


async def _both(
    wire: AiohttpWire, rec: HeadRecorder, url: str
) -> tuple[tuple[bytes, str], tuple[bytes, str]]:
    """(head, hop URL) of ``url`` sent lean, then forced through an ``httpx.Request``."""
    sent: list[tuple[bytes, str]] = []
    for lean in (True, False):
        before = len(rec.heads)
        if lean:
            hop = await wire.send("GET", url, {}, None)
        else:
            hop = await wire.follow(build_request(wire._defaults, "GET", url, {}, None))
        assert await hop.drain(1_000, None) == 2
        await hop.aclose()
        assert len(rec.heads) == before + 1
        sent.append((rec.heads[-1], hop.url))
    return sent[0], sent[1]


PATHS = [
    "/ok",
    "",
    "?only=query",
    "/ok?delay_ms=0&i=12",
    "/a/b/c/",
    "/~user/!$&'()*+,;=:@/x?q=/?a&b=c",
    "/.well-known/thing",
    "/a/./b/../c",
    "/a/..",
    "/%7Euser/%41?x=%20",
    "/100%",
    "/a%zz?b=%",
    "/a b?c d",
    "/caf\u00e9?q=\u00fc",
    "/x#frag",
    "/x?y#frag",
    "/[x]",
    '/"quoted"?<a>',
    "/x?a=1|2&b={3}",
]


@pytest.mark.parametrize("path", PATHS)
async def test_the_lean_hop_sends_what_httpx_sends(
    client: FanoutClient, recorder: HeadRecorder, path: str
) -> None:
    lean, built = await _both(_wire(client), recorder, f"http://127.0.0.1:{recorder.port}{path}")
    assert lean == built
    assert lean[0].startswith(b"GET /")
    assert b"user-agent: fanout-lean-test" in lean[0].lower()


@pytest.mark.parametrize("host", ["127.0.0.1", "2130706433", "0x7f.1", "127.1"])
async def test_hosts_are_canonical_on_both_paths(
    client: FanoutClient, recorder: HeadRecorder, host: str
) -> None:
    url = f"http://{host}:{recorder.port}/p?q=1"
    lean, built = await _both(_wire(client), recorder, url)
    assert lean == built
    assert lean[1] == f"http://127.0.0.1:{recorder.port}/p?q=1"  # the dotted quad is what is sent to


def _refusal(wire: AiohttpWire, url: str) -> str | None:
    """The reason httpx's path refuses ``url`` with before sending, if it does."""
    try:
        build_request(wire._defaults, "GET", url, {}, None)
    except EgressBlocked as exc:
        return exc.reason
    return None


async def test_random_paths_and_queries_match(client: FanoutClient, recorder: HeadRecorder) -> None:
    rng = random.Random(14)
    plain = "abcXYZ019-._~!$&'()*+,;=:@/?"  # the lean path's characters (and dot segments)
    odd = plain + '%#[] "<>{}|\\^`\u00e9'  # and those that send a URL through httpx
    wire = _wire(client)
    for _ in range(150):
        alphabet = plain if rng.random() < 0.5 else odd
        rest = "/" + "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 24)))
        url = f"http://127.0.0.1:{recorder.port}{rest}"
        refusal = _refusal(wire, url)
        if refusal is not None:  # httpx cannot parse it: the lean path refuses it alike
            with pytest.raises(EgressBlocked) as lean_refusal:
                await wire.send("GET", url, {}, None)
            assert lean_refusal.value.reason == refusal
            continue
        lean, built = await _both(wire, recorder, url)
        assert lean == built, url


async def test_refused_urls_are_refused_on_the_lean_path(client: FanoutClient) -> None:
    wire = _wire(client)
    for url, reason in [
        ("http://10.0.0.1/x", "address_blocked:private"),
        ("ftp://127.0.0.1/x", "scheme_not_allowed"),
        ("not a url", "url_invalid"),
        ("http://127.0.0.1:0/x", "port_not_allowed"),
    ]:
        with pytest.raises(EgressBlocked) as refused:
            await wire.send("GET", url, {}, None)
        assert refused.value.reason == reason, url
