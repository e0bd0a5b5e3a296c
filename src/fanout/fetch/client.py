"""The run's httpx client: made inside the run's event loop, closed before the run returns.

An aiohttp session cannot outlive its loop, and nothing of a run may outlive it: the client,
its transport, its connections, its DNS channel and lookups all end with ``aclose``
(``async with build_client(...)``).
"""

from __future__ import annotations

import typing
from http.cookiejar import CookieJar, DefaultCookiePolicy

import httpx

from fanout.config import TransportName, get_settings
from fanout.fetch.egress.policy import EgressPolicy, policy_for
from fanout.fetch.transports.aiohttp import aiohttp_transport
from fanout.fetch.transports.base import RunLookups, verified_ssl_context


class FanoutClient(httpx.AsyncClient):
    """The run's httpx client, which also names the transport it sends on.

    ``transport`` is public so the fetcher can call ``handle_async_request`` directly
    (httpx's public transport API): ``AsyncClient.send`` adds auth and redirect
    generators, cookie extraction, event hooks, logging and a stream wrapper: CPU on every
    request for nothing this service uses (docs/benchmarks.md). The client still owns the transport (``async
    with`` closes it) and works as any ``httpx.AsyncClient`` for other callers.
    It never keeps a cookie (``_NoCookieJar``): one URL's cookies must not reach another's.
    """

    def __init__(
        self,
        *,
        transport: httpx.AsyncBaseTransport,
        user_agent: str,
        follow_redirects: bool = False,
        max_redirects: int = 0,
    ) -> None:
        super().__init__(
            transport=transport,
            trust_env=False,
            follow_redirects=follow_redirects,
            max_redirects=max_redirects,
            timeout=None,  # The fetcher caps each whole attempt itself.
            headers={"User-Agent": user_agent},
            # The jar itself: ``AsyncClient(cookies=httpx.Cookies(jar))`` would copy the
            # cookies into a new default-policy ``CookieJar``, which keeps and sends them.
            cookies=_NoCookieJar(),
        )
        self.transport = transport


def build_client(
    *,
    transport: TransportName,
    concurrency: int,
    per_host_concurrency: int,
    follow_redirects: bool,
    max_redirects: int,
    max_header_bytes: int,
    user_agent: str,
    egress: EgressPolicy | None = None,
    dns_budget_s: float = 10.0,
    ca_bundle: str = "",
) -> FanoutClient:
    """An httpx client for one run, made inside its event loop; the caller closes it (``async with``).

    Connection pools are sized to the run's caps so requests never queue inside the pool (the
    engine's own slots do the queueing, outside any timeout). ``egress`` defaults to the policy
    of the process's settings: never unguarded. ``dns_budget_s`` bounds each lookup (the
    attempt's ``request_timeout_s``); ``ca_bundle`` adds trusted CAs (``FANOUT_CA_BUNDLE``).
    """
    policy = policy_for(get_settings()) if egress is None else egress
    lookups = RunLookups(policy, budget_s=dns_budget_s)
    base: httpx.AsyncBaseTransport
    if transport == "aiohttp":
        base = aiohttp_transport(
            concurrency=concurrency,
            per_host_concurrency=per_host_concurrency,
            max_header_bytes=max_header_bytes,
            egress=policy,
            lookups=lookups,
            ssl_context=verified_ssl_context(ca_bundle),
        )
    else:
        from fanout.fetch.transports.httpcore import GuardedHTTPTransport  # httpcore: only when chosen

        limits = httpx.Limits(
            max_connections=concurrency, max_keepalive_connections=concurrency, keepalive_expiry=5.0
        )
        base = GuardedHTTPTransport(
            egress=policy, lookups=lookups, verify=verified_ssl_context(ca_bundle), limits=limits
        )
    return FanoutClient(
        transport=base, user_agent=user_agent, follow_redirects=follow_redirects, max_redirects=max_redirects
    )


class _NoCookieJar(CookieJar):
    """Keeps nothing and adds nothing: one URL's cookies must not reach another's requests."""

    def __init__(self) -> None:
        super().__init__(policy=DefaultCookiePolicy(allowed_domains=[]))  # and if asked: no domain

    def extract_cookies(self, response: typing.Any, request: typing.Any) -> None:
        return None

    def add_cookie_header(self, request: typing.Any) -> None:
        return None

    def set_cookie(self, cookie: typing.Any) -> None:
        return None
