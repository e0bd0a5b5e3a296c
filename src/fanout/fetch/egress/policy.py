"""The egress guard: where the fan-out may connect, decided on the address actually used.

Callers choose the URLs, so every request (and every redirect hop) passes two checks:

1. **URL check** (``EgressPolicy.check_url``, in each transport's ``handle_async_request``,
   before any I/O): an absolute URL (a scheme), scheme ``http``/``https`` only, no userinfo, port 1-65535, a
   well-formed host (httpx has already lower-cased and IDNA-encoded it; one trailing dot
   is dropped; ``%``, zone ids and other characters are refused). A host that is a
   number is read as the C library reads it (``inet_aton``: ``2130706433``,
   ``0x7f.1``, ``0177.0.0.1``, ``127.1``) and checked now; the request then goes to
   the canonical dotted quad, so no component can read it differently later.
2. **Address check** (``EgressPolicy.resolve`` / ``check_address``, where the
   connection is made): a name is resolved once per run (``lookups.CheckedLookups``:
   c-ares on the run's loop, ``fanout.fetch.dns``, or the injected ``Resolver``), *every*
   A/AAAA answer is classified (``rules``), and the connection is made to exactly those
   checked addresses. If any answer is blocked the host is refused
   (``address_blocked:<category>``) rather than the blocked answers being dropped: a name
   that mixes public and internal answers is either broken or an attack, and refusing it
   gives one deterministic outcome. With no second lookup there is no DNS-rebinding
   window. ``fanout.fetch.transports`` wire this into aiohttp (a resolver plus a socket
   factory that re-checks every socket address) and into httpcore (a network backend
   that resolves, checks and connects to the checked IP).

Refusals raise ``EgressBlocked(reason, message)``; the fetcher reports
``"outcome": "blocked"`` with ``error.type`` = the reason:

==========================  ===========================================================
reason                      meaning
==========================  ===========================================================
``scheme_not_allowed``      not ``http`` or ``https``
``userinfo_not_allowed``    the URL carries ``user[:password]@``
``port_not_allowed``        port 0 or above 65535
``host_invalid``            empty, malformed, percent-encoded or zone-scoped host
``url_invalid``             not a URL at all: no scheme (``not a url``, ``example.com/``), or httpx
                            cannot parse it (reported by the fetcher)
``address_blocked:<cat>``   the host is, or resolves to, an address in a blocked range
==========================  ===========================================================
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Final, Protocol

import httpx

from fanout.config import Settings, parse_cidrs
from fanout.errors import EgressBlocked
from fanout.fetch.dns import AresResolver
from fanout.fetch.egress.rules import (
    ADDRESS_BLOCKED,
    ALLOWED_SCHEMES,
    PORT_NOT_ALLOWED,
    SCHEME_NOT_ALLOWED,
    URL_INVALID,
    USERINFO_NOT_ALLOWED,
    IPAddress,
    IPNetwork,
    blocked_category,
    normalize_host,
    strip_scope,
)


class Resolver(Protocol):
    """Name -> addresses (any of them may be IPv4 or IPv6). Injected in tests."""

    async def resolve(self, host: str, port: int) -> Sequence[str]: ...


class SystemResolver:
    """The system's resolver configuration through c-ares, one channel per lookup.

    The policy's default. A run binds its own channel instead (``EgressPolicy.for_run``):
    this one serves callers outside a run (tools, tests), each lookup bounded by
    ``budget_s``. Never ``getaddrinfo``: see ``fanout.fetch.dns``.
    """

    budget_s: float = 5.0

    async def resolve(self, host: str, port: int) -> Sequence[str]:
        async with AresResolver(budget_s=self.budget_s) as resolver:
            return await resolver.resolve(host, port)


@dataclass(frozen=True, slots=True)
class EgressPolicy:
    """The egress policy of a run: the table above, exemptions, and how names resolve."""

    allowed: tuple[IPNetwork, ...] = ()
    resolver: Resolver = field(default_factory=SystemResolver)

    @classmethod
    def from_settings(cls, settings: Settings, *, resolver: Resolver | None = None) -> EgressPolicy:
        allowed = parse_cidrs(settings.egress_allow_cidrs)
        return cls(allowed) if resolver is None else cls(allowed, resolver)

    @property
    def resolves_with_system(self) -> bool:
        """True unless a resolver was injected (tests)."""
        return type(self.resolver) is SystemResolver

    def for_run(self, resolver: Resolver) -> EgressPolicy:
        """This policy resolving with the run's ``resolver``, unless a resolver was injected."""
        return EgressPolicy(self.allowed, resolver) if self.resolves_with_system else self

    def blocked_category(self, address: IPAddress) -> str | None:
        return blocked_category(address, self.allowed)

    def check_address(self, address: IPAddress, *, spelled: str = "", resolved_from: str = "") -> None:
        """Raise ``EgressBlocked("address_blocked:<category>")`` unless ``address`` is allowed.

        ``spelled`` (how the URL wrote the address) and ``resolved_from`` (the name it
        came from) only make the message clearer.
        """
        category = self.blocked_category(address)
        if category is None:
            return
        if resolved_from:
            subject = f"{resolved_from} resolves to {address}, which"
        elif spelled and spelled != str(address):
            subject = f"{spelled} means {address}, which"
        else:
            subject = str(address)
        message = f"{subject} is blocked by the egress policy ({category.replace('_', ' ')} range)"
        raise EgressBlocked(f"{ADDRESS_BLOCKED}:{category}", message)

    def check_url(self, url: httpx.URL) -> httpx.URL:
        """Every check that needs no I/O; the URL to send (numeric hosts made canonical)."""
        if not url.scheme:  # a relative reference: no scheme to refuse, nothing to fetch
            raise EgressBlocked(URL_INVALID, "not a valid URL: no scheme (an absolute http or https URL)")
        if url.scheme not in ALLOWED_SCHEMES:
            message = f"scheme {url.scheme!r} is not allowed (http and https only)"
            raise EgressBlocked(SCHEME_NOT_ALLOWED, message)
        if url.userinfo:
            raise EgressBlocked(USERINFO_NOT_ALLOWED, "URLs with user[:password]@ are not allowed")
        if url.port is not None and not 1 <= url.port <= 65535:
            raise EgressBlocked(PORT_NOT_ALLOWED, f"port {url.port} is not allowed (1-65535)")
        raw_host = url.raw_host.decode("ascii")
        host = normalize_host(raw_host)
        if isinstance(host, str):
            return url
        self.check_address(host, spelled=raw_host)
        if isinstance(host, ipaddress.IPv4Address) and raw_host != str(host):
            return url.copy_with(host=str(host))
        return url

    def url_checks(self) -> UrlChecks:
        """``check_url`` with its verdicts kept, for one run (a transport's lifetime)."""
        return UrlChecks(self)

    async def resolve(self, host: str, port: int) -> list[IPAddress]:
        """The checked addresses to connect to for ``host``: one resolution, every answer checked.

        Raises ``EgressBlocked`` if any answer is blocked, ``OSError`` if there is none.
        """
        target = normalize_host(host)
        if not isinstance(target, str):
            self.check_address(target, spelled=host)
            return [target]
        answers = await self.resolver.resolve(target, port)
        addresses = _unique(_parse_answer(answer, target) for answer in answers)
        if not addresses:
            raise socket.gaierror(socket.EAI_NONAME, f"{target!r} has no addresses")
        for address in addresses:
            self.check_address(address, resolved_from=target)
        return addresses


