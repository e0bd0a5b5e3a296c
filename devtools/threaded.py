"""A server on a thread of its own for the length of a ``with`` block: how the loopback servers of
the tests and the bench, and the local API, start and stop (one place, one order)."""

from __future__ import annotations

import threading
from typing import Generic, Protocol, Self, TypeVar


class Serving(Protocol):
    """What ``socketserver`` servers and werkzeug's have in common."""

    def serve_forever(self, poll_interval: float = ...) -> None: ...

    def shutdown(self) -> None: ...

    def server_close(self) -> None: ...


ServerT = TypeVar("ServerT", bound=Serving)


class ServedOnThread(Generic[ServerT]):
    """``with`` it: ``server`` serves on its own thread. On leaving: ``_stopping`` (for handlers that
    wait on something to give up), ``shutdown``, ``server_close`` (which joins the handler threads of
    a server that blocks on close) and the serving thread joined."""

    JOIN_TIMEOUT_S = 10.0

    def __init__(
        self, server: ServerT, *, poll_interval_s: float = 0.5, daemon: bool = False, name: str | None = None
    ) -> None:
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": poll_interval_s}, daemon=daemon, name=name
        )

    def _stopping(self) -> None:
        """Before the server shuts down (nothing, unless a subclass has handlers to wake)."""

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=self.JOIN_TIMEOUT_S)
