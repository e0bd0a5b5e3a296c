"""The egress guard: where the fan-out may connect, decided on the address actually used.

Callers choose the URLs, so every request (and every redirect hop) passes two checks:

1. **URL check** (``EgressPolicy.check_url``, in each transport's ``handle_async_request``,
   before any I/O): scheme ``http``/``https`` only, no userinfo, port 1-65535, a
   well-formed host (httpx has already lower-cased and IDNA-encoded it; one trailing dot
   is dropped; ``%``, zone ids and other characters are refused). A host that is a
   number is read as the C library reads it (``inet_aton``: ``2130706433``,
   ``0x7f.1``, ``0177.0.0.1``, ``127.1``) and checked now; the request then goes to
   the canonical dotted quad, so no component can read it differently later.
2. **Address check** (``EgressPolicy.resolve`` / ``check_address``, where the
   connection is made): a name is resolved once per run (``CheckedLookups``: c-ares on the
   run's loop, ``fanout.dns``, or the injected ``Resolver``), *every* A/AAAA answer is
   classified, and the connection is made to exactly those checked addresses. If any
   answer is blocked the host is refused (``address_blocked:<category>``) rather than
   the blocked answers being dropped: a name that mixes public and internal answers is
   either broken or an attack, and
   refusing it gives one deterministic outcome. With no second lookup there is no
   DNS-rebinding window. ``fanout.transport`` wires this into aiohttp (a resolver
   plus a socket factory that re-checks every socket address) and into httpcore (a
   network backend that resolves, checks and connects to the checked IP).

Refusals raise ``EgressBlocked(reason, message)``; the fetcher reports
``"outcome": "blocked"`` with ``error.type`` = the reason:

==========================  ===========================================================
reason                      meaning
==========================  ===========================================================
``scheme_not_allowed``      not ``http`` or ``https``
``userinfo_not_allowed``    the URL carries ``user[:password]@``
``port_not_allowed``        port 0 or above 65535
``host_invalid``            empty, malformed, percent-encoded or zone-scoped host
``url_invalid``             httpx cannot parse the URL at all (reported by the fetcher)
``address_blocked:<cat>``   the host is, or resolves to, an address in a blocked range
==========================  ===========================================================

The address table (``RULES``, first match wins, most specific first). ``embeds`` rows
are judged by the IPv4 address inside them (Teredo by both its server and its client
address; either blocked blocks it):

=====================  ====================  ==============================================
network                category / action     what it is
=====================  ====================  ==============================================
0.0.0.0/32             unspecified           "this host" (connects to the local machine)
0.0.0.0/8              this_network          RFC 1122 "this network"
10.0.0.0/8             private               RFC 1918
100.64.0.0/10          cgnat                 RFC 6598 shared address space (carrier NAT)
127.0.0.0/8            loopback              RFC 1122 (the Lambda runtime API lives here)
169.254.0.0/16         link_local            RFC 3927 (instance metadata, ECS/EKS creds)
172.16.0.0/12          private               RFC 1918
192.0.0.0/24           ietf_protocol         RFC 6890 IETF protocol assignments
192.0.2.0/24           documentation         RFC 5737 TEST-NET-1
192.88.99.0/24         reserved              RFC 7526 deprecated 6to4 relay anycast
192.168.0.0/16         private               RFC 1918
198.18.0.0/15          benchmarking          RFC 2544
198.51.100.0/24        documentation         RFC 5737 TEST-NET-2
203.0.113.0/24         documentation         RFC 5737 TEST-NET-3
224.0.0.0/4            multicast             RFC 5771
255.255.255.255/32     broadcast             RFC 919 limited broadcast
240.0.0.0/4            reserved              RFC 1112 class E
0.0.0.0/0              allowed               the rest of IPv4
::/128                 unspecified           RFC 4291
::1/128                loopback              RFC 4291
::ffff:0:0/96          embeds IPv4           IPv4-mapped: the last 32 bits
::/96                  embeds IPv4           IPv4-compatible (deprecated): the last 32 bits
64:ff9b::/96           embeds IPv4           RFC 6052 NAT64 well-known prefix: last 32 bits
64:ff9b:1::/48         local_nat64           RFC 8215 local-use NAT64: the position of the
                                             IPv4 inside is operator-defined, so refused
100::/64               discard               RFC 6666 discard-only
2001::/32              embeds IPv4           Teredo: server = bits 32-63, client = the last
                                             32 bits XOR 0xffffffff
2001:2::/48            benchmarking          RFC 5180
2001::/23              ietf_protocol         RFC 2928 IETF protocol assignments (ORCHID...)
2001:db8::/32          documentation         RFC 3849
2002::/16              embeds IPv4           6to4: bits 16-47
3fff::/20              documentation         RFC 9637
fc00::/7               unique_local          RFC 4193 (incl. fd00:ec2::254, EC2 metadata)
fe80::/10              link_local            RFC 4291
fec0::/10              site_local            RFC 3879 (deprecated)
ff00::/8               multicast             RFC 4291
2000::/3               allowed               global unicast
::/0                   reserved              all other IPv6 (unassigned or special)
=====================  ====================  ==============================================

The classifier is integer arithmetic over this table only: ``ipaddress``'s
``is_private``/``is_global`` differ between Python versions and miss several rows.

``EGRESS_ALLOW_CIDRS`` (comma-separated networks, parsed once, a bad entry is a
``ConfigError`` when this module is imported) exempts networks: an address inside one,
or an IPv6 form whose embedded IPv4 is inside one, is allowed. It is for local tests
and deliberate fan-outs inside a VPC; every exempted network becomes reachable by
whoever chooses the URLs.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Final, Protocol

import httpx

from fanout.config import SETTINGS, ConfigError, Settings
from fanout.dns import AresResolver, LookupFailed, waiting_on
from fanout.errors import EgressBlocked

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

SCHEME_NOT_ALLOWED: Final = "scheme_not_allowed"
USERINFO_NOT_ALLOWED: Final = "userinfo_not_allowed"
PORT_NOT_ALLOWED: Final = "port_not_allowed"
HOST_INVALID: Final = "host_invalid"
URL_INVALID: Final = "url_invalid"
ADDRESS_BLOCKED: Final = "address_blocked"

ALLOWED_SCHEMES: Final = frozenset({"http", "https"})

_ALLOW: Final = "allowed"
_EMBEDS: Final = "embeds"

_U32: Final = 0xFFFF_FFFF


def _low32(value: int) -> tuple[int, ...]:
    return (value & _U32,)


def _teredo(value: int) -> tuple[int, ...]:
    return ((value & _U32) ^ _U32, (value >> 64) & _U32)  # client first: the destination


def _sixtofour(value: int) -> tuple[int, ...]:
    return ((value >> 80) & _U32,)


@dataclass(frozen=True, slots=True)
class Rule:
    """One row of the table: addresses in ``network`` get ``action``.

    ``action`` is a blocked category, ``"allowed"``, or ``"embeds"`` (judge by the
    IPv4 address(es) ``embedded`` extracts from the address as an integer).
    """

    network: IPNetwork
    action: str
    embedded: Callable[[int], tuple[int, ...]] | None = None

    @property
    def first(self) -> int:
        return int(self.network.network_address)

    @property
    def last(self) -> int:
        return int(self.network.broadcast_address)


def _rule(network: str, action: str, embedded: Callable[[int], tuple[int, ...]] | None = None) -> Rule:
    return Rule(ipaddress.ip_network(network), action, embedded)


RULES: Final[tuple[Rule, ...]] = (
    _rule("0.0.0.0/32", "unspecified"),
    _rule("0.0.0.0/8", "this_network"),
    _rule("10.0.0.0/8", "private"),
    _rule("100.64.0.0/10", "cgnat"),
    _rule("127.0.0.0/8", "loopback"),
    _rule("169.254.0.0/16", "link_local"),
    _rule("172.16.0.0/12", "private"),
    _rule("192.0.0.0/24", "ietf_protocol"),
    _rule("192.0.2.0/24", "documentation"),
    _rule("192.88.99.0/24", "reserved"),
    _rule("192.168.0.0/16", "private"),
    _rule("198.18.0.0/15", "benchmarking"),
    _rule("198.51.100.0/24", "documentation"),
    _rule("203.0.113.0/24", "documentation"),
    _rule("224.0.0.0/4", "multicast"),
    _rule("255.255.255.255/32", "broadcast"),
    _rule("240.0.0.0/4", "reserved"),
    _rule("0.0.0.0/0", _ALLOW),
    _rule("::/128", "unspecified"),
    _rule("::1/128", "loopback"),
    _rule("::ffff:0:0/96", _EMBEDS, _low32),
    _rule("::/96", _EMBEDS, _low32),
    _rule("64:ff9b::/96", _EMBEDS, _low32),
    _rule("64:ff9b:1::/48", "local_nat64"),
    _rule("100::/64", "discard"),
    _rule("2001::/32", _EMBEDS, _teredo),
    _rule("2001:2::/48", "benchmarking"),
    _rule("2001::/23", "ietf_protocol"),
    _rule("2001:db8::/32", "documentation"),
    _rule("2002::/16", _EMBEDS, _sixtofour),
    _rule("3fff::/20", "documentation"),
    _rule("fc00::/7", "unique_local"),
    _rule("fe80::/10", "link_local"),
    _rule("fec0::/10", "site_local"),
    _rule("ff00::/8", "multicast"),
    _rule("2000::/3", _ALLOW),
    _rule("::/0", "reserved"),
)

_V4_RULES: Final = tuple((r.first, r.last, r) for r in RULES if r.network.version == 4)
_V6_RULES: Final = tuple((r.first, r.last, r) for r in RULES if r.network.version == 6)

CATEGORIES: Final[frozenset[str]] = frozenset(r.action for r in RULES) - {_ALLOW, _EMBEDS}


def _strip_scope(address: IPAddress) -> IPAddress:
    if isinstance(address, ipaddress.IPv6Address) and address.scope_id is not None:
        return ipaddress.IPv6Address(address.packed)
    return address


def blocked_category(address: IPAddress, allowed: Sequence[IPNetwork] = ()) -> str | None:
    """The blocked category of ``address`` (e.g. ``"loopback"``), or ``None`` if allowed.

    ``allowed`` networks are exempt, and so is an IPv6 form whose embedded IPv4
    address is in one of them.
    """
    address = _strip_scope(address)
    if any(address in net for net in allowed if net.version == address.version):
        return None
    value = int(address)
    rules = _V4_RULES if address.version == 4 else _V6_RULES
    rule = next(r for first, last, r in rules if first <= value <= last)  # the /0 rows match all
    if rule.action == _ALLOW:
        return None
    if rule.embedded is None:
        return rule.action
    for inner in rule.embedded(value):
        category = blocked_category(ipaddress.IPv4Address(inner), allowed)
        if category is not None:
            return category
    return None


# inet_aton(3): 1-4 parts, each decimal, 0-prefixed octal or 0x-prefixed hex; the last
# part fills the remaining bytes (a, a.b = 8.24 bits, a.b.c = 8.8.16 bits, a.b.c.d).
_NUMERIC_PART: Final = re.compile(r"0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*")


def parse_numeric_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """``host`` read as ``inet_aton`` reads it, or ``None`` if it is not such a number."""
    parts = host.split(".")
    if not 1 <= len(parts) <= 4:
        return None
    values: list[int] = []
    for part in parts:
        if _NUMERIC_PART.fullmatch(part) is None:
            return None
        if part[:2] in ("0x", "0X"):
            values.append(int(part[2:], 16))
        elif len(part) > 1 and part[0] == "0":
            values.append(int(part[1:], 8))
        else:
            values.append(int(part))
    *head, last = values
    tail_bits = 8 * (5 - len(values))
    if any(v > 0xFF for v in head) or last >> tail_bits:
        return None
    value = 0
    for v in head:
        value = value << 8 | v
    return ipaddress.IPv4Address(value << tail_bits | last)


_LABEL: Final = re.compile(r"[a-z0-9_-]{1,63}")


def normalize_host(host: str) -> str | IPAddress:
    """A checked host: an IP address (from any literal or numeric spelling) or a name.

    Names come back lower-case without the trailing dot; anything malformed raises
    ``EgressBlocked("host_invalid")``.
    """
    host = host.strip("[]").lower() if host.startswith("[") else host.lower()
    if not host:
        raise EgressBlocked(HOST_INVALID, "the URL has no host")
    if ":" in host:
        if "%" in host:
            raise EgressBlocked(HOST_INVALID, f"IPv6 zone ids are not allowed: {host!r}")
        try:
            return ipaddress.IPv6Address(host)
        except ValueError:
            raise EgressBlocked(HOST_INVALID, f"not a valid IPv6 address: {host!r}") from None
    name = host[:-1] if host.endswith(".") else host
    labels = name.split(".")
    if len(name) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        raise EgressBlocked(HOST_INVALID, f"not a valid host name: {host!r}")
    numeric = parse_numeric_ipv4(name)
    return name if numeric is None else numeric


class Resolver(Protocol):
    """Name -> addresses (any of them may be IPv4 or IPv6). Injected in tests."""

    async def resolve(self, host: str, port: int) -> Sequence[str]: ...


class SystemResolver:
    """The system's resolver configuration through c-ares, one channel per lookup.

    The policy's default. A run binds its own channel instead (``EgressPolicy.for_run``):
    this one serves callers outside a run (tools, tests), each lookup bounded by
    ``budget_s``. Never ``getaddrinfo``: see ``fanout.dns``.
    """

    budget_s: float = 5.0

    async def resolve(self, host: str, port: int) -> Sequence[str]:
        async with AresResolver(budget_s=self.budget_s) as resolver:
            return await resolver.resolve(host, port)


def parse_cidrs(value: str, *, source: str = "EGRESS_ALLOW_CIDRS") -> tuple[IPNetwork, ...]:
    """Comma-separated networks (``10.0.0.0/8, ::1``); raises ``ConfigError`` on a bad one."""
    networks: list[IPNetwork] = []
    for item in value.split(","):
        text = item.strip()
        if not text:
            continue
        try:
            networks.append(ipaddress.ip_network(text, strict=True))
        except ValueError as exc:
            raise ConfigError(f"{source}: {text!r} is not a valid CIDR network ({exc})") from None
    return tuple(networks)


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
        if url.scheme not in ALLOWED_SCHEMES:
            shown = url.scheme or "(none)"
            raise EgressBlocked(SCHEME_NOT_ALLOWED, f"scheme {shown!r} is not allowed (http and https only)")
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
    so a run that sends many requests to one host checks it once: ~8 us saved a
    request. Refusals are raised anew each time (a fresh ``EgressBlocked``). At most
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


class CheckedLookups:
    """A run's resolutions: one per host, checked, kept ``ttl_s``; concurrent askers share it.

    Both transports resolve through this (aiohttp's own DNS cache is off). A lookup runs in
    a task of its own so that one asker's timeout does not cancel it for the others; each
    asker waits with its own deadline and marks its attempt as waiting on DNS
    (``fanout.dns.waiting_on``). Answers and refusals are kept; failures that may pass
    (timeouts, SERVFAIL) are not. ``aclose`` cancels and awaits lookups still running.
    """

    def __init__(self, policy: EgressPolicy, *, ttl_s: float = 60.0) -> None:
        self._policy = policy
        self._ttl_s = ttl_s
        self._known: dict[str, tuple[float, list[IPAddress] | BaseException]] = {}
        self._running: dict[str, asyncio.Task[list[IPAddress]]] = {}

    @property
    def policy(self) -> EgressPolicy:
        return self._policy

    async def resolve(self, host: str, port: int) -> list[IPAddress]:
        loop = asyncio.get_running_loop()
        known = self._known.get(host)
        if known is not None and known[0] > loop.time():
            if isinstance(known[1], BaseException):
                raise _fresh(known[1])
            return known[1]
        task = self._running.get(host)
        if task is None:
            task = self._running[host] = loop.create_task(self._policy.resolve(host, port))
            task.add_done_callback(lambda done: self._settle(host, done))
        with waiting_on(host):
            return await asyncio.shield(task)

    def _settle(self, host: str, task: asyncio.Task[list[IPAddress]]) -> None:
        self._running.pop(host, None)
        if task.cancelled():
            return
        failure = task.exception()  # retrieved here, whether or not anyone still waits
        if failure is None:
            self._known[host] = (asyncio.get_running_loop().time() + self._ttl_s, task.result())
        elif isinstance(failure, EgressBlocked) or (
            isinstance(failure, LookupFailed) and not (failure.timed_out or failure.temporary)
        ):
            self._known[host] = (asyncio.get_running_loop().time() + self._ttl_s, failure)

    async def aclose(self) -> None:
        tasks = list(self._running.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _fresh(failure: BaseException) -> BaseException:
    """A kept failure raised anew (an exception object carries its traceback once)."""
    if isinstance(failure, EgressBlocked):
        return EgressBlocked(failure.reason, str(failure))
    if isinstance(failure, LookupFailed):
        return LookupFailed(failure.host, failure.reason)
    return failure


def _parse_answer(answer: str, host: str) -> IPAddress:
    try:
        return _strip_scope(ipaddress.ip_address(answer))
    except ValueError:
        raise socket.gaierror(socket.EAI_FAIL, f"{host!r} resolved to a non-address {answer!r}") from None


def _unique(addresses: Iterable[IPAddress]) -> list[IPAddress]:
    return list(dict.fromkeys(addresses))


@lru_cache(maxsize=8)
def policy_for(settings: Settings) -> EgressPolicy:
    """The policy for ``settings`` (system resolver); parsed once per settings."""
    return EgressPolicy.from_settings(settings)


DEFAULT_POLICY: Final[EgressPolicy] = policy_for(SETTINGS)
