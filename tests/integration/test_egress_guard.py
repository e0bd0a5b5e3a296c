"""The egress guard end to end, over both transports, against servers on loopback only.

- A **canary** listens on 127.0.0.1:P and [::1]:P and counts every TCP connection it
  accepts. Under a policy that does not exempt it, no spelling, redirect or resolver
  trick may produce a single connection.
- A **stand-in public host** (the demo target on 127.0.0.2:P, the same port) plays the
  internet: tests exempt exactly 127.0.0.2/32, so it is reachable while the canary's
  addresses stay blocked. Public addresses themselves are never connected to.
- Names are resolved by an injected resolver (``localhost`` by the real one), so
  rebinding and multi-answer DNS are simulated without any real DNS.
- Hostile responses (gzip bomb, oversized body, huge headers) run in a subprocess where
  the peak RSS is measured.
"""

from __future__ import annotations

import asyncio
import json
import os
import select
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from devtools.demo_target import DemoTarget
from fanout.config import TransportName, parse_cidrs
from fanout.core.requests import UrlEntry
from fanout.fetch.client import build_client
from fanout.fetch.egress.policy import EgressPolicy, SystemResolver
from fanout.fetch.fetcher import Fetcher, FetchPolicy, FetchProgress, FetchResult

pytestmark = pytest.mark.anyio

TRANSPORTS: tuple[TransportName, ...] = ("aiohttp", "httpcore")
ROOT = Path(__file__).resolve().parents[2]
PUBLIC_IP = "127.0.0.2"  # the stand-in for a public address (exempted explicitly)
MIB = 1_048_576

# ---------------------------------------------------------------------------- servers

Responder = Callable[[bytes], bytes]


def _ok(_request: bytes) -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\ncanary"


class RawServer:
    """A tiny HTTP server on 127.0.0.1:P and [::1]:P that counts every accepted connection."""

    def __init__(self, respond: Responder = _ok, port: int = 0) -> None:
        self.respond = respond
        self.connections = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        v4 = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        v4.bind(("127.0.0.1", port))
        self.port = int(v4.getsockname()[1])
        v6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        v6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        v6.bind(("::1", self.port))
        self._listeners = [v4, v6]
        for sock in self._listeners:
            sock.listen(64)
        self._thread = threading.Thread(target=self._serve, name="raw-server", daemon=True)
        self._thread.start()

    @property
    def hits(self) -> int:
        with self._lock:
            return self.connections

    def _serve(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select(self._listeners, [], [], 0.05)
            for listener in ready:
                conn, _ = listener.accept()
                with self._lock:
                    self.connections += 1
                threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            data = b""
            try:
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                conn.sendall(self.respond(data))
            except OSError:
                pass

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for sock in self._listeners:
            sock.close()


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[RawServer, DemoTarget]]:
    """The canary and the stand-in public host, on the same port."""
    for _ in range(20):
        canary = RawServer()
        try:
            public = DemoTarget(host=PUBLIC_IP, port=canary.port).start()
        except OSError:
            canary.close()
            continue
        break
    else:  # pragma: no cover
        pytest.fail("no port free on both 127.0.0.1 and 127.0.0.2")
    try:
        yield canary, public
    finally:
        public.stop()
        canary.close()


@pytest.fixture
def canary(servers: tuple[RawServer, DemoTarget]) -> RawServer:
    return servers[0]


@pytest.fixture
def public(servers: tuple[RawServer, DemoTarget]) -> DemoTarget:
    servers[1].reset()
    return servers[1]


# -------------------------------------------------------------------------- resolvers


class FakeResolver:
    """Names -> answers; a list of answer lists is served one per call (the last repeats).

    ``localhost`` goes to the real resolver (``/etc/hosts``); unknown names fail.
    """

    def __init__(self, answers: dict[str, list[str] | list[list[str]]] | None = None) -> None:
        self.answers = answers or {}
        self.calls: list[str] = []
        self._system = SystemResolver()

    async def resolve(self, host: str, port: int) -> Sequence[str]:
        self.calls.append(host)
        if host == "localhost":
            return await self._system.resolve(host, port)
        answer = self.answers.get(host)
        if answer is None:
            raise socket.gaierror(socket.EAI_NONAME, f"{host} is not a test name")
        if answer and isinstance(answer[0], list):
            sequence: list[list[str]] = answer
            index = min(self.calls.count(host), len(sequence)) - 1
            return sequence[index]
        return answer  # type: ignore[return-value]


