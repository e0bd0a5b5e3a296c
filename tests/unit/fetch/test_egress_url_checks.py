"""``egress.UrlChecks``: ``check_url`` once per scheme/userinfo/host/port in a run, same verdicts."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from fanout.errors import EgressBlocked
from fanout.fetch.egress.policy import EgressPolicy, UrlChecks

URLS = [
    "https://example.com/a",
    "https://example.com/b?q=1",
    "https://EXAMPLE.com./c",
    "http://example.com:8080/d",
    "http://2130706433/",  # 127.0.0.1 spelled as a number: blocked
    "http://8.8.8.8/x",
    "http://0x8.0x8.0x8.0x8/y",  # 8.8.8.8 in hex: allowed, sent to the dotted quad
    "http://134744072/z",  # 8.8.8.8 as one number
    "http://[::1]/",
    "http://169.254.169.254/latest/meta-data/",
    "ftp://example.com/",
    "https://user:pw@example.com/",
    "https://example.com:0/",
    "http://exa%41mple.com/",
    "not a url",
    "example.com/no-scheme",
]


class Counting:
    """A policy that counts ``check_url`` calls."""

    def __init__(self, policy: EgressPolicy) -> None:
        self.policy = policy
        self.calls = 0

    def check_url(self, url: httpx.URL) -> httpx.URL:
        self.calls += 1
        return self.policy.check_url(url)


def verdict(check: Any, url: httpx.URL) -> tuple[str, str]:
    try:
        return ("ok", str(check(url)))
    except EgressBlocked as exc:
        return (exc.reason, str(exc))


@pytest.mark.parametrize("text", URLS)
def test_cached_verdicts_are_the_policy_s_own(text: str) -> None:
    policy = EgressPolicy()
    checks = policy.url_checks()
    url = httpx.URL(text)
    expected = verdict(policy.check_url, url)
    assert verdict(checks, url) == expected  # first: checked
    assert verdict(checks, url) == expected  # then: remembered
    assert verdict(checks, httpx.URL(text + "#frag")) == verdict(policy.check_url, httpx.URL(text + "#frag"))


def test_the_policy_is_asked_once_per_scheme_userinfo_host_and_port() -> None:
    counting = Counting(EgressPolicy())
    checks = UrlChecks(counting)  # type: ignore[arg-type]
    for i in range(50):
        checks(httpx.URL(f"https://example.com/page/{i}?q={i}"))
    assert counting.calls == 1
    checks(httpx.URL("https://example.com:8443/"))
    checks(httpx.URL("http://example.com/"))
    checks(httpx.URL("https://other.example.com/"))
    with pytest.raises(EgressBlocked):
        checks(httpx.URL("https://u@example.com/"))
    assert counting.calls == 5


def test_a_refusal_is_raised_afresh_every_time() -> None:
    checks = EgressPolicy().url_checks()
    url = httpx.URL("http://127.0.0.1/")
    with pytest.raises(EgressBlocked) as first:
        checks(url)
    with pytest.raises(EgressBlocked) as second:
        checks(url)
    assert first.value is not second.value
    assert first.value.reason == second.value.reason == "address_blocked:loopback"


def test_numeric_hosts_are_still_sent_to_the_canonical_address() -> None:
    checks = EgressPolicy().url_checks()
    for _ in range(2):
        assert checks(httpx.URL("http://0x8.0x8.0x8.0x8:8080/p?q")) == httpx.URL("http://8.8.8.8:8080/p?q")


def test_the_cache_is_bounded() -> None:
    counting = Counting(EgressPolicy())
    checks = UrlChecks(counting)  # type: ignore[arg-type]
    for i in range(UrlChecks.MAX_VERDICTS + 10):
        checks(httpx.URL(f"https://h{i}.example.com/"))
    assert len(checks._verdicts) == UrlChecks.MAX_VERDICTS
    before = counting.calls
    checks(httpx.URL(f"https://h{UrlChecks.MAX_VERDICTS + 5}.example.com/"))  # not remembered
    checks(httpx.URL("https://h0.example.com/"))  # remembered
    assert counting.calls == before + 1
