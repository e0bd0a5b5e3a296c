"""Helpers shared by the integration tests (fixtures live in ``conftest.py``)."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import uuid
from typing import Any

from devtools.demo_target import DemoTarget
from fanout.config import Settings, TransportName
from fanout.contract import parse_request
from fanout.service import RunContext, run_fanout

TRANSPORTS: tuple[TransportName, ...] = ("aiohttp", "httpcore")
CLOSE_WITHIN_S = 3.0
# The machine is small and shared: timing assertions get this much slack.
SLACK_S = 1.0


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


def other_tasks() -> set[asyncio.Task[Any]]:
    """Every task of the running loop but the current one."""
    return asyncio.all_tasks() - {asyncio.current_task()}


@dataclasses.dataclass
class Fanout:
    """Runs requests through ``run_fanout`` against ``target`` with ``settings``."""

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
        """``run_fanout`` with a deadline ``budget_s`` from now, as the handler computes it."""
        request = parse_request({"urls": urls, "options": options})
        loop = asyncio.get_running_loop()
        ctx = RunContext(source="direct", deadline=loop.time() + budget_s, budget_s=budget_s)
        return await run_fanout(request, ctx, settings=self.settings)

    def hits(self, path: str) -> int:
        return int(self.target.stats()["hits"].get(path, 0))