CANARY_NAMES: dict[str, list[str] | list[list[str]]] = {
    "canary.test": ["127.0.0.1"],
    "127.0.0.1.nip.io": ["127.0.0.1"],
    "localtest.me": ["127.0.0.1", "::1"],
    "spoofed.burpcollaborator.net": ["127.0.0.1"],
    "xn--loclhost-36g": ["127.0.0.1"],  # a homograph of localhost, as IDNA sends it
    "v6only.test": ["::1"],
    "mapped.test": ["::ffff:127.0.0.1"],
    "public.test": [PUBLIC_IP],
}


def blocking_policy(**names: list[str] | list[list[str]]) -> EgressPolicy:
    """The default policy (no exemptions) with test names."""
    return EgressPolicy((), FakeResolver({**CANARY_NAMES, **names}))


def public_policy(**names: list[str] | list[list[str]]) -> EgressPolicy:
    """The default policy plus the stand-in public host (127.0.0.2/32) and nothing else."""
    return EgressPolicy(parse_cidrs(f"{PUBLIC_IP}/32"), FakeResolver({**CANARY_NAMES, **names}))


# ---------------------------------------------------------------------------- fetching


async def fetch(
    url: str,
    *,
    transport: TransportName,
    policy: EgressPolicy,
    max_body_bytes: int = MIB,
) -> FetchResult:
    """One URL through the real fetcher and ``build_client`` with ``policy``."""
    results = await fetch_all([url], transport=transport, policy=policy, max_body_bytes=max_body_bytes)
    return results[0]


async def fetch_all(
    urls: list[str],
    *,
    transport: TransportName,
    policy: EgressPolicy,
    max_body_bytes: int = MIB,
) -> list[FetchResult]:
    """URLs one after another through one client (one run)."""
    loop = asyncio.get_running_loop()
    fetch_policy = FetchPolicy(
        request_timeout_s=10.0,
        retries=0,
        follow_redirects=True,
        max_redirects=5,
        max_body_bytes=max_body_bytes,
    )
    async with build_client(
        transport=transport,
        concurrency=8,
        per_host_concurrency=8,
        follow_redirects=False,
        max_redirects=5,
        max_header_bytes=16_384,
        user_agent="fanout-egress-test",
        egress=policy,
    ) as client:
        fetcher = Fetcher(client, fetch_policy)
        results = []
        for url in urls:
            deadline = loop.time() + 30
            results.append(
                await fetcher.fetch(UrlEntry(url=url), deadline=deadline, progress=FetchProgress())
            )
        return results


def assert_blocked(result: FetchResult, reason: str | None = None) -> None:
    assert result.outcome.value == "blocked", result
    assert result.error is not None
    if reason is not None:
        assert result.error.type == reason, result


# ---------------------------------------------------------------- the bypass table

