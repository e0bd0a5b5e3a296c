"""A local HTTP target with well-behaved and hostile endpoints, on 127.0.0.1 only.

Used by ``make demo``, the integration and e2e tests and the benchmarks. Endpoints:

    /ok?bytes=N&delay_ms=D          200 with N bytes after D ms
    /status/{code}?delay_ms=D       that status
    /hang                           never answers (until the client goes away)
    /trickle?interval_ms=I&bytes=N  headers at once, then one body byte every I ms
    /slow-headers?interval_ms=I     the status line, then one header line every I ms, forever
    /reset                          accepts the request, then resets the TCP connection
    /close                          closes the connection without an answer
    /redirect/{n}                   302 -> /redirect/{n-1} ... /redirect/0 answers 200
    /redirect-loop                  302 to itself
    /redirect-to?url=U              302 to U
    /flaky/{key}?fail=N&status=S&retry_after=R
                                    the first N hits of {key} answer S (default 503), then 200
    /big?bytes=N                    a body of N bytes, streamed
    /gzip-bomb?mib=M                a gzip body that inflates to M MiB of zeros
    /echo                           the request's method, headers and body as JSON
    /set-cookie?name=N&value=V      200 with ``Set-Cookie: N=V; Path=/``; 409 when the request
                                    already carries a Cookie header (a client kept one)
    /health, /page, /headers, /encoded/{coding}, /not-json
                                    for response checks (``devtools.demo_checks``)
    /__stats                        counters: requests, in-flight peaks (total and per Host),
                                    open connections, hits per path
    /__reset                        zero the counters

Hostile endpoints loop a bounded number of times and stop when the client leaves. The routes
are in ``devtools.demo_target_routes``; this module serves them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import ssl
import threading
import time
from collections.abc import Awaitable
from typing import Any

from aiohttp import web

from devtools.demo_target_routes import MAX_HOSTILE_STEPS as MAX_HOSTILE_STEPS
from devtools.demo_target_routes import Handler as Handler
from devtools.demo_target_routes import Stats as Stats
from devtools.demo_target_routes import TargetApp as TargetApp


class DemoTarget:
    """The target running on its own event loop in a background thread.

    ``with DemoTarget() as target: target.url("/ok")`` — stats are read in-process.
    """

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, *, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        if not host.startswith("127.") and host != "::1":
            raise ValueError("the demo target only listens on loopback")
        self.host = host
        self.port = port
        self.ssl_context = ssl_context
        self.target = TargetApp()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="demo-target", daemon=True)
        self._site: web.TCPSite | None = None

    @property
    def base_url(self) -> str:
        return f"{'https' if self.ssl_context else 'http'}://{self.host}:{self.port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def _call(self, coro: Awaitable[Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=30)  # type: ignore[arg-type]

    async def _start(self) -> None:
        runner = web.AppRunner(self.target.app, access_log=None, shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(
            runner, self.host, self.port, backlog=4096, reuse_address=True, ssl_context=self.ssl_context
        )
        await site.start()
        self.target.runner = runner
        self._site = site
        self.port = int(runner.addresses[0][1])

    async def _stop(self) -> None:
        if self.target.runner is not None:
            await self.target.runner.cleanup()

    async def _snapshot(self) -> dict[str, Any]:
        return self.target.snapshot()

    async def _reset(self) -> None:
        self.target.stats.reset()

    def start(self) -> DemoTarget:
        self._thread.start()
        self._call(self._start())
        return self

    def stop(self) -> None:
        try:
            self._call(self._stop())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._loop.close()

    def stats(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call(self._snapshot())
        return result

    def reset(self) -> None:
        self._call(self._reset())

    def open_connections_after(self, within_s: float) -> int:
        """Open connections, once there are none or ``within_s`` has passed (closing is async)."""
        end = time.monotonic() + within_s
        while True:
            count = int(self.stats()["open_connections"])
            if count == 0 or time.monotonic() > end:
                return count
            time.sleep(0.05)

    def __enter__(self) -> DemoTarget:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args()
    target = TargetApp()
    print(json.dumps({"listening": f"http://{args.host}:{args.port}"}), flush=True)
    web.run_app(target.app, host=args.host, port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
