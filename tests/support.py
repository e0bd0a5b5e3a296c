"""Helpers every tier shares (fixtures live in the ``conftest.py`` files; no test module imports
another): a Lambda context with a real clock, loopback servers that misbehave, the function as
deployed with its stores on moto, realistic events, and checks of a result document.
"""

from __future__ import annotations

import asyncio
import dataclasses
import http.server
import json
import os
import select
import socket
import socketserver
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

import fanout.config
from devtools.demo_target import DemoTarget
from devtools.events import load_event
from devtools.local_aws import CREDENTIALS, ROOT, LocalAws, load_template, table_kwargs
from devtools.rie import LambdaEmulator, function_error
from fanout.config import Settings, TransportName, get_settings
from fanout.core.budget import InvocationClock
from fanout.core.documents import Source
from fanout.core.monitor_report import MonitorReport
from fanout.core.monitors import MonitorSpec
from fanout.core.requests import parse_request
from fanout.core.results import UrlResult
from fanout.fetch.delivery import Deliveries
from fanout.handler import lambda_handler
from fanout.runs.fetch_run import RunContext, fetch_run
from fanout.runs.judging import monitor_routes
from fanout.runs.monitor import MonitorRun, MonitorUpdate
from fanout.runs.stores import RunStores, StoreConfig

MotoAws = LocalAws
__all__ = ["CREDENTIALS", "ROOT", "MotoAws", "load_template", "table_kwargs"]

TRANSPORTS: tuple[TransportName, ...] = ("aiohttp", "httpcore")
CLOSE_WITHIN_S = 5.0
# The machine is small and shared: timing assertions get this much slack.
SLACK_S = 1.0
# The Lambda timeout the emulator enforces in the e2e tests: short, so a deadline run takes seconds.
E2E_TIMEOUT_S = 4
# Make the function's interpreter report unclosed sockets/transports in the log.
E2E_ENV = {"PYTHONWARNINGS": "default::ResourceWarning"}
OUTCOMES = {"ok", "http_error", "check_failed", "failed", "timed_out", "cancelled", "not_started", "blocked"}
QUIET_FOR_S = 0.6
# new_emulator(**LambdaEmulator options) -> a started emulator, stopped after the test.
EmulatorFactory = Callable[..., LambdaEmulator]


class InvocationContext:
    """The Lambda context object's interface, with a real clock counting down.

    Lambda hands the handler such an object; this one answers ``get_remaining_time_in_millis``
    from a deadline set when it is made.
    """

    function_name = "fanout-test"
    function_version = "$LATEST"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:fanout-test"
    log_group_name = "/aws/lambda/fanout-test"
    log_stream_name = "2026/11/25/[$LATEST]test"

    def __init__(self, remaining_ms: float, request_id: str = "test-request-id") -> None:
        self._end = time.monotonic() + remaining_ms / 1000
        self.aws_request_id = request_id

    def get_remaining_time_in_millis(self) -> int:
        return int((self._end - time.monotonic()) * 1000)


def call(event: Any, remaining_ms: float = 10_000) -> Any:
    """The real Lambda handler, with ``remaining_ms`` left."""
    return lambda_handler(event, InvocationContext(remaining_ms))


# -- loopback ---------------------------------------------------------------------------------


def free_port() -> int:
    """A loopback port with nothing listening on it (connections are refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def unique(prefix: str) -> str:
    """A fresh key for /flaky/{key}, so counters never carry over between tests."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


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


def other_tasks() -> set[asyncio.Task[Any]]:
    """Every task of the running loop but the current one."""
    return asyncio.all_tasks() - {asyncio.current_task()}


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


class HangingServer:
    """A TCP server on 127.0.0.1 that accepts connections and never answers (a store that hangs)."""

    class _Server(socketserver.ThreadingTCPServer):
        daemon_threads = False
        block_on_close = True
        allow_reuse_address = True

        def __init__(self) -> None:
            self.stopping = threading.Event()
            super().__init__(("127.0.0.1", 0), _Silent)

    def __init__(self) -> None:
        self._server = self._Server()
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05})

    @property
    def endpoint(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> HangingServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stopping.set()
        self._server.shutdown()
        self._server.server_close()  # joins the handler threads (block_on_close)
        self._thread.join(timeout=10)


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


class TcpProxy:
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
        self._server = self._Server((host, int(port)))
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05})

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

    def __enter__(self) -> TcpProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


# -- the fan-out in-process -------------------------------------------------------------------


@dataclasses.dataclass
class Fanout:
    """Runs requests through ``fetch_run`` against ``target`` with ``settings``."""

    target: DemoTarget
    settings: Settings

    @property
    def transport(self) -> TransportName:
        return self.settings.http_transport

    def url(self, path: str) -> str:
        return self.target.url(path)

    def localhost_url(self, path: str) -> str:
        """The same server under another Host header (``localhost:PORT``)."""
        return f"http://localhost:{self.target.port}{path}"

    def host(self) -> str:
        return f"127.0.0.1:{self.target.port}"

    def localhost(self) -> str:
        return f"localhost:{self.target.port}"

    async def run(self, urls: list[Any], *, budget_s: float = 10.0, **options: Any) -> dict[str, Any]:
        """``fetch_run`` with a deadline ``budget_s`` from now, its document as JSON."""
        request = parse_request({"urls": urls, "options": options}, self.settings)
        ctx = run_context(budget_s)
        return (await fetch_run(request, ctx, settings=self.settings)).to_json()

    def hits(self, path: str) -> int:
        return int(self.target.stats()["hits"].get(path, 0))