BYPASS_SPELLINGS: list[tuple[str, str]] = [
    ("http://127.0.0.1:{port}/", "address_blocked:loopback"),
    ("http://127.0.0.1:{port}/latest/meta-data/", "address_blocked:loopback"),
    ("https://127.0.0.1:{port}/", "address_blocked:loopback"),
    ("http://2130706433:{port}/", "address_blocked:loopback"),
    ("http://0x7f000001:{port}/", "address_blocked:loopback"),
    ("http://017700000001:{port}/", "address_blocked:loopback"),
    ("http://0x7f.1:{port}/", "address_blocked:loopback"),
    ("http://0x7f.0x0.0x0.0x1:{port}/", "address_blocked:loopback"),
    ("http://0177.0.0.1:{port}/", "url_invalid"),  # httpx refuses it outright
    ("http://127.000.000.001:{port}/", "url_invalid"),
    ("http://127.1:{port}/", "address_blocked:loopback"),
    ("http://127.0.1:{port}/", "address_blocked:loopback"),
    ("http://127.000000000000000.1:{port}/", "address_blocked:loopback"),
    ("http://127.0.0.1.:{port}/", "address_blocked:loopback"),
    ("http://127\u30020\u30020\u30021:{port}/", "address_blocked:loopback"),
    ("http://0:{port}/", "address_blocked:unspecified"),
    ("http://0.0.0.0:{port}/", "address_blocked:unspecified"),
    ("http://00000:{port}/", "address_blocked:unspecified"),
    ("http://[::]:{port}/", "address_blocked:unspecified"),
    ("http://[::1]:{port}/", "address_blocked:loopback"),
    ("http://[0000::1]:{port}/", "address_blocked:loopback"),
    ("http://[0:0:0:0:0:0:0:1]:{port}/", "address_blocked:loopback"),
    ("http://[::ffff:127.0.0.1]:{port}/", "address_blocked:loopback"),
    ("http://[::ffff:7f00:1]:{port}/", "address_blocked:loopback"),
    ("http://[0:0:0:0:0:ffff:127.0.0.1]:{port}/", "address_blocked:loopback"),
    ("http://[::127.0.0.1]:{port}/", "address_blocked:loopback"),
    ("http://[64:ff9b::127.0.0.1]:{port}/", "address_blocked:loopback"),
    ("http://[2002:7f00:1::1]:{port}/", "address_blocked:loopback"),
    ("http://[fe80::1%25lo]:{port}/", "host_invalid"),
    ("http://localhost:{port}/", "address_blocked:loopback"),
    ("http://LOCALHOST.:{port}/", "address_blocked:loopback"),
    ("http://LocalHost:{port}/", "address_blocked:loopback"),
    ("http://localhost\u3002:{port}/", "address_blocked:loopback"),
    ("http://\uff4c\uff4f\uff43\uff41\uff4c\uff48\uff4f\uff53\uff54:{port}/", "url_invalid"),  # fullwidth
    ("http://\u2460\u2461\u2466.\u24ea.\u24ea.\u2460:{port}/", "url_invalid"),  # enclosed digits
    ("http://xn--zz.test:{port}/", "url_invalid"),  # an A-label that is no IDNA name
    ("http://loc\u0430lhost:{port}/", "address_blocked:loopback"),  # Cyrillic a (IDNA name)
    ("http://canary.test:{port}/", "address_blocked:loopback"),
    ("http://127.0.0.1.nip.io:{port}/", "address_blocked:loopback"),
    ("http://localtest.me:{port}/", "address_blocked:loopback"),
    ("http://spoofed.burpcollaborator.net:{port}/", "address_blocked:loopback"),
    ("http://v6only.test:{port}/", "address_blocked:loopback"),
    ("http://mapped.test:{port}/", "address_blocked:loopback"),
    ("http://evil.com@127.0.0.1:{port}/", "userinfo_not_allowed"),
    ("http://127.0.0.1:{port}\\@public.test/", "userinfo_not_allowed"),
    ("http://127.0.0.1:{port}#@public.test/", "address_blocked:loopback"),
    ("http://%31%32%37.0.0.1:{port}/", "host_invalid"),
    ("gopher://127.0.0.1:{port}/_GET%20/", "scheme_not_allowed"),
    ("ftp://127.0.0.1:{port}/", "scheme_not_allowed"),
    ("file:///etc/passwd", "scheme_not_allowed"),
    ("not a url", "url_invalid"),
    ("127.0.0.1:{port}/", "url_invalid"),  # no scheme: a path, never a host
    ("//127.0.0.1:{port}/", "url_invalid"),
]


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize(("spelling", "reason"), BYPASS_SPELLINGS)
async def test_bypass_spellings_are_blocked_and_never_reach_the_canary(
    canary: RawServer, transport: TransportName, spelling: str, reason: str
) -> None:
    before = canary.hits
    result = await fetch(spelling.format(port=canary.port), transport=transport, policy=blocking_policy())
    assert_blocked(result, reason)
    assert canary.hits == before, "the canary was connected to"


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_the_whole_table_in_one_run_never_reaches_the_canary(
    canary: RawServer, transport: TransportName
) -> None:
    before = canary.hits
    urls = [spelling.format(port=canary.port) for spelling, _ in BYPASS_SPELLINGS]
    results = await fetch_all(urls, transport=transport, policy=blocking_policy())
    assert [r.outcome.value for r in results] == ["blocked"] * len(urls)
    assert canary.hits == before