_UrlKey = tuple[str, bool, bytes, int | None]  # scheme, has userinfo, raw host, port
_Verdict = tuple[tuple[str, str] | None, str | None]  # refusal (reason, message), host to send to


class UrlChecks:
    """``EgressPolicy.check_url`` with its verdict kept per (scheme, userinfo, host, port).

    ``check_url`` is a pure function of those four parts of a URL (and of the policy),
    so a run that sends many requests to one host checks it once (what that saves:
    docs/benchmarks.md). Refusals are raised anew each time (a fresh ``EgressBlocked``). At most
    ``MAX_VERDICTS`` are kept; beyond that URLs are checked without being remembered.
    Only the URL check is cached: the address checks, where connections are made, run
    for every connection whatever this says.
    """

    MAX_VERDICTS: Final = 4_096

    def __init__(self, policy: EgressPolicy) -> None:
        self._policy = policy
        self._verdicts: dict[_UrlKey, _Verdict] = {}

    def __call__(self, url: httpx.URL) -> httpx.URL:
        key = (url.scheme, bool(url.userinfo), url.raw_host, url.port)
        verdict = self._verdicts.get(key)
        if verdict is None:
            try:
                checked = self._policy.check_url(url)
            except EgressBlocked as exc:
                verdict = ((exc.reason, str(exc)), None)
            else:
                verdict = (None, None if checked is url else checked.host)
            if len(self._verdicts) < self.MAX_VERDICTS:
                self._verdicts[key] = verdict
        refusal, host = verdict
        if refusal is not None:
            raise EgressBlocked(*refusal)
        return url if host is None else url.copy_with(host=host)


def _parse_answer(answer: str, host: str) -> IPAddress:
    try:
        return strip_scope(ipaddress.ip_address(answer))
    except ValueError:
        raise socket.gaierror(socket.EAI_FAIL, f"{host!r} resolved to a non-address {answer!r}") from None


def _unique(addresses: Iterable[IPAddress]) -> list[IPAddress]:
    return list(dict.fromkeys(addresses))


@lru_cache(maxsize=8)
def policy_for(settings: Settings) -> EgressPolicy:
    """The policy for ``settings`` (system resolver); parsed once per settings."""
    return EgressPolicy.from_settings(settings)
