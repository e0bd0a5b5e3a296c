"""Loopback servers that misbehave or keep what they were sent, and what a target saw."""

from __future__ import annotations

import asyncio
import dataclasses
import http.server
import json
import select
import socket
import socketserver
import threading
import time
from collections import Counter
from typing import Any

from devtools.demo_target import DemoTarget
from devtools.threaded import ServedOnThread

CLOSE_WITHIN_S = 5.0


QUIET_FOR_S = 0.6


def free_port() -> int:
    """A loopback port with nothing listening on it (connections are refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def open_connections_after(target: DemoTarget, within_s: float = CLOSE_WITHIN_S) -> int:
    """The server's open connection count, once it is 0 or ``within_s`` has passed."""
    return target.open_connections_after(within_s)


async def open_connections_after_async(target: DemoTarget, within_s: float = CLOSE_WITHIN_S) -> int:
    """As ``open_connections_after``, letting the test's event loop run meanwhile."""
    loop = asyncio.get_running_loop()
    end = loop.time() + within_s
    while True:
        count = int(target.stats()["open_connections"])
        if count == 0 or loop.time() > end:
            return count
        await asyncio.sleep(0.05)


def requests_during(target: DemoTarget, seconds: float = QUIET_FOR_S) -> dict[str, int]:
    """Requests the target received (by path) during the next ``seconds``: zombies, if any."""
    before = Counter(target.stats()["hits"])
    time.sleep(seconds)
    after = Counter(target.stats()["hits"])
    return dict(after - before)


class _Silent(socketserver.BaseRequestHandler):
    """Reads whatever the client sends and never answers, until it leaves or the server stops."""

    server: HangingServer._Server

    def handle(self) -> None:
        _read_until(self.request, self.server.stopping)


def _read_until(sock: socket.socket, stopping: threading.Event) -> None:
    """Read what the client sends, never answering, until it leaves or ``stopping`` is set."""
    while not stopping.is_set():
        readable, _, _ = select.select([sock], [], [], 0.05)
        if readable:
            try:
                if not sock.recv(65_536):
                    return
            except OSError:
                return


