"""The function called as Lambda calls it (a context with a real clock), the fan-out in-process,
and what a test checks of the loop and the traces it leaves."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from devtools.demo_target import DemoTarget
from devtools.rie import LambdaEmulator
from fanout.config import Settings, TransportName
from fanout.core.budget import InvocationClock
from fanout.core.documents import Source
from fanout.core.requests import parse_request
from fanout.handler import lambda_handler
from fanout.runs.fetch_run import RunContext, fetch_run

TRANSPORTS: tuple[TransportName, ...] = ("aiohttp", "httpcore")


# The machine is small and shared: timing assertions get this much slack.
SLACK_S = 1.0


# The Lambda timeout the emulator enforces in the e2e tests: short, so a deadline run takes seconds.
E2E_TIMEOUT_S = 4


# Make the function's interpreter report unclosed sockets/transports in the log.
E2E_ENV = {"PYTHONWARNINGS": "default::ResourceWarning"}


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


def other_tasks() -> set[asyncio.Task[Any]]:
    """Every task of the running loop but the current one."""
    return asyncio.all_tasks() - {asyncio.current_task()}


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
