"""The per-host concurrency group of a URL (``service.host_key``)."""

from __future__ import annotations

import pytest

from fanout.core.urls import host_key


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("http://example.com/a", "http://EXAMPLE.com:80/b?q=1"),
        ("https://example.com/", "https://example.com:443/x"),
        ("HTTP://Example.COM", "http://example.com/"),
        ("http://user:pw@example.com/", "http://example.com/"),
        ("http://[::1]:8080/", "http://[::1]:8080/x"),
        # An international name and its IDNA form (as httpx sends it, and names a redirect's host).
        ("http://München.de/", "http://xn--mnchen-3ya.de:80/"),
        ("https://bücher.example/a", "https://xn--bcher-kva.example/"),
    ],
)
def test_same_host_same_group(a: str, b: str) -> None:
    assert host_key(a) == host_key(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("http://example.com/", "https://example.com/"),
        ("http://example.com/", "http://example.com:8080/"),
        ("http://example.com/", "http://www.example.com/"),
        ("http://127.0.0.1:8000/", "http://localhost:8000/"),
    ],
)
def test_different_hosts_different_groups(a: str, b: str) -> None:
    assert host_key(a) != host_key(b)


def test_an_international_name_is_keyed_by_its_idna_form() -> None:
    assert host_key("http://München.de/") == ("http", "xn--mnchen-3ya.de", 80)


def test_an_unparseable_url_still_gets_a_group() -> None:
    assert host_key("http://example.com:99999/") is None
    assert host_key("http://a\u2029b/") is None  # not a name IDNA can encode (httpx refuses it too)
    assert host_key("not a url") == ("", "", None)