class HangingServer(ServedOnThread["HangingServer._Server"]):
    """A TCP server on 127.0.0.1 that accepts connections and never answers (a store that hangs)."""

    class _Server(socketserver.ThreadingTCPServer):
        daemon_threads = False
        block_on_close = True
        allow_reuse_address = True

        def __init__(self) -> None:
            self.stopping = threading.Event()
            super().__init__(("127.0.0.1", 0), _Silent)

    def __init__(self) -> None:
        super().__init__(self._Server(), poll_interval_s=0.05)

    @property
    def endpoint(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def _stopping(self) -> None:
        self._server.stopping.set()  # the handlers stop reading; closing joins them (block_on_close)


class _Relay(socketserver.BaseRequestHandler):
    """One connection through a ``TcpProxy``, as its mode says when the connection is made."""

    server: TcpProxy._Server

    def handle(self) -> None:
        sock: socket.socket = self.request
        mode = self.server.mode
        self.server.accepted[mode] += 1
        if mode == "refuse":
            return  # closed at once: the client's connection is reset
        if mode == "blackhole":
            _read_until(sock, self.server.stopping)
            return
        try:
            upstream = socket.create_connection(self.server.upstream, timeout=5)
        except OSError:
            return
        with upstream:
            self._pipe(sock, upstream)

    def _pipe(self, sock: socket.socket, upstream: socket.socket) -> None:
        pair = {sock: upstream, upstream: sock}
        while not self.server.stopping.is_set() and self.server.mode == "pass":
            readable, _, _ = select.select(list(pair), [], [], 0.05)
            for source in readable:
                try:
                    data = source.recv(65_536)
                    if not data:
                        return
                    pair[source].sendall(data)
                except OSError:
                    return


class TcpProxy(ServedOnThread["TcpProxy._Server"]):
    """A TCP proxy on 127.0.0.1 to ``upstream`` the test turns off and on: ``mode`` "pass"
    forwards, "refuse" resets each connection, "blackhole" accepts and never answers (a network
    that drops everything). A mode change also ends the connections made before it."""

    class _Server(socketserver.ThreadingTCPServer):
        daemon_threads = False
        block_on_close = True
        allow_reuse_address = True

        def __init__(self, upstream: tuple[str, int]) -> None:
            self.stopping = threading.Event()
            self.upstream = upstream
            self.mode = "pass"
            self.accepted: Counter[str] = Counter()
            super().__init__(("127.0.0.1", 0), _Relay)

    def __init__(self, upstream: str) -> None:
        host, port = upstream.removeprefix("http://").split(":")
        super().__init__(self._Server((host, int(port))), poll_interval_s=0.05)

    @property
    def endpoint(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def accepted(self) -> Counter[str]:
        """Connections accepted, by the mode they met."""
        return self._server.accepted

    def set(self, mode: str) -> None:
        assert mode in ("pass", "refuse", "blackhole"), mode
        self._server.mode = mode

    def _stopping(self) -> None:
        self._server.stopping.set()


@dataclasses.dataclass
class _Script:
    """How a path answers: ``statuses`` in turn, then ``then``; a 429/503 asks for a pause when
    ``retry_after_s`` is set."""

    statuses: list[int]
    then: int
    retry_after_s: int | None

    def next_answer(self) -> tuple[int, dict[str, str]]:
        status = self.statuses.pop(0) if self.statuses else self.then
        pausing = status in (429, 503) and self.retry_after_s is not None
        return status, {"Retry-After": str(self.retry_after_s)} if pausing else {}


class RecordingServer(ServedOnThread[http.server.ThreadingHTTPServer]):
    """An HTTP server on 127.0.0.1 (its own thread) that keeps what each request carried and
    answers each path as the test scripted it (200 unless told): what fanout sent, as a server
    saw it, and a receiver or origin that fails when the test says. ``keep_alive`` serves HTTP/1.1.
    """

    @dataclasses.dataclass(frozen=True)
    class Seen:
        method: str
        path: str
        headers: dict[str, str]  # by lower-case name
        body: bytes
        json: Any  # the body parsed, None when it is not JSON
        arrived: float  # time.monotonic()

    def __init__(self, *, keep_alive: bool = False) -> None:
        self._lock = threading.Lock()
        self._seen: list[RecordingServer.Seen] = []
        self._scripts: dict[str, _Script] = {}
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler(keep_alive))
        server.daemon_threads = True
        super().__init__(server, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{path}"

    def script(self, path: str, *statuses: int, then: int = 200, retry_after_s: int | None = None) -> None:
        """``path`` answers ``statuses`` in turn, then ``then`` from there on; a 429 or 503 carries
        ``Retry-After: retry_after_s`` when it is given."""
        with self._lock:
            self._scripts[path] = _Script(list(statuses), then, retry_after_s)

    @property
    def seen(self) -> list[RecordingServer.Seen]:
        """Every request so far, in arrival order (a copy)."""
        with self._lock:
            return list(self._seen)

    def sent_to(self, path: str) -> list[RecordingServer.Seen]:
        return [s for s in self.seen if s.path == path]

    def _keep(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str]]:
        """Record a request; the status and headers its path answers this time."""
        seen = RecordingServer.Seen(method, path, headers, body, _json_or_none(body), time.monotonic())
        with self._lock:
            self._seen.append(seen)
            script = self._scripts.get(seen.path)
            return script.next_answer() if script else (200, {})

    def _handler(self, keep_alive: bool) -> type[http.server.BaseHTTPRequestHandler]:
        recording = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1" if keep_alive else "HTTP/1.0"

            def _any(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, extra = recording._keep(self.command, self.path, headers, body)
                self.send_response(status)
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "2")
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(b"ok")

            do_GET = do_POST = do_HEAD = do_PUT = do_PATCH = do_DELETE = _any

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


def _json_or_none(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None
