"""The egress guard's address table and classifier: which addresses are blocked, and why.

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

``EGRESS_ALLOW_CIDRS`` (comma-separated networks, checked with the other settings: a bad
entry is a ``ConfigError`` at cold start) exempts networks: an address inside one,
or an IPv6 form whose embedded IPv4 is inside one, is allowed. It is for local tests
and deliberate fan-outs inside a VPC; every exempted network becomes reachable by
whoever chooses the URLs.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

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


def strip_scope(address: IPAddress) -> IPAddress:
    if isinstance(address, ipaddress.IPv6Address) and address.scope_id is not None:
        return ipaddress.IPv6Address(address.packed)
    return address


def blocked_category(address: IPAddress, allowed: Sequence[IPNetwork] = ()) -> str | None:
    """The blocked category of ``address`` (e.g. ``"loopback"``), or ``None`` if allowed.

    ``allowed`` networks are exempt, and so is an IPv6 form whose embedded IPv4
    address is in one of them.
    """
    address = strip_scope(address)
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