# --------------------------------------------------------------------------- redirects

REDIRECT_TARGETS: list[tuple[str, str]] = [
    ("http://127.0.0.1:{port}/", "address_blocked:loopback"),
    ("http://localhost:{port}/", "address_blocked:loopback"),
    ("http://2130706433:{port}/", "address_blocked:loopback"),
    ("http://0x7f.1:{port}/", "address_blocked:loopback"),
    ("http://0:{port}/", "address_blocked:unspecified"),
    ("http://[::1]:{port}/", "address_blocked:loopback"),
    ("http://[::ffff:127.0.0.1]:{port}/", "address_blocked:loopback"),
    ("http://canary.test:{port}/", "address_blocked:loopback"),
    ("http://127.0.0.1.nip.io:{port}/", "address_blocked:loopback"),
    ("ftp://public.test:{port}/", "scheme_not_allowed"),
    ("http://user:pw@public.test:{port}/ok", "userinfo_not_allowed"),
    ("http://public.test:0/", "port_not_allowed"),
]


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize(("target_url", "reason"), REDIRECT_TARGETS)
async def test_redirects_from_a_public_host_to_internal_ones_are_blocked(
    canary: RawServer, public: DemoTarget, transport: TransportName, target_url: str, reason: str
) -> None:
    before = canary.hits
    destination = target_url.format(port=canary.port)
    start = f"http://public.test:{public.port}/redirect-to?url={quote(destination, safe='')}"
    result = await fetch(start, transport=transport, policy=public_policy())
    assert_blocked(result, reason)
    assert public.stats()["hits"].get("/redirect-to") == 1  # the first hop was allowed
    assert canary.hits == before


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_redirect_chain_through_public_hosts_is_checked_at_every_hop(
    canary: RawServer, public: DemoTarget, transport: TransportName
) -> None:
    before = canary.hits
    url = f"http://canary.test:{canary.port}/"
    for _ in range(3):  # public -> public -> public -> canary
        url = f"http://{PUBLIC_IP}:{public.port}/redirect-to?url={quote(url, safe='')}"
    result = await fetch(url, transport=transport, policy=public_policy())
    assert_blocked(result, "address_blocked:loopback")
    assert public.stats()["hits"].get("/redirect-to") == 3
    assert canary.hits == before


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_redirects_that_stay_public_are_followed(public: DemoTarget, transport: TransportName) -> None:
    result = await fetch(
        f"http://public.test:{public.port}/redirect/3", transport=transport, policy=public_policy()
    )
    assert result.outcome.value == "ok", result
    assert public.stats()["hits"].get("/redirect/0") == 1


