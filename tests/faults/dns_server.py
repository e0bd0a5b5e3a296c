"""A DNS server on a loopback address whose answers are faults, chosen by the name's zone.

It listens on UDP and TCP (port 53 by default: run it as root, inside the fault tier's own
network namespace) and answers each query by the zone of its name:

==================  =============================================================
zone                behaviour
==================  =============================================================
``*.hang.test``     reads the query and never answers (a lame delegation, a dead
                    VPC resolver)
``*.slow.test``     answers ``127.0.0.1`` (A) after ``slow_s``
``*.servfail.test`` SERVFAIL at once
``*.nx.test``       NXDOMAIN at once
``*.ok.test``       ``127.0.0.1`` (A) at once; no AAAA (an empty NOERROR)
anything else       NXDOMAIN
==================  =============================================================

``queries`` counts the questions received per name and type.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections import Counter
from collections.abc import Callable

import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset

HANG, SLOW, SERVFAIL, NX, OK = "hang.test.", "slow.test.", "servfail.test.", "nx.test.", "ok.test."
ANSWER = "127.0.0.1"


class FaultyDns:
    """``with FaultyDns("127.0.0.53") as server: ...``; threads stop on exit."""

    def __init__(self, host: str, port: int = 53, *, slow_s: float = 0.8) -> None:
        if not host.startswith("127."):
            raise ValueError("the faulty DNS server only listens on loopback")
        self.host, self.port, self.slow_s = host, port, slow_s
        self.queries: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._threads: list[threading.Thread] = []

    def __enter__(self) -> FaultyDns:
        self._udp.bind((self.host, self.port))
        self._udp.settimeout(0.1)
        self._tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._tcp.bind((self.host, self.port))
        self._tcp.listen(64)
        self._tcp.settimeout(0.1)
        for target in (self._serve_udp, self._serve_tcp):
            thread = threading.Thread(target=target, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        for thread in self._threads:
            thread.join(timeout=5)
        self._udp.close()
        self._tcp.close()

    def answer(self, wire: bytes) -> tuple[bytes | None, float]:
        """The reply to one query (None: never) and how long to wait before sending it."""
        query = dns.message.from_wire(wire)
        question = query.question[0]
        name = question.name.to_text().lower()
        with self._lock:
            self.queries[f"{name} {dns.rdatatype.to_text(question.rdtype)}"] += 1
        reply = dns.message.make_response(query)
        if name.endswith(HANG):
            return None, 0.0
        if name.endswith(SERVFAIL):
            reply.set_rcode(dns.rcode.SERVFAIL)
            return reply.to_wire(), 0.0
        if name.endswith((OK, SLOW)):
            if question.rdtype == dns.rdatatype.A:
                reply.answer.append(dns.rrset.from_text(question.name, 60, "IN", "A", ANSWER))
            return reply.to_wire(), self.slow_s if name.endswith(SLOW) else 0.0
        reply.set_rcode(dns.rcode.NXDOMAIN)
        return reply.to_wire(), 0.0

    def _serve_udp(self) -> None:
        while not self._stopping.is_set():
            try:
                wire, peer = self._udp.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            reply, delay = self.answer(wire)
            if reply is not None:
                self._later(delay, self._udp.sendto, reply, peer)

    def _serve_tcp(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._tcp.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._one_tcp, args=(conn,), daemon=True).start()

    def _one_tcp(self, conn: socket.socket) -> None:
        conn.settimeout(0.1)
        buffer = b""
        with conn:
            while not self._stopping.is_set():
                try:
                    data = conn.recv(4096)
                except TimeoutError:
                    continue
                except OSError:
                    return
                if not data:
                    return
                buffer += data
                while len(buffer) >= 2 and len(buffer) >= 2 + int.from_bytes(buffer[:2], "big"):
                    size = int.from_bytes(buffer[:2], "big")
                    wire, buffer = buffer[2 : 2 + size], buffer[2 + size :]
                    reply, delay = self.answer(wire)
                    if reply is not None:
                        self._later(delay, conn.sendall, len(reply).to_bytes(2, "big") + reply)

    def _later(self, delay: float, send: Callable[..., object], *args: object) -> None:
        def go() -> None:
            with contextlib.suppress(OSError):  # the client left
                send(*args)

        if delay <= 0:
            go()
        else:
            timer = threading.Timer(delay, go)
            timer.daemon = True
            timer.start()
