"""Stores that misbehave, for the persistence tests; moto itself is ``devtools.local_aws``.

``HangingServer`` accepts TCP connections on 127.0.0.1 and never answers: a store endpoint
that hangs (``AWS_ENDPOINT_URL`` at it). A refused endpoint is just a free port.
"""

from __future__ import annotations

import select
import socket
import socketserver
import threading

from devtools.local_aws import CREDENTIALS, ROOT, LocalAws, load_template, table_kwargs

MotoAws = LocalAws

__all__ = ["CREDENTIALS", "ROOT", "HangingServer", "MotoAws", "load_template", "table_kwargs"]


class _Silent(socketserver.BaseRequestHandler):
    """Reads whatever the client sends and never answers, until it leaves or the server stops."""

    server: HangingServer._Server

    def handle(self) -> None:
        sock: socket.socket = self.request
        while not self.server.stopping.is_set():
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