# -------------------------------------------------------------- rebinding and multi-answer


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_dns_rebinding_has_no_window_between_check_and_connect(
    canary: RawServer, public: DemoTarget, transport: TransportName
) -> None:
    """The first answer is public, every later one is the canary: one resolution serves both."""
    before = canary.hits
    policy = public_policy(**{"rebind.test": [[PUBLIC_IP], ["127.0.0.1"]]})
    resolver = policy.resolver
    assert isinstance(resolver, FakeResolver)
    result = await fetch(f"http://rebind.test:{public.port}/ok", transport=transport, policy=policy)
    assert result.outcome.value == "ok", result  # connected to the answer that was checked
    assert resolver.calls.count("rebind.test") == 1
    assert public.stats()["hits"].get("/ok") == 1
    # The next run resolves again, gets the canary, and is refused.
    again = await fetch(f"http://rebind.test:{public.port}/ok", transport=transport, policy=policy)
    assert_blocked(again, "address_blocked:loopback")
    assert canary.hits == before


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_rebinding_within_one_run_never_reaches_the_canary(
    canary: RawServer, public: DemoTarget, transport: TransportName
) -> None:
    before = canary.hits
    policy = public_policy(**{"rebind.test": [[PUBLIC_IP], ["127.0.0.1"]]})
    url = f"http://rebind.test:{public.port}/ok"
    results = await fetch_all([url] * 5, transport=transport, policy=policy)
    # aiohttp reuses its (checked) cached answer; httpcore may reuse the connection or
    # resolve again and be refused. Either way, never the canary.
    assert results[0].outcome.value == "ok"
    assert {r.outcome.value for r in results} <= {"ok", "blocked"}
    assert canary.hits == before


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("answers", [[PUBLIC_IP, "127.0.0.1"], ["127.0.0.1", PUBLIC_IP], [PUBLIC_IP, "::1"]])
async def test_a_name_with_any_blocked_answer_is_refused(
    canary: RawServer, public: DemoTarget, transport: TransportName, answers: list[str]
) -> None:
    before = canary.hits
    policy = public_policy(**{"multi.test": answers})
    result = await fetch(f"http://multi.test:{public.port}/status/299", transport=transport, policy=policy)
    assert_blocked(result, "address_blocked:loopback")
    assert "/status/299" not in public.stats()["hits"]  # refused, not trimmed to the public answer
    assert canary.hits == before


# ------------------------------------------- each layer holds without the one above it


class NoUrlCheck(EgressPolicy):
    """A policy whose pre-connection URL check is skipped, to test the connection layer."""

    def check_url(self, url: Any) -> Any:
        return url


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize(
    "spelling", ["http://127.0.0.1:{port}/", "http://[::1]:{port}/", "http://canary.test:{port}/"]
)
async def test_the_connection_layer_blocks_on_its_own(
    canary: RawServer, transport: TransportName, spelling: str
) -> None:
    """aiohttp: socket factory (IP literals skip the resolver) and resolver; httpcore: backend."""
    before = canary.hits
    policy = NoUrlCheck((), FakeResolver(CANARY_NAMES))
    result = await fetch(spelling.format(port=canary.port), transport=transport, policy=policy)
    assert_blocked(result, "address_blocked:loopback")
    assert canary.hits == before


# ------------------------------------------------------------ the exempted network works

ALLOWED_SPELLINGS = [
    "http://127.0.0.1:{port}/",
    "http://2130706433:{port}/",
    "http://0x7f.1:{port}/",
    "http://127.1:{port}/",
    "http://127.0.0.1.:{port}/",
    "http://localhost:{port}/",
    "http://LOCALHOST.:{port}/",
    "http://canary.test:{port}/",
    "http://localtest.me:{port}/",
    "http://[::1]:{port}/",
    "http://v6only.test:{port}/",
    "http://[::ffff:127.0.0.1]:{port}/",  # exempt: the IPv4 inside is exempted
    "http://mapped.test:{port}/",
]


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("spelling", ALLOWED_SPELLINGS)
async def test_an_exempted_network_is_reachable_in_every_spelling(
    canary: RawServer, transport: TransportName, spelling: str
) -> None:
    policy = EgressPolicy(parse_cidrs("127.0.0.1/32, ::1/128"), FakeResolver(CANARY_NAMES))
    before = canary.hits
    result = await fetch(spelling.format(port=canary.port), transport=transport, policy=policy)
    assert result.outcome.value == "ok", result
    assert result.bytes == len(b"canary")
    assert canary.hits == before + 1


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_exempting_one_address_does_not_exempt_its_neighbours(
    canary: RawServer, public: DemoTarget, transport: TransportName
) -> None:
    before = canary.hits
    assert (
        await fetch(f"http://{PUBLIC_IP}:{public.port}/ok", transport=transport, policy=public_policy())
    ).outcome.value == "ok"
    result = await fetch(f"http://127.0.0.1:{canary.port}/", transport=transport, policy=public_policy())
    assert_blocked(result, "address_blocked:loopback")
    assert canary.hits == before


