"""Shared fixtures: the anyio backend and a local demo target on 127.0.0.1."""

from __future__ import annotations

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