def run_context(budget_s: float, source: Source = Source.DIRECT) -> RunContext:
    """A run whose fan-out ends ``budget_s`` from now (inside a running loop), with no margins."""
    bare = Settings(
        deadline_margin_base_ms=0.0, deadline_margin_per_url_ms=0.0, deadline_cleanup_per_url_ms=0.0
    )
    clock = InvocationClock.begin(budget_s * 1000, now=asyncio.get_running_loop().time())
    return RunContext(source=source, deadline=clock.deadline(0, bare))


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


class RecordingServer:
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
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler(keep_alive))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

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

    def __enter__(self) -> RecordingServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


def _json_or_none(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


# -- the function as deployed, with its stores on moto -------------------------------------------


def point_aws_at(monkeypatch: pytest.MonkeyPatch, endpoint: str) -> None:
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)


@dataclasses.dataclass
class Deployment:
    """The function as deployed with its stores, seen through its handler."""

    monkeypatch: pytest.MonkeyPatch
    settings: Settings

    def configure(self, **changes: Any) -> Settings:
        """These settings are the process's until the test ends (as a deployment's environment)."""
        self.settings = self.settings.model_copy(update=changes)
        self.monkeypatch.setattr(fanout.config, "_current", self.settings)
        return self.settings


def api_request(
    method: str,
    path: str,
    *,
    body: Any = None,
    query: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A realistic HTTP API v2 event (events/api.json) for ``method path``."""
    event: dict[str, Any] = load_event("api.json")
    event["routeKey"] = f"{method} {path}"
    event["rawPath"] = path
    event["requestContext"]["http"] |= {"method": method, "path": path}
    event["requestContext"]["routeKey"] = event["routeKey"]
    event["body"] = None if body is None else json.dumps(body)
    if method == "GET":
        event["headers"].pop("content-type", None)
    event["headers"] |= {k.lower(): v for k, v in (headers or {}).items()}
    if query:
        event["queryStringParameters"] = query
        event["rawQueryString"] = "&".join(f"{k}={v}" for k, v in query.items())
    return event


def body_of(response: dict[str, Any], status: int = 200) -> Any:
    assert response["statusCode"] == status, response["body"][:1000]
    return json.loads(response["body"])


def problem_of(response: dict[str, Any], status: int, slug: str) -> dict[str, Any]:
    assert response["headers"]["Content-Type"] == "application/problem+json"
    problem = body_of(response, status)
    assert problem["type"].endswith(slug), problem
    return problem


def scheduled(request: dict[str, Any], event_id: str | None = None) -> dict[str, Any]:
    """The EventBridge "Scheduled Event" envelope around ``request``."""
    event: dict[str, Any] = load_event("schedule.json")
    event["detail"] = request
    event["id"] = event_id or str(uuid.uuid4())
    return event


# -- the runtime emulator -----------------------------------------------------------------------


def requested_urls(entries: list[Any]) -> list[str]:
    return [e if isinstance(e, str) else e["url"] for e in entries]


def check_document(
    payload: Any, rie: LambdaEmulator, urls: list[str], *, source: str = "direct"
) -> list[str]:
    """A complete result document: one result per URL, in order; the summary adds up. Its outcomes."""
    failure = function_error(payload)
    assert failure is None, f"the invocation failed: {failure}\n{rie.log_tail()}"
    assert isinstance(payload, dict), payload
    assert "results" in payload, payload
    assert payload["source"] == source
    results = payload["results"]
    assert [r["url"] for r in results] == urls, "one result per input URL, in input order"
    outcomes = [r["outcome"] for r in results]
    assert set(outcomes) <= OUTCOMES, outcomes
    summary = payload["summary"]
    assert summary["total"] == len(urls)
    assert sum(v for k, v in summary.items() if k != "total") == len(urls), summary
    assert {k: v for k, v in summary.items() if k != "total" and v} == dict(Counter(outcomes)), summary
    return outcomes


def within_lambda_timeout(wall_s: float, rie: LambdaEmulator) -> None:
    assert wall_s < rie.timeout_s, (
        f"answered after {wall_s:.2f}s: not within the {rie.timeout_s}s Lambda timeout\n{rie.log_tail()}"
    )


class KeepingEmitter:
    """An X-Ray emitter that keeps what would have gone to the daemon, as the documents it sends."""

    def __init__(self) -> None:
        self.documents: list[dict[str, Any]] = []

    def send_entity(self, entity: Any) -> None:
        self.documents.append(json.loads(entity.serialize()))

    def set_daemon_address(self, address: str | None) -> None:
        return None


@contextmanager
def keeping_xray(*, sampling: bool) -> Iterator[KeepingEmitter]:
    """The real X-Ray recorder, its emitter swapped for a ``KeepingEmitter``; traces cleared after."""
    from aws_xray_sdk.core import xray_recorder
    from aws_xray_sdk.core.context import Context

    keeping = KeepingEmitter()
    default_socket = getattr(xray_recorder.emitter, "_socket", None)
    if default_socket is not None:  # the SDK's UDP emitter, replaced below
        default_socket.close()
    xray_recorder.configure(context=Context(), sampling=sampling, emitter=keeping, streaming_threshold=1000)
    try:
        yield keeping
    finally:
        xray_recorder.clear_trace_entities()


async def monitor_run(spec: MonitorSpec, results: list[UrlResult], run_id: str) -> MonitorReport:
    """One monitor run's update, its routes made as ``judged`` makes them."""
    settings = get_settings()
    before = asyncio.get_running_loop().time() + 20
    async with RunStores(StoreConfig.from_settings(settings)) as stores, Deliveries(settings) as deliveries:
        assert stores.monitors is not None
        routes = await monitor_routes(spec, stores, settings, deliveries, before)
        run = MonitorRun(spec, run_id, run_id, None, time.time() + 20)
        update = MonitorUpdate(stores.monitors, stores.alerts, run, concurrency=4, routes=routes)
        return await update.apply(results, (), before=before)
