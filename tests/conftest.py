"""Shared fixtures: the anyio backend and a local demo target on 127.0.0.1."""

from __future__ import annotations

import os

# Tests fetch only from this machine: exempt loopback from the egress guard, before anything
# reads the settings (they are read once, on first use, as on Lambda).
os.environ.setdefault("EGRESS_ALLOW_CIDRS", "127.0.0.0/8,::1/128")

from collections.abc import Iterator

import pytest

from devtools.demo_target import DemoTarget
from fanout.runs.invocation import loop_factory
from tests.support import InvocationContext

# The loop the async tests run on: the service's (FANOUT_EVENT_LOOP, uvloop by default); `make
# test` runs the integration tier again with FANOUT_EVENT_LOOP=asyncio.
EVENT_LOOP = "asyncio" if os.environ.get("FANOUT_EVENT_LOOP", "").strip() == "asyncio" else "uvloop"


@pytest.fixture
def anyio_backend() -> tuple[str, dict[str, object]]:
    return "asyncio", {"loop_factory": loop_factory(EVENT_LOOP)}


@pytest.fixture(scope="session")
def target() -> Iterator[DemoTarget]:
    with DemoTarget() as server:
        yield server


@pytest.fixture
def fresh_target(target: DemoTarget) -> DemoTarget:
    target.reset()
    return target


@pytest.fixture
def lambda_context() -> type[InvocationContext]:
    return InvocationContext
