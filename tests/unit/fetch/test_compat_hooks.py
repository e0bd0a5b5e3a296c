"""Each private hook of ``fanout.fetch.compat`` against the installed aiohttp, aiodns and pycares.

A hook relies on a private attribute and on what the library does with it; each test first
checks the attribute is there (failing with the hook's name and the version it was checked
against), then that the library still does what the hook relies on, on a real connection or a
real c-ares channel on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from importlib.metadata import version
from typing import Any

import aiodns
import aiohttp
import pytest
from aiohttp.client_proto import ResponseHandler

from fanout.fetch.compat import aiodns_hooks, aiohttp_hooks
from fanout.fetch.compat.aiodns_hooks import LoopDrivenResolver
from fanout.fetch.compat.aiohttp_hooks import (
    response_protocol,
    turn_off_connection_retry,
    use_protocol_factory,
)
from fanout.fetch.dns import start_reaper

pytestmark = pytest.mark.anyio


def require(owner: object, attribute: str, hook: str, checked_against: str, library: str) -> None:
    """Fail loudly, naming the hook and the versions, if ``owner`` has no ``attribute``."""
    name = owner.__name__ if isinstance(owner, type) else type(owner).__name__
    assert hasattr(owner, attribute), (
        f"compat hook {hook} (checked against {checked_against}) relies on {name}.{attribute}, "
        f"which {library} {version(library)} does not have: re-check the hook against this version"
    )


def require_aiohttp(owner: object, attribute: str, hook: str) -> None:
    require(owner, attribute, f"aiohttp_hooks.{hook}", aiohttp_hooks.CHECKED_AGAINST, "aiohttp")


@asynccontextmanager
async def http_server(answer: Callable[[int], bytes | None]) -> AsyncIterator[tuple[str, list[bytes]]]:
    """A keep-alive HTTP/1.1 server on 127.0.0.1: ``answer(n)`` for the n-th request (0-based)
    overall, ``None`` to drop the connection unanswered. Yields its URL and the requests seen."""
    seen: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                seen.append(head)
                reply = answer(len(seen) - 1)
                if reply is None:
                    break
                writer.write(reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/", seen
    finally:
        server.close()
        await server.wait_closed()


OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


class Recording(ResponseHandler):
    """A connection protocol that notes when aiohttp makes it and when the connection is ready."""

    made: list[Recording] = []

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(loop)
        self.ready = False
        Recording.made.append(self)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.ready = True


async def test_use_protocol_factory_makes_every_connection_with_ours() -> None:
    async with http_server(lambda n: OK) as (url, _):
        connector = aiohttp.TCPConnector(force_close=True)
        require_aiohttp(connector, "_factory", "use_protocol_factory")
        use_protocol_factory(connector, Recording)
        Recording.made.clear()
        async with aiohttp.ClientSession(connector=connector) as session:
            for _ in range(2):
                async with session.get(url) as response:
                    assert await response.read() == b"ok"
        assert len(Recording.made) == 2, (
            f"aiohttp {aiohttp.__version__} no longer makes connections with TCPConnector._factory "
            f"(use_protocol_factory, checked against {aiohttp_hooks.CHECKED_AGAINST})"
        )
        assert all(p.ready for p in Recording.made)


async def test_response_protocol_outlives_the_connection_and_the_public_api_does_not() -> None:
    async with http_server(lambda n: OK) as (url, _):
        connector = aiohttp.TCPConnector()
        use_protocol_factory(connector, Recording)
        async with aiohttp.ClientSession(connector=connector) as session:
            response = await session.get(url)
            require_aiohttp(response, "_protocol", "response_protocol")
            # Why the hook: a body that came with the headers has already released the connection.
            assert response.connection is None
            protocol = response_protocol(response)
            assert isinstance(protocol, Recording), (
                f"ClientResponse._protocol of aiohttp {aiohttp.__version__} is not the connection's "
                f"protocol (response_protocol, checked against {aiohttp_hooks.CHECKED_AGAINST})"
            )
            peer = protocol.transport.get_extra_info("peername") if protocol.transport else None
            assert peer is not None
            assert peer[0] == "127.0.0.1"
            response.release()


async def test_turn_off_connection_retry_sends_a_request_once_on_a_dropped_connection() -> None:
    # The first request is answered (the connection kept alive), the second dropped unanswered:
    # aiohttp's own retry would send it again on a new connection (a third request).
    async with (
        http_server(lambda n: OK if n == 0 else None) as (url, seen),
        aiohttp.ClientSession() as session,
    ):
        require_aiohttp(session, "_retry_connection", "turn_off_connection_retry")
        turn_off_connection_retry(session)
        async with session.get(url) as response:
            assert await response.read() == b"ok"
        with pytest.raises(aiohttp.ServerDisconnectedError):
            await session.get(url)
    assert len(seen) == 2, (
        f"aiohttp {aiohttp.__version__} re-sent a request on a dropped kept-alive connection despite "
        f"ClientSession._retry_connection = False (turn_off_connection_retry, checked against "
        f"{aiohttp_hooks.CHECKED_AGAINST})"
    )


async def test_the_connection_retry_the_hook_turns_off_is_there() -> None:
    """Without the hook aiohttp does re-send (else the hook, and the test above, prove nothing)."""
    async with (
        http_server(lambda n: OK if n != 1 else None) as (url, seen),
        aiohttp.ClientSession() as session,
    ):
        for _ in range(2):
            async with session.get(url) as response:
                assert await response.read() == b"ok"
    assert len(seen) == 3


class SpyResolver(LoopDrivenResolver):
    def __init__(self, **kwargs: Any) -> None:
        self.socket_events: list[tuple[int, bool, bool]] = []
        super().__init__(**kwargs)

    def _sock_state_cb(self, fd: int, readable: bool, writable: bool) -> None:
        self.socket_events.append((fd, readable, writable))
        super()._sock_state_cb(fd, readable, writable)


async def test_loop_driven_resolver_asks_on_the_loop_with_no_thread() -> None:
    hook, checked = "aiodns_hooks.LoopDrivenResolver", aiodns_hooks.CHECKED_AGAINST
    require(aiodns.DNSResolver, "_make_channel", hook, checked, "aiodns")
    require(aiodns.DNSResolver, "_sock_state_cb", hook, checked, "aiodns")
    start_reaper()  # pycares' one process-wide thread, as at the function's init
    nameserver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # hears the query, never answers
    nameserver.bind(("127.0.0.1", 0))
    nameserver.setblocking(False)
    threads = threading.active_count()
    resolver = SpyResolver(
        nameservers=[f"127.0.0.1:{nameserver.getsockname()[1]}"],
        timeout=0.2,
        tries=1,
        loop=asyncio.get_running_loop(),
    )
    try:
        with pytest.raises(aiodns.error.DNSError):
            await resolver.query_dns("example.test", "A")
        assert resolver.socket_events, (
            f"aiodns {version('aiodns')} never called DNSResolver._sock_state_cb: the channel is not "
            f"driven by the loop ({hook}, checked against {checked})"
        )
        assert threading.active_count() == threads, (
            f"a thread per channel ({hook}, checked against {checked})"
        )
        query, _ = nameserver.recvfrom(512)
        assert len(query) > 12  # a DNS header and a question did reach the nameserver
    finally:
        await resolver.close()
        nameserver.close()
