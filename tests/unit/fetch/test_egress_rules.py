"""The egress policy without the network: address classifier, numeric spellings, URL checks.

The expected verdicts come from an oracle written here from the issue's list of ranges
(and the standard library's IPv6 helpers for the embedded-IPv4 bit layouts), not from
``fanout.fetch.egress.rules``' table; hypothesis drives both across every range and spelling.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Sequence
from ipaddress import IPv4Address as V4
from ipaddress import IPv6Address as V6

import httpx
import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from fanout.config import ConfigError, Settings, load_settings, parse_cidrs
from fanout.errors import EgressBlocked
from fanout.fetch.egress import rules
from fanout.fetch.egress.policy import EgressPolicy, policy_for
from fanout.fetch.egress.rules import (
    RULES,
    IPAddress,
    IPNetwork,
    blocked_category,
    normalize_host,
    parse_numeric_ipv4,
)

U32 = 0xFFFF_FFFF

# ---------------------------------------------------------------------------- the oracle

V4_BLOCKED: list[tuple[str, str]] = [  # most specific first
    ("0.0.0.0/32", "unspecified"),
    ("255.255.255.255/32", "broadcast"),
    ("0.0.0.0/8", "this_network"),
    ("10.0.0.0/8", "private"),
    ("100.64.0.0/10", "cgnat"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link_local"),
    ("172.16.0.0/12", "private"),
    ("192.0.0.0/24", "ietf_protocol"),
    ("192.0.2.0/24", "documentation"),
    ("192.88.99.0/24", "reserved"),
    ("192.168.0.0/16", "private"),
    ("198.18.0.0/15", "benchmarking"),
    ("198.51.100.0/24", "documentation"),
    ("203.0.113.0/24", "documentation"),
    ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved"),
]
V6_BLOCKED: list[tuple[str, str]] = [  # after the exact ones and the embedded forms
    ("64:ff9b:1::/48", "local_nat64"),
    ("100::/64", "discard"),
    ("2001:2::/48", "benchmarking"),
    ("2001::/23", "ietf_protocol"),
    ("2001:db8::/32", "documentation"),
    ("3fff::/20", "documentation"),
    ("fc00::/7", "unique_local"),
    ("fe80::/10", "link_local"),
    ("fec0::/10", "site_local"),
    ("ff00::/8", "multicast"),
]
EMBEDDING_PREFIXES = ["::ffff:0:0/96", "::/96", "64:ff9b::/96", "2001::/32", "2002::/16"]
GLOBAL_UNICAST = ipaddress.ip_network("2000::/3")


def _net(text: str) -> IPNetwork:
    return ipaddress.ip_network(text)


def expected(address: IPAddress, allowed: Sequence[IPNetwork] = ()) -> str | None:
    """The verdict the issue asks for, computed independently of ``fanout.egress``."""
    if any(address.version == n.version and address in n for n in allowed):
        return None
    if isinstance(address, V4):
        return next((cat for net, cat in V4_BLOCKED if address in _net(net)), None)
    if address == V6("::"):
        return "unspecified"
    if address == V6("::1"):
        return "loopback"
    inside: list[V4] = []
    if address.ipv4_mapped is not None:
        inside = [address.ipv4_mapped]
    elif address in _net("::/96") or address in _net("64:ff9b::/96"):
        inside = [V4(int(address) & U32)]
    elif address.teredo is not None:
        server, client = address.teredo
        inside = [client, server]
    elif address.sixtofour is not None:
        inside = [address.sixtofour]
    if inside:
        return next((c for c in (expected(v4, allowed) for v4 in inside) if c is not None), None)
    for net, cat in V6_BLOCKED:
        if address in _net(net):
            return cat
    return None if address in GLOBAL_UNICAST else "reserved"


def _in(net: str) -> st.SearchStrategy[int]:
    n = _net(net)
    return st.integers(int(n.network_address), int(n.broadcast_address))


ALL_V4_NETS = [net for net, _ in V4_BLOCKED] + ["0.0.0.0/0"]
ALL_V6_NETS = [net for net, _ in V6_BLOCKED] + EMBEDDING_PREFIXES + ["2000::/3", "::/0", "::/120"]

v4_ints = st.one_of(st.integers(0, U32), st.sampled_from(ALL_V4_NETS).flatmap(_in))
v4s = v4_ints.map(V4)
public_v4s = st.one_of(
    st.integers(int(V4("1.0.0.0")), int(V4("9.255.255.255"))),
    st.integers(int(V4("11.0.0.0")), int(V4("100.63.255.255"))),
).map(V4)
v6s = st.one_of(st.integers(0, 2**128 - 1), st.sampled_from(ALL_V6_NETS).flatmap(_in)).map(V6)


# ------------------------------------------------------------------ the table itself


def test_every_rule_is_documented_in_the_module_docstring() -> None:
    doc = rules.__doc__ or ""
    for rule in RULES:
        assert str(rule.network) in doc, f"{rule.network} is missing from the egress docstring"


def test_no_rule_is_shadowed_by_an_earlier_broader_one() -> None:
    for i, earlier in enumerate(RULES):
        for later in RULES[i + 1 :]:
            if earlier.network.version == later.network.version:
                assert not later.network.subnet_of(earlier.network), (  # type: ignore[arg-type]
                    f"{later.network} can never match: {earlier.network} comes first"
                )


def test_both_families_end_with_a_catch_all() -> None:
    tails = [r.network for r in RULES if r.network.prefixlen == 0]
    assert sorted(str(n) for n in tails) == ["0.0.0.0/0", "::/0"]


# --------------------------------------------------------------------- the classifier


@given(v4s)
@example(V4("0.0.0.0"))
@example(V4("255.255.255.255"))
@example(V4("169.254.169.254"))
@example(V4("100.100.100.200"))
@example(V4("192.0.0.192"))
def test_ipv4_classification_matches_the_oracle(address: V4) -> None:
    assert blocked_category(address) == expected(address)


@given(v6s)
@example(V6("fd00:ec2::254"))
@example(V6("::"))
@example(V6("::1"))
@example(V6("::ffff:169.254.169.254"))
@example(V6("64:ff9b::a9fe:a9fe"))
@example(V6("fec0::1"))
@example(V6("5f00::1"))
@example(V6("2001::"))  # Teredo: server 0.0.0.0, client 255.255.255.255 (the client is judged first)
def test_ipv6_classification_matches_the_oracle(address: V6) -> None:
    assert blocked_category(address) == expected(address)


@given(st.sampled_from(V4_BLOCKED).flatmap(lambda row: st.tuples(st.just(row), _in(row[0]))))
def test_every_address_of_every_blocked_ipv4_range_is_blocked(row: tuple[tuple[str, str], int]) -> None:
    (_net_text, _category), value = row
    assert blocked_category(V4(value)) is not None


@given(st.sampled_from(V6_BLOCKED).flatmap(lambda row: st.tuples(st.just(row), _in(row[0]))))
def test_every_address_of_every_blocked_ipv6_range_is_blocked(row: tuple[tuple[str, str], int]) -> None:
    (_net_text, _category), value = row
    address = V6(value)
    assume(address not in _net("2001::/32"))  # Teredo inside 2001::/23 is judged by its IPv4
    assert blocked_category(address) is not None


@given(v4s.filter(lambda a: int(a) > 1), st.integers(0, 2**80 - 1), public_v4s, st.integers(0, U32))
def test_ipv6_forms_embedding_ipv4_are_judged_by_the_ipv4_inside(
    inner: V4, low80: int, server: V4, flags_port: int
) -> None:
    assert expected(server) is None
    v = int(inner)
    forms = {
        "mapped": V6(0xFFFF << 32 | v),
        "compatible": V6(v),
        "nat64": V6(0x64FF9B << 96 | v),
        "6to4": V6(0x2002 << 112 | v << 80 | low80),
        "teredo client": V6(0x2001_0000 << 96 | int(server) << 64 | flags_port << 32 | (v ^ U32)),
        "teredo server": V6(0x2001_0000 << 96 | v << 64 | flags_port << 32 | (int(server) ^ U32)),
    }
    want = expected(inner)
    for name, form in forms.items():
        assert blocked_category(form) == want, f"{name} form {form} of {inner}"


def test_classification_does_not_depend_on_ipaddress_is_private() -> None:
    # Rows that Python's is_private / is_global get wrong or change between versions.
    cases = {
        "100.64.0.1": "cgnat",
        "224.0.0.1": "multicast",
        "192.0.0.9": "ietf_protocol",
        "192.88.99.1": "reserved",
        "::ffff:10.0.0.1": "private",
        "2002:7f00:1::": "loopback",
        "2001:0:4136:e378:8000:63bf:80ff:fffe": "loopback",  # Teredo, client 127.0.0.1
        "64:ff9b::7f00:1": "loopback",
        "fec0::1": "site_local",
    }
    for text, category in cases.items():
        assert blocked_category(ipaddress.ip_address(text)) == category, text


@given(st.one_of(v4s, v6s))
def test_whatever_we_allow_the_standard_library_also_calls_public(address: IPAddress) -> None:
    # One direction only: stdlib's notion of "private" is a subset of what we block
    # (except forms embedding a public IPv4, which stdlib calls private wholesale).
    assume(not any(address.version == 6 and address in _net(p) for p in EMBEDDING_PREFIXES))
    if blocked_category(address) is None:
        for flag in ("is_private", "is_loopback", "is_link_local", "is_multicast", "is_unspecified"):
            assert not getattr(address, flag), f"{address} allowed but {flag}"
        assert not address.is_reserved or address.version == 6


@given(st.one_of(v4s, v6s), st.lists(st.one_of(v4s, v6s), max_size=3), st.data())
def test_exempted_networks_are_allowed_and_nothing_else_changes(
    address: IPAddress, seeds: list[IPAddress], data: st.DataObject
) -> None:
    allowed: list[IPNetwork] = []
    for seed in seeds:
        bits = 32 if seed.version == 4 else 128
        prefix = data.draw(st.integers(bits // 2, bits))
        allowed.append(ipaddress.ip_network(f"{seed}/{prefix}", strict=False))
    assert blocked_category(address, allowed) == expected(address, allowed)


def test_exemption_covers_the_ipv4_inside_ipv6_forms() -> None:
    allowed = parse_cidrs("127.0.0.0/8")
    assert blocked_category(V6("::ffff:127.0.0.1"), allowed) is None
    assert blocked_category(V6("::1"), allowed) == "loopback"  # ::1 is not 127.0.0.0/8
    assert blocked_category(V4("10.0.0.1"), allowed) == "private"


def test_zone_ids_are_ignored_by_the_classifier() -> None:
    assert blocked_category(V6("fe80::1%eth0")) == "link_local"
    assert blocked_category(V6("::ffff:127.0.0.1%1")) == "loopback"


# ---------------------------------------------------------------- numeric spellings


@st.composite
def spellings(draw: st.DrawFn, value: int) -> str:
    """``value`` as inet_aton(3) accepts it: 1-4 parts, each decimal, octal or hex."""
    count = draw(st.integers(1, 4))
    tail_bits = 8 * (5 - count)
    head = [(value >> (32 - 8 * (i + 1))) & 0xFF for i in range(count - 1)]
    parts = [*head, value & ((1 << tail_bits) - 1)]
    rendered = []
    for part in parts:
        base = draw(st.sampled_from(["dec", "oct", "hex"]))
        zeros = "0" * draw(st.integers(0, 3))
        if base == "dec":
            rendered.append(str(part))
        elif base == "oct":
            rendered.append("0" + zeros + format(part, "o"))
        else:
            digits = format(part, "x")
            digits = digits.upper() if draw(st.booleans()) else digits
            rendered.append(draw(st.sampled_from(["0x", "0X"])) + zeros + digits)
    return ".".join(rendered)


numeric_hosts = v4_ints.flatmap(lambda v: st.tuples(st.just(V4(v)), spellings(v)))


@given(numeric_hosts)
@example((V4("127.0.0.1"), "2130706433"))
@example((V4("127.0.0.1"), "0x7f000001"))
@example((V4("127.0.0.1"), "017700000001"))
@example((V4("127.0.0.1"), "0177.0.0.1"))
@example((V4("127.0.0.1"), "0x7f.1"))
@example((V4("127.0.0.1"), "127.1"))
@example((V4("127.0.0.1"), "127.0.1"))
@example((V4("127.0.0.1"), "127.000000000000000.1"))
@example((V4("0.0.0.0"), "0"))
@example((V4("0.0.0.0"), "00000"))
@example((V4("169.254.169.254"), "0xa9fea9fe"))
@example((V4("169.254.169.254"), "2852039166"))
@example((V4("169.254.169.254"), "0251.0376.0251.0376"))
def test_numeric_spellings_read_as_the_c_library_reads_them(case: tuple[V4, str]) -> None:
    address, spelling = case
    assert socket.inet_aton(spelling) == address.packed  # the C library agrees
    assert parse_numeric_ipv4(spelling) == address
    assert normalize_host(spelling) == address
    assert normalize_host(spelling.upper() + ".") == address  # case and trailing dot


@given(st.text(alphabet="0123456789abcdefxX.", min_size=1, max_size=16))
@example("0x")
@example("08")
@example("1.2.3.256")
@example("4294967296")
@example("1..1")
@example("127.0.0.1.")
def test_the_numeric_parser_accepts_exactly_what_inet_aton_accepts(text: str) -> None:
    try:
        reference: bytes | None = socket.inet_aton(text)
    except OSError:
        reference = None
    parsed = parse_numeric_ipv4(text)
    assert (parsed.packed if parsed is not None else None) == reference


POLICY = EgressPolicy()


@given(numeric_hosts, st.booleans())
def test_check_url_judges_every_numeric_spelling_by_its_address(case: tuple[V4, str], dot: bool) -> None:
    address, spelling = case
    try:
        url = httpx.URL(f"http://{spelling}{'.' if dot else ''}:8080/x")
    except httpx.InvalidURL:
        return  # httpx refuses it: the fetcher reports ``blocked``/``url_invalid``
    category = expected(address)
    if category is None:
        checked = POLICY.check_url(url)
        assert checked.host == str(address)  # sent to the canonical dotted quad
        assert checked.port == 8080
        assert checked.path == "/x"
    else:
        with pytest.raises(EgressBlocked) as info:
            POLICY.check_url(url)
        assert info.value.reason == f"address_blocked:{category}"


# ------------------------------------------------------------------------ URL checks

BLOCKED_URLS: list[tuple[str, str]] = [
    # scheme, userinfo, port
    ("ftp://example.com/", "scheme_not_allowed"),
    ("file:///etc/passwd", "scheme_not_allowed"),
    ("gopher://127.0.0.1:70/_x", "scheme_not_allowed"),
    ("dict://127.0.0.1:11211/stat", "scheme_not_allowed"),
    ("mailto:someone@example.com", "scheme_not_allowed"),
    # not a URL at all: no scheme
    ("not a url", "url_invalid"),
    ("example.com/no-scheme", "url_invalid"),
    ("//example.com/", "url_invalid"),
    ("/just/a/path", "url_invalid"),
    ("", "url_invalid"),
    ("http://user:pw@example.com/", "userinfo_not_allowed"),
    ("http://example.com@127.0.0.1/", "userinfo_not_allowed"),
    ("http://127.0.0.1\\@example.com/", "userinfo_not_allowed"),
    ("http://a.b@127.0.0.1:80@example.com/", "userinfo_not_allowed"),
    ("http://example.com:0/", "port_not_allowed"),
    ("http://example.com:65536/", "port_not_allowed"),
    # host syntax
    ("http:@0/", "host_invalid"),
    ("http:/example.com/", "host_invalid"),
    ("http://%31%32%37.0.0.1/", "host_invalid"),
    ("http://127.0.0.1%00.example.com/", "host_invalid"),
    ("http://exa mple.com/", "host_invalid"),
    ("http://[fe80::1%25eth0]/", "host_invalid"),
    ("http://localhost../", "host_invalid"),
    # addresses, in every spelling
    ("http://127.0.0.1/", "address_blocked:loopback"),
    ("http://127.1/", "address_blocked:loopback"),
    ("http://127.0.1/", "address_blocked:loopback"),
    ("http://2130706433/", "address_blocked:loopback"),
    ("http://0x7f000001/", "address_blocked:loopback"),
    ("http://017700000001/", "address_blocked:loopback"),
    ("http://0x7f.0x0.0x0.0x1/", "address_blocked:loopback"),
    ("http://0x000000000007f.0x0000.0x0000.0x0000000000000000000001/", "address_blocked:loopback"),
    ("http://127.000000000000000.1/", "address_blocked:loopback"),
    ("http://127.0.0.1./", "address_blocked:loopback"),
    ("http://127\u30020\u30020\u30021/", "address_blocked:loopback"),  # ideographic full stops
    ("http://127.127.127.127/", "address_blocked:loopback"),
    ("http://0/", "address_blocked:unspecified"),
    ("http://0.0.0.0/", "address_blocked:unspecified"),
    ("http://[::]/", "address_blocked:unspecified"),
    ("http://[::1]/", "address_blocked:loopback"),
    ("http://[0000::1]/", "address_blocked:loopback"),
    ("http://[0:0:0:0:0:0:0:1]/", "address_blocked:loopback"),
    ("http://[::ffff:127.0.0.1]/", "address_blocked:loopback"),
    ("http://[::ffff:7f00:1]/", "address_blocked:loopback"),
    ("http://[0:0:0:0:0:ffff:127.0.0.1]/", "address_blocked:loopback"),
    ("http://[::127.0.0.1]/", "address_blocked:loopback"),
    ("http://[64:ff9b::127.0.0.1]/", "address_blocked:loopback"),
    ("http://[2002:7f00:1::]/", "address_blocked:loopback"),
    ("http://169.254.169.254/latest/meta-data/", "address_blocked:link_local"),
    ("http://169.254.170.2/v2/credentials", "address_blocked:link_local"),
    ("http://0xa9fea9fe/", "address_blocked:link_local"),
    ("http://2852039166/", "address_blocked:link_local"),
    ("http://[::ffff:a9fe:a9fe]/", "address_blocked:link_local"),
    ("http://[::ffff:169.254.169.254]/", "address_blocked:link_local"),
    ("http://[fd00:ec2::254]/latest/meta-data/", "address_blocked:unique_local"),
    ("http://100.100.100.200/", "address_blocked:cgnat"),
    ("http://192.0.0.192/", "address_blocked:ietf_protocol"),
    ("http://10.0.0.1/", "address_blocked:private"),
    ("http://172.16.0.1/", "address_blocked:private"),
    ("http://192.168.1.1/", "address_blocked:private"),
    ("http://3232235777/", "address_blocked:private"),
    ("http://0xc0a80014/", "address_blocked:private"),
    ("http://[fe80::1]/", "address_blocked:link_local"),
    ("http://[ff02::1]/", "address_blocked:multicast"),
    ("http://224.0.0.1/", "address_blocked:multicast"),
    ("http://255.255.255.255/", "address_blocked:broadcast"),
    ("http://240.0.0.1/", "address_blocked:reserved"),
    ("http://198.18.0.1/", "address_blocked:benchmarking"),
    ("http://192.0.2.1/", "address_blocked:documentation"),
    ("http://[2001:db8::1]/", "address_blocked:documentation"),
]


@pytest.mark.parametrize(("url", "reason"), BLOCKED_URLS)
def test_check_url_refuses_bypass_spellings(url: str, reason: str) -> None:
    with pytest.raises(EgressBlocked) as info:
        POLICY.check_url(httpx.URL(url))
    assert info.value.reason == reason
    assert str(info.value)


def test_an_entry_that_is_not_a_url_says_so_not_that_its_scheme_is_refused() -> None:
    with pytest.raises(EgressBlocked) as info:
        POLICY.check_url(httpx.URL("not a url"))
    assert info.value.reason == "url_invalid"
    assert str(info.value) == "not a valid URL: no scheme (an absolute http or https URL)"
    with pytest.raises(EgressBlocked) as info:
        POLICY.check_url(httpx.URL("ftp://example.com/"))
    assert str(info.value) == "scheme 'ftp' is not allowed (http and https only)"


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/",
        "https://EXAMPLE.com./path?q=1",
        "http://example.com:65535/",
        "http://example.com:1/",
        "http://xn--e1afmkfd.xn--p1ai/",
        "http://\u043f\u0440\u0438\u043c\u0435\u0440.\u0440\u0444/",  # IDNA
        "http://127.0.0.1.nip.io/",  # a name: judged by what it resolves to, at connect time
        "http://8.8.8.8/",
        "http://134744072/",  # 8.8.8.8
        "http://[2606:4700:4700::1111]/",
        "http://[::ffff:8.8.8.8]/",
    ],
)
def test_check_url_lets_public_destinations_through(url: str) -> None:
    POLICY.check_url(httpx.URL(url))


def test_check_url_makes_numeric_hosts_canonical_and_keeps_the_rest() -> None:
    url = POLICY.check_url(httpx.URL("https://134744072:8443/a/b?c=d#e"))
    assert str(url) == "https://8.8.8.8:8443/a/b?c=d#e"
    name = httpx.URL("http://Example.COM./x")
    assert POLICY.check_url(name) is name


def test_host_normalisation() -> None:
    assert normalize_host("LOCALHOST.") == "localhost"
    assert normalize_host("[::1]") == V6("::1")
    assert normalize_host("0x7F.1") == V4("127.0.0.1")
    for bad in ["", ".", "a..b", ".a", "a b", "a%2e", "a/b", "x" * 64 + ".com", "fe80::1%eth0", "1:2"]:
        with pytest.raises(EgressBlocked) as info:
            normalize_host(bad)
        assert info.value.reason == "host_invalid", bad


# ------------------------------------------------------------------ allow-list config


def test_parse_cidrs() -> None:
    assert parse_cidrs("") == ()
    assert parse_cidrs(" 10.0.0.0/8 , ::1/128,,127.0.0.1 ") == (
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("::1/128"),
        ipaddress.ip_network("127.0.0.1/32"),
    )


@pytest.mark.parametrize("bad", ["10.0.0.1/8", "nonsense", "10.0.0.0/33", "::1/129", "10.0.0.0/8;x"])
def test_a_bad_cidr_is_a_config_error_naming_the_variable(bad: str) -> None:
    with pytest.raises(ConfigError, match=r"EGRESS_ALLOW_CIDRS: .* is not a valid CIDR"):
        parse_cidrs(f"127.0.0.0/8,{bad}")
    with pytest.raises(ValueError, match="EGRESS_ALLOW_CIDRS"):  # settings with one cannot be made
        EgressPolicy.from_settings(Settings(egress_allow_cidrs=bad))
    with pytest.raises(ConfigError, match="EGRESS_ALLOW_CIDRS"):  # at cold start, with the other settings
        load_settings({"EGRESS_ALLOW_CIDRS": bad})


def test_policy_for_settings_is_parsed_once() -> None:
    settings = Settings(egress_allow_cidrs="10.0.0.0/8")
    assert policy_for(settings) is policy_for(settings)
    assert policy_for(settings).allowed == (ipaddress.ip_network("10.0.0.0/8"),)
    assert policy_for(Settings()).allowed == ()


# ------------------------------------------------------- resolution (injected resolver)


class FakeResolver:
    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers
        self.calls: list[str] = []

    async def resolve(self, host: str, port: int) -> Sequence[str]:
        self.calls.append(host)
        return self.answers.get(host, [])


def _resolve(policy: EgressPolicy, host: str) -> list[IPAddress]:
    return asyncio.run(policy.resolve(host, 80))


def test_resolve_checks_every_answer_and_refuses_the_host_if_any_is_blocked() -> None:
    resolver = FakeResolver(
        {
            "public.test": ["8.8.8.8", "2606:4700:4700::1111", "8.8.8.8"],
            "mixed.test": ["8.8.8.8", "169.254.169.254"],
            "mixed6.test": ["8.8.8.8", "::ffff:10.1.2.3"],
            "scoped.test": ["fe80::1%2"],
            "junk.test": ["not-an-ip"],
        }
    )
    policy = EgressPolicy(resolver=resolver)
    assert _resolve(policy, "PUBLIC.test.") == [V4("8.8.8.8"), V6("2606:4700:4700::1111")]
    for host, reason in [
        ("mixed.test", "address_blocked:link_local"),
        ("mixed6.test", "address_blocked:private"),
        ("scoped.test", "address_blocked:link_local"),
    ]:
        with pytest.raises(EgressBlocked) as info:
            _resolve(policy, host)
        assert info.value.reason == reason
        assert host in str(info.value)
    with pytest.raises(socket.gaierror):
        _resolve(policy, "junk.test")
    with pytest.raises(socket.gaierror):
        _resolve(policy, "nothing.test")
    assert resolver.calls == [
        "public.test",
        "mixed.test",
        "mixed6.test",
        "scoped.test",
        "junk.test",
        "nothing.test",
    ]


def test_numeric_hosts_never_reach_the_resolver() -> None:
    resolver = FakeResolver({})
    policy = EgressPolicy(parse_cidrs("127.0.0.0/8"), resolver)
    assert _resolve(policy, "0x7f.1") == [V4("127.0.0.1")]
    assert _resolve(policy, "::ffff:127.0.0.1") == [V6("::ffff:127.0.0.1")]
    with pytest.raises(EgressBlocked):
        _resolve(policy, "2852039166")
    assert resolver.calls == []


def test_the_system_resolver_resolves_localhost_to_loopback() -> None:
    with pytest.raises(EgressBlocked) as info:
        _resolve(EgressPolicy(), "localhost")
    assert info.value.reason == "address_blocked:loopback"
