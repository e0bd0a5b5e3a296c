"""Shared fixtures: the anyio backend and a local demo target on 127.0.0.1."""

from __future__ import annotations

import os

# Tests fetch only from this machine: exempt loopback from the egress guard, before
# anything imports fanout.config (settings are read once, at import, as on Lambda).
os.environ.setdefault("EGRESS_ALLOW_CIDRS", "127.0.0.0/8,::1/128")

from collections.abc import Iterator

import pytest

from devtools.demo_target import DemoTarget


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def target() -> Iterator[DemoTarget]:
    with DemoTarget() as server:
        yield server


@pytest.fixture
def fresh_target(target: DemoTarget) -> DemoTarget:
    target.reset()
    return target


class InvocationContext:
    """The Lambda context object's interface, with a real clock counting down.

    Lambda hands the handler such an object; this one answers
    ``get_remaining_time_in_millis`` from a deadline set when it is made.
    """

    function_name = "fanout-test"
    function_version = "$LATEST"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:fanout-test"
    log_group_name = "/aws/lambda/fanout-test"
    log_stream_name = "2026/11/25/[$LATEST]test"

    def __init__(self, remaining_ms: float, request_id: str = "test-request-id") -> None:
        import time

        self._clock = time.monotonic
        self._end = self._clock() + remaining_ms / 1000
        self.aws_request_id = request_id

    def get_remaining_time_in_millis(self) -> int:
        return int((self._end - self._clock()) * 1000)


@pytest.fixture
def lambda_context() -> type[InvocationContext]:
    return InvocationContext
