"""What every transport shares: the run's name resolution, and the one mapping of the service's
own lower-layer failures to what the fetcher sees.

Each transport (``aiohttp``, ``httpcore``) is an ``httpx.AsyncBaseTransport``. Its library
wraps whatever failed (aiohttp's ``ClientConnectorError.os_error``, httpx's ``__cause__``);
``raise_own_failure`` walks that chain and raises, as itself, the failure the service made:

====================================  ===========================================
found in the chain                    raised to the fetcher
====================================  ===========================================
``EgressBlocked``                     ``EgressBlocked`` (outcome ``blocked``)
``BlockedConnection`` (socket check)  its ``EgressBlocked``
``LookupFailed`` timed out            ``DnsTimeout`` (outcome ``timed_out``)
``LookupFailed``                      ``DnsError`` (outcome ``failed``)
====================================  ===========================================

Anything else is the library's to map (``transports.aiohttp`` maps aiohttp's exceptions to
httpx's in its own table; httpx maps httpcore's).
"""

from __future__ import annotations

import errno
import ssl
import time
from collections.abc import Iterator
from functools import cache
from typing import Any

import httpx

from fanout.core.facts import TlsFacts
from fanout.core.ids import iso_from_epoch
from fanout.errors import DnsError, DnsTimeout, EgressBlocked
from fanout.fetch.dns import AresResolver, LookupFailed
from fanout.fetch.egress.lookups import CheckedLookups
from fanout.fetch.egress.policy import EgressPolicy


class BlockedConnection(OSError):
    """A socket the egress policy refused to open.

    An ``OSError`` so that aiohttp's connection code treats it as one failed address; the
    chain walk recovers the ``EgressBlocked``.
    """

    def __init__(self, blocked: EgressBlocked) -> None:
        super().__init__(errno.EACCES, str(blocked))
        self.blocked = blocked


def causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and everything it wraps (causes, contexts, aiohttp's ``os_error``), once each."""
    todo: list[BaseException] = [exc]
    seen: set[int] = set()
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        nested = (current.__cause__, current.__context__, getattr(current, "os_error", None))
        todo.extend(e for e in nested if isinstance(e, BaseException))


def own_failure(exc: BaseException) -> Exception | None:
    """The service's own failure behind ``exc``, as the fetcher should see it (the table above)."""
    for current in causes(exc):
        if isinstance(current, EgressBlocked):
            return current if current is exc else EgressBlocked(current.reason, str(current))
        if isinstance(current, BlockedConnection):
            return EgressBlocked(current.blocked.reason, str(current.blocked))
        if isinstance(current, LookupFailed):
            if current.timed_out:
                return DnsTimeout(str(current))
            return DnsError(str(current), temporary=current.temporary)
    return None


class PeerInfo:
    """The peer of one connection: its address, and (for https) its TLS facts, read once."""

    __slots__ = ("_ssl_object", "_tls", "ip")

    def __init__(self, ip: str | None, ssl_object: Any = None) -> None:
        self.ip = ip
        self._ssl_object = ssl_object
        self._tls: TlsFacts | bool | None = False

    @property
    def tls(self) -> TlsFacts | None:
        if self._tls is False:
            self._tls = tls_facts(self._ssl_object)
        return self._tls if isinstance(self._tls, TlsFacts) else None


PEER = "fanout.peer"
"""The response extension naming its connection's ``PeerInfo``."""


def raise_own_failure(exc: Exception) -> None:
    """Raise the service's own failure behind ``exc`` (itself if it is one), if there is one."""
    mapped = own_failure(exc)
    if mapped is exc:
        raise exc
    if mapped is not None:
        raise mapped from exc


class RunLookups:
    """The run's name resolution: its c-ares channel (unless the policy has its own resolver) and
    the checked lookups over it; ``aclose`` ends both, pending lookups cancelled."""

    def __init__(self, policy: EgressPolicy, *, budget_s: float) -> None:
        self._dns = AresResolver(budget_s=budget_s) if policy.resolves_with_system else None
        self.checked = CheckedLookups(policy if self._dns is None else policy.for_run(self._dns))

    @property
    def policy(self) -> EgressPolicy:
        return self.checked.policy

    async def aclose(self) -> None:
        try:
            await self.checked.aclose()
        finally:
            if self._dns is not None:
                await self._dns.aclose()


@cache
def verified_ssl_context(ca_bundle: str = "") -> ssl.SSLContext:
    """One verified TLS context per process and extra CA bundle (building one is costly: docs/benchmarks.md).

    ``ca_bundle`` (``FANOUT_CA_BUNDLE``: a PEM file of private CAs) adds to the default trust
    store; verification is never switched off.
    """
    context = httpx.create_ssl_context(trust_env=False)
    if ca_bundle:
        context.load_verify_locations(cafile=ca_bundle)
    return context


_NAME_KEYS = {"commonName": "CN", "organizationName": "O", "organizationalUnitName": "OU", "countryName": "C"}


def _name(rdns: Any) -> str:
    parts = [f"{_NAME_KEYS.get(k, k)}={v}" for rdn in rdns or () for k, v in rdn]
    return ", ".join(parts)


def tls_facts(ssl_object: Any) -> TlsFacts | None:
    """The leaf certificate and protocol of a verified TLS connection (None: not TLS, or no cert)."""
    if ssl_object is None:
        return None
    cert = ssl_object.getpeercert()
    if not cert or "notAfter" not in cert:
        return None
    expires = ssl.cert_time_to_seconds(cert["notAfter"])
    return TlsFacts(
        version=ssl_object.version(),
        issuer=_name(cert.get("issuer")),
        subject=_name(cert.get("subject")),
        sans=tuple(value for _, value in cert.get("subjectAltName", ())),
        not_after=iso_from_epoch(expires),
        days_to_expiry=(expires - time.time()) / 86_400,
    )
