"""A host that notes when each request reached it: what a per-host rate or pause looks like from
the origin's side (the pacing tests and the politeness bench rows).

One server is one host (``127.0.0.1:PORT``); run several for several hosts. Every request is
stamped with ``time.monotonic()`` (the event loop's clock, in the same process) and
``time.time()`` (for ``Retry-After`` dates) before it is answered. Threads, not asyncio: it must
keep time while the client's loop is busy or asleep.

    /ok                                      200 "ok"
    /busy/KEY?times=N&status=429&after=S     the first N requests to KEY: STATUS with
                                             ``Retry-After: S`` (``&date=1``: as an HTTP date,
                                             S seconds from now); then 200
    /to?url=URL                              302 to URL

Any of them takes ``&delay_ms=D``: answered D ms after it came (stamped when it came).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from devtools.threaded import ServedOnThread


@dataclass(frozen=True, slots=True)
class Stamp:
    """One request as the host saw it: its path, when it came (monotonic and wall clock), the
    status it got and the ``Retry-After`` it was told (wall-clock instant it names, or None)."""

    path: str
    at: float
    wall: float
    status: int
    retry_until_wall: float | None


class StampingTarget(ServedOnThread[ThreadingHTTPServer]):
    """One host on 127.0.0.1 that keeps a ``Stamp`` of every request (``stamps``, in order)."""

    def __init__(self) -> None:
        self.stamps: list[Stamp] = []
        self._lock = threading.Lock()
        self._busy: Counter[str] = Counter()
        target = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                target._answer(self)

            do_HEAD = do_GET

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        super().__init__(server, daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def seen(self, prefix: str = "/") -> list[Stamp]:
        """The stamps of the requests whose path starts with ``prefix``, in arrival order."""
        with self._lock:
            return [s for s in self.stamps if s.path.startswith(prefix)]

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        at, wall = time.monotonic(), time.time()
        parts = urlsplit(handler.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        status, headers, until = 200, {"Content-Length": "2"}, None
        if parts.path == "/to":
            status, headers["Location"] = 302, query["url"]
        elif parts.path.startswith("/busy/"):
            with self._lock:
                self._busy[parts.path] += 1
                busy = self._busy[parts.path] <= int(query.get("times", "1"))
            if busy:
                status, after = int(query.get("status", "429")), int(query.get("after", "1"))
                if query.get("date"):
                    headers["Retry-After"] = formatdate(wall + after, usegmt=True)
                    until = float(int(wall + after))  # an HTTP date has whole seconds
                else:
                    headers["Retry-After"] = str(after)
                    until = wall + after
        with self._lock:
            self.stamps.append(Stamp(parts.path, at, wall, status, until))
        if delay_ms := int(query.get("delay_ms", "0")):
            time.sleep(delay_ms / 1000)  # this request's own thread
        handler.send_response(status)
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(b"ok")
