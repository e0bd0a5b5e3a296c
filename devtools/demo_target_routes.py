"""The demo target's routes and counters: what each endpoint does (listed in ``devtools.demo_target``).

Apart from serving them (``devtools.demo_target``: a loop on a thread, or ``python -m``): the
endpoints are the behaviour tests rely on, the server only where they run.
"""

from __future__ import annotations

import asyncio
import gzip
import socket
import struct
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from devtools.demo_checks import add_check_routes

MAX_HOSTILE_STEPS = 100_000
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Stats:
    requests: int = 0
    in_flight: int = 0
    peak_in_flight: int = 0
    in_flight_by_host: Counter[str] = field(default_factory=Counter)
    peak_by_host: dict[str, int] = field(default_factory=dict)
    hits: Counter[str] = field(default_factory=Counter)
    flaky: Counter[str] = field(default_factory=Counter)

    def reset(self) -> None:
        self.requests = self.peak_in_flight = 0
        self.peak_by_host.clear()
        self.hits.clear()
        self.flaky.clear()
        self.peak_in_flight = self.in_flight


def _gzip_bomb(mib: int) -> bytes:
    return gzip.compress(b"\0" * (mib * 1_048_576), compresslevel=9)


class TargetApp:
    """The aiohttp application and its counters."""

    def __init__(self) -> None:
        self.stats = Stats()
        self.runner: web.AppRunner | None = None
        self._bombs: dict[int, bytes] = {}
        app = web.Application(middlewares=[self._count])
        r = app.router
        r.add_get("/ok", self.ok)
        r.add_route("*", "/status/{code}", self.status)
        r.add_get("/hang", self.hang)
        r.add_get("/trickle", self.trickle)
        r.add_get("/slow-headers", self.slow_headers)
        r.add_get("/reset", self.reset_conn)
        r.add_get("/close", self.close_conn)
        r.add_get("/redirect/{n}", self.redirect)
        r.add_get("/redirect-loop", self.redirect_loop)
        r.add_get("/redirect-to", self.redirect_to)
        r.add_route("*", "/flaky/{key}", self.flaky)
        r.add_get("/big", self.big)
        r.add_get("/gzip-bomb", self.gzip_bomb)
        r.add_route("*", "/echo", self.echo)
        r.add_get("/set-cookie", self.set_cookie)
        add_check_routes(r)
        r.add_get("/__stats", self.stats_view)
        r.add_post("/__reset", self.reset_view)
        self.app = app

    @web.middleware
    async def _count(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith("/__"):
            return await handler(request)
        s = self.stats
        host = request.host
        s.requests += 1
        s.hits[request.path] += 1
        s.in_flight += 1
        s.in_flight_by_host[host] += 1
        s.peak_in_flight = max(s.peak_in_flight, s.in_flight)
        s.peak_by_host[host] = max(s.peak_by_host.get(host, 0), s.in_flight_by_host[host])
        try:
            return await handler(request)
        finally:
            s.in_flight -= 1
            s.in_flight_by_host[host] -= 1

    @staticmethod
    async def _delay(request: web.Request) -> None:
        delay_ms = float(request.query.get("delay_ms", "0"))
        if delay_ms > 0:
            await asyncio.sleep(delay_ms / 1000)

    async def ok(self, request: web.Request) -> web.Response:
        await self._delay(request)
        return web.Response(body=b"x" * int(request.query.get("bytes", "2")))

    async def status(self, request: web.Request) -> web.Response:
        await self._delay(request)
        return web.Response(status=int(request.match_info["code"]), text="status")

    async def _until_client_leaves(self, request: web.Request, interval_s: float) -> None:
        for _ in range(MAX_HOSTILE_STEPS):
            if request.transport is None or request.transport.is_closing():
                return
            await asyncio.sleep(interval_s)

    async def hang(self, request: web.Request) -> web.StreamResponse:
        await self._until_client_leaves(request, 0.05)
        return web.Response(status=504)

    async def trickle(self, request: web.Request) -> web.StreamResponse:
        interval = float(request.query.get("interval_ms", "100")) / 1000
        total = int(request.query.get("bytes", str(MAX_HOSTILE_STEPS)))
        response = web.StreamResponse()
        response.content_length = total
        await response.prepare(request)
        try:
            for _ in range(min(total, MAX_HOSTILE_STEPS)):
                await response.write(b".")
                await asyncio.sleep(interval)
        except (ConnectionError, RuntimeError):
            pass
        return response

    async def slow_headers(self, request: web.Request) -> web.StreamResponse:
        interval = float(request.query.get("interval_ms", "100")) / 1000
        transport = request.transport
        assert transport is not None
        transport.write(b"HTTP/1.1 200 OK\r\n")
        for i in range(MAX_HOSTILE_STEPS):
            if transport.is_closing():
                break
            transport.write(f"X-Slow-{i}: y\r\n".encode())
            await asyncio.sleep(interval)
        transport.close()
        raise asyncio.CancelledError  # nothing more to send; aiohttp drops the request

    async def reset_conn(self, request: web.Request) -> web.StreamResponse:
        transport = request.transport
        assert transport is not None
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
        raise asyncio.CancelledError

    async def close_conn(self, request: web.Request) -> web.StreamResponse:
        assert request.transport is not None
        request.transport.close()
        raise asyncio.CancelledError

    async def redirect(self, request: web.Request) -> web.StreamResponse:
        n = int(request.match_info["n"])
        if n <= 0:
            return web.Response(text="arrived")
        raise web.HTTPFound(f"/redirect/{n - 1}")

    async def redirect_loop(self, request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("/redirect-loop")

    async def redirect_to(self, request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(request.query["url"])

    async def flaky(self, request: web.Request) -> web.Response:
        key = request.match_info["key"]
        self.stats.flaky[key] += 1
        if self.stats.flaky[key] <= int(request.query.get("fail", "1")):
            headers = {}
            if "retry_after" in request.query:
                headers["Retry-After"] = request.query["retry_after"]
            return web.Response(status=int(request.query.get("status", "503")), headers=headers)
        return web.Response(text=f"recovered after {self.stats.flaky[key] - 1} failures")

    async def big(self, request: web.Request) -> web.StreamResponse:
        total = int(request.query.get("bytes", "1048576"))
        response = web.StreamResponse()
        response.content_length = total
        await response.prepare(request)
        chunk = b"b" * 65_536
        sent = 0
        try:
            while sent < total:
                part = chunk[: total - sent]
                await response.write(part)
                sent += len(part)
        except (ConnectionError, RuntimeError):
            pass
        return response

    async def gzip_bomb(self, request: web.Request) -> web.Response:
        mib = int(request.query.get("mib", "256"))
        if mib not in self._bombs:
            self._bombs[mib] = await asyncio.to_thread(_gzip_bomb, mib)
        return web.Response(
            body=self._bombs[mib],
            headers={"Content-Encoding": "gzip", "Content-Type": "application/octet-stream"},
        )

    async def echo(self, request: web.Request) -> web.Response:
        body = await request.read()
        return web.json_response(
            {
                "method": request.method,
                "headers": dict(request.headers),
                "body": body.decode("utf-8", "replace"),
            }
        )

    async def set_cookie(self, request: web.Request) -> web.Response:
        if "Cookie" in request.headers:
            return web.Response(status=409, text=f"cookie came back: {request.headers['Cookie']}")
        response = web.Response(text="cookie set")
        response.set_cookie(
            request.query.get("name", "session"), request.query.get("value", "secret"), path="/"
        )
        return response

    def open_connections(self) -> int:
        server = self.runner.server if self.runner else None
        return len(server.connections) if server is not None else 0

    def snapshot(self) -> dict[str, Any]:
        s = self.stats
        return {
            "requests": s.requests,
            "in_flight": s.in_flight,
            "peak_in_flight": s.peak_in_flight,
            "peak_by_host": dict(s.peak_by_host),
            "hits": dict(s.hits),
            "open_connections": self.open_connections(),
        }

    async def stats_view(self, request: web.Request) -> web.Response:
        return web.json_response(self.snapshot())

    async def reset_view(self, request: web.Request) -> web.Response:
        self.stats.reset()
        return web.json_response({"reset": True})