# ---------------------------------------------------------------- the environment is ignored


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_proxy_environment_variables_are_ignored(
    canary: RawServer, public: DemoTarget, transport: TransportName, monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy = f"http://127.0.0.1:{canary.port}"
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.setenv(name, proxy)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    before = canary.hits
    result = await fetch(f"http://{PUBLIC_IP}:{public.port}/ok", transport=transport, policy=public_policy())
    assert result.outcome.value == "ok", result
    assert canary.hits == before, "the request went through the environment's proxy"


# ----------------------------------------------------------------- the default code path


def _run_child(code: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    child_env = {k: v for k, v in os.environ.items() if not k.endswith(("_PROXY", "_proxy"))}
    child_env.update(env)
    child_env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(ROOT)])
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=child_env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_the_service_default_path_is_guarded(canary: RawServer) -> None:
    """``fetch_run`` with the process's settings (EGRESS_ALLOW_CIDRS unset): all blocked."""
    urls = [
        s.format(port=canary.port)
        for s in (
            "http://127.0.0.1:{port}/",
            "http://localhost:{port}/",
            "http://2130706433:{port}/",
            "http://[::1]:{port}/",
        )
    ]
    code = f"""
        import asyncio, dataclasses, json
        from fanout.config import get_settings
        from fanout.core.requests import parse_request
        from fanout.runs.fetch_run import fetch_run
        from tests.support import run_context

        async def main():
            out = {{}}
            for transport in ("aiohttp", "httpcore"):
                settings = get_settings().model_copy(update={{"http_transport": transport}})
                request = parse_request({{"urls": {urls!r}, "options": {{"retries": 0}}}}, settings)
                doc = (await fetch_run(request, run_context(20), settings=settings)).to_json()
                out[transport] = [(r["outcome"], r["error"]["type"]) for r in doc["results"]]
            print(json.dumps(out))

        asyncio.run(main())
    """
    before = canary.hits
    done = _run_child(code, {"EGRESS_ALLOW_CIDRS": ""})
    assert done.returncode == 0, done.stderr
    outcomes = json.loads(done.stdout.strip().splitlines()[-1])
    for transport in TRANSPORTS:
        assert [o for o, _ in outcomes[transport]] == ["blocked"] * len(urls), outcomes
        assert all(t.startswith("address_blocked:") for _, t in outcomes[transport]), outcomes
    assert canary.hits == before


def test_a_bad_allow_list_stops_the_function_at_import() -> None:
    done = _run_child("import fanout.handler", {"EGRESS_ALLOW_CIDRS": "127.0.0.0/8,10.0.0.1/8"})
    assert done.returncode != 0
    assert "ConfigError" in done.stderr
    assert "EGRESS_ALLOW_CIDRS: '10.0.0.1/8' is not a valid CIDR network" in done.stderr


# ---------------------------------------------------------------- hostile responses


def _huge_header(size: int) -> Responder:
    def respond(_request: bytes) -> bytes:
        return b"HTTP/1.1 200 OK\r\nX-Big: " + b"h" * size + b"\r\nContent-Length: 2\r\n\r\nok"

    return respond


@pytest.fixture(scope="module")
def huge_headers() -> Iterator[dict[int, RawServer]]:
    servers = {size: RawServer(_huge_header(size)) for size in (32 * 1024, 256 * 1024)}
    yield servers
    for server in servers.values():
        server.close()


LOOPBACK = EgressPolicy(parse_cidrs("127.0.0.0/8"), FakeResolver())


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_huge_response_header_is_refused(
    huge_headers: dict[int, RawServer], transport: TransportName
) -> None:
    server = huge_headers[256 * 1024]
    result = await fetch(f"http://127.0.0.1:{server.port}/", transport=transport, policy=LOOPBACK)
    assert result.outcome.value == "failed", result


