"""Integration fixtures: ``run_fanout`` against the real demo target, over both transports.

Every test using ``fanout`` is also a hygiene test: after it, the server must see no
connection left open. And no test here may make asyncio report an error ("Task was
destroyed but it is pending", "Task exception was never retrieved", "Unclosed client
session", ...): those go to the ``asyncio`` logger, not through warnings.
"""

from __future__ import annotations

import gc
import logging
import socket
from collections.abc import Iterator

import pytest

from devtools.demo_target import DemoTarget
from fanout.config import Settings, TransportName, get_settings
from tests.support import TRANSPORTS, Fanout, open_connections_after


class _Keep(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(autouse=True)
def _no_asyncio_errors() -> Iterator[None]:
    keep = _Keep()
    asyncio_logger = logging.getLogger("asyncio")
    asyncio_logger.addHandler(keep)
    try:
        yield
        gc.collect()  # what was left behind is reported when it is collected
    finally:
        asyncio_logger.removeHandler(keep)
    assert not keep.records, [r.getMessage() for r in keep.records]


@pytest.fixture(params=TRANSPORTS)
def settings(request: pytest.FixtureRequest) -> Settings:
    transport: TransportName = request.param
    return get_settings().model_copy(update={"http_transport": transport})


@pytest.fixture
def fanout(fresh_target: DemoTarget, settings: Settings) -> Iterator[Fanout]:
    yield Fanout(fresh_target, settings)
    # Whatever the test did, nothing it opened may stay open at the server.
    assert open_connections_after(fresh_target) == 0, "a connection outlived the test's runs"


@pytest.fixture(scope="session")
def localhost_is_loopback() -> None:
    """The per-host tests reach the target as ``localhost`` too: it must be 127.0.0.1."""
    addresses = {info[4][0] for info in socket.getaddrinfo("localhost", 80, type=socket.SOCK_STREAM)}
    assert "127.0.0.1" in addresses, f"localhost resolves to {addresses}"
