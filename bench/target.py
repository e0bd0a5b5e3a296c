"""A lean HTTP target for the benchmarks, run in its own process on 127.0.0.1.

Why not ``devtools.demo_target``: its stats middleware costs server CPU on every
request, and its ``/hang`` polls every 50 ms per connection (20,000 wake-ups a second
for 1,000 hanging requests), CPU taken from the client on a 2-core machine. Here
``/hang`` just waits and is cancelled when the client leaves (``handler_cancellation``).
``python -m bench --server demo`` runs the same scenarios against the demo target.

Endpoints (the subset of the demo target's the scenarios use):

    /ok?delay_ms=D&bytes=N   200 with N bytes (default 2) after D ms
    /json?bytes=N            200 ``application/json``, ``{"status": "UP", ...}`` padded to N bytes
    /hang                    never answers; the handler ends when the client leaves
    /__stats                 {"requests", "open_connections", "hanging"}

It listens on ``--ports`` sockets (several ports make several "hosts" for the service's
per-host cap) and prints one JSON line with the ports once it is ready.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys

from aiohttp import web

LOOPBACK = "127.0.0.1"


def raise_nofile_limit() -> int:
    """Lift the soft open-files limit to the hard one (1,000 hanging sockets and more)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 65_536)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return soft


class LeanTarget:
    """The application and two counters, kept cheap (no middleware)."""

    def __init__(self) -> None:
        self.requests = 0
        self.hanging = 0
        self.runner: web.AppRunner | None = None
        self._bodies: dict[int, bytes] = {}
        app = web.Application()
        app.router.add_get("/ok", self.ok)
        app.router.add_get("/json", self.json_body)
        app.router.add_get("/hang", self.hang)
        app.router.add_get("/__stats", self.stats)
        self.app = app

    async def ok(self, request: web.Request) -> web.Response:
        self.requests += 1
        query = request.query
        delay_ms = query.get("delay_ms")
        if delay_ms:
            await asyncio.sleep(float(delay_ms) / 1000)
        size = int(query.get("bytes", "2"))
        body = self._bodies.get(size)
        if body is None:
            body = self._bodies[size] = b"x" * size
        return web.Response(body=body)

    async def json_body(self, request: web.Request) -> web.Response:
        self.requests += 1
        size = int(request.query.get("bytes", "1024"))
        body = self._bodies.get(-size)
        if body is None:
            head = b'{"status": "UP", "version": "1.4.2", "pad": "'
            body = self._bodies[-size] = head + b"x" * max(0, size - len(head) - 2) + b'"}'
        return web.Response(body=body, content_type="application/json")

    async def hang(self, request: web.Request) -> web.Response:
        self.requests += 1
        self.hanging += 1
        try:
            await asyncio.Event().wait()  # cancelled when the client disconnects
        finally:
            self.hanging -= 1
        return web.Response(status=504)  # pragma: no cover - never reached

    async def stats(self, request: web.Request) -> web.Response:
        server = self.runner.server if self.runner is not None else None
        open_connections = len(server.connections) - 1 if server is not None else 0  # minus this one
        return web.json_response(
            {"requests": self.requests, "open_connections": open_connections, "hanging": self.hanging}
        )


async def serve(ports: list[int]) -> None:
    """Listen on every port in ``ports`` (0 picks a free one), print them, run forever."""
    target = LeanTarget()
    runner = web.AppRunner(target.app, access_log=None, handler_cancellation=True, shutdown_timeout=0.5)
    await runner.setup()
    target.runner = runner
    for port in ports:
        await web.TCPSite(runner, LOOPBACK, port, backlog=4096, reuse_address=True).start()
    bound = [int(addr[1]) for addr in runner.addresses]
    print(json.dumps({"ready": True, "ports": bound}), flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--ports", type=int, default=1, help="how many listening sockets (free ports)")
    args = parser.parse_args()
    raise_nofile_limit()
    try:
        asyncio.run(serve([0] * args.ports))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