async def test_the_header_cap_is_max_header_bytes_under_aiohttp(huge_headers: dict[int, RawServer]) -> None:
    # httpcore's own cap is h11's 100 KiB for the whole header block.
    server = huge_headers[32 * 1024]
    result = await fetch(f"http://127.0.0.1:{server.port}/", transport="aiohttp", policy=LOOPBACK)
    assert result.outcome.value == "failed", result


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_an_oversized_body_fails_at_the_cap(target: DemoTarget, transport: TransportName) -> None:
    result = await fetch(target.url(f"/big?bytes={16 * MIB}"), transport=transport, policy=LOOPBACK)
    assert result.outcome.value == "failed"
    assert result.error is not None
    assert result.error.type == "response_too_large"


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_gzip_bomb_is_never_inflated(target: DemoTarget, transport: TransportName) -> None:
    url = target.url("/gzip-bomb?mib=256")
    whole = await fetch(url, transport=transport, policy=LOOPBACK)
    assert whole.outcome.value == "ok", whole
    assert whole.bytes is not None
    assert whole.bytes < MIB  # counted on the wire: ~256 KiB, not 256 MiB
    capped = await fetch(url, transport=transport, policy=LOOPBACK, max_body_bytes=64 * 1024)
    assert capped.outcome.value == "failed"
    assert capped.error is not None
    assert capped.error.type == "response_too_large"


def test_hostile_bodies_keep_the_process_memory_bounded(target: DemoTarget) -> None:
    """Peak RSS (VmHWM) of a process fetching a 256 MiB gzip bomb and a 64 MiB body."""
    if not Path("/proc/self/status").exists():  # pragma: no cover
        pytest.skip("needs /proc")
    code = f"""
        import asyncio, json
        from fanout.core.requests import UrlEntry
        from fanout.fetch.client import build_client
        from fanout.fetch.fetcher import Fetcher, FetchPolicy, FetchProgress

        def peak_kib():
            for line in open("/proc/self/status"):
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])

        async def fetch(transport, url, cap):
            async with build_client(transport=transport, concurrency=4, per_host_concurrency=4,
                                    follow_redirects=False, max_redirects=5, max_header_bytes=16384,
                                    user_agent="mem-test") as client:
                fetcher = Fetcher(client, FetchPolicy(request_timeout_s=60, retries=0,
                                  follow_redirects=True, max_redirects=5, max_body_bytes=cap))
                loop = asyncio.get_running_loop()
                r = await fetcher.fetch(UrlEntry(url=url), deadline=loop.time() + 90,
                                        progress=FetchProgress())
                return [r.outcome.value, r.error.type if r.error else None, r.bytes]

        async def main():
            base = {target.base_url!r}
            for transport in ("aiohttp", "httpcore"):
                await fetch(transport, base + "/ok", 1 << 20)  # warm up every code path
            before = peak_kib()
            results = []
            for transport in ("aiohttp", "httpcore"):
                results.append(await fetch(transport, base + "/gzip-bomb?mib=256", 1 << 20))
                results.append(await fetch(transport, base + "/gzip-bomb?mib=256", 64 << 10))
                results.append(await fetch(transport, base + "/big?bytes={64 * MIB}", 1 << 20))
            print(json.dumps({{"growth_kib": peak_kib() - before, "results": results}}))

        asyncio.run(main())
    """
    done = _run_child(code, {"EGRESS_ALLOW_CIDRS": "127.0.0.0/8"})
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    outcomes = [tuple(r[:2]) for r in report["results"]]
    assert outcomes == [("ok", None), ("failed", "response_too_large"), ("failed", "response_too_large")] * 2
    assert all(r[2] < 2 * MIB for r in report["results"] if r[2] is not None)
    # Inflating the bomb would need 256 MiB, buffering the body 64 MiB; allow 32 MiB of noise.
    assert report["growth_kib"] < 32 * 1024, report


def test_the_canary_counts_connections() -> None:
    """The canary itself works: a plain connection is counted (so zero hits means zero)."""
    server = RawServer()
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as conn:
            conn.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert conn.recv(1024).startswith(b"HTTP/1.1 200")
        with socket.create_connection(("::1", server.port), timeout=5):
            pass
        end = time.monotonic() + 5
        while server.hits < 2 and time.monotonic() < end:
            time.sleep(0.01)
        assert server.hits == 2
    finally:
        server.close()
