"""A run's host keys (``runs.url_jobs.HostKeys``): looked up by the URL's head, they are
``core.urls.host_key`` of every URL, one object per key."""

from __future__ import annotations

from fanout.core.urls import host_key
from fanout.runs.url_jobs import HostKeys

URLS = [
    "http://example.com/a",
    "http://EXAMPLE.com:80/b?q=1",
    "HTTP://Example.COM",
    "http://example.com?x=/y",  # a query before any path: the head ends inside it
    "http://example.com?x=/z",
    "http://example.com#frag/ment",
    "http://user:pw@example.com/",
    "http://user:pw@example.com:8080/",
    "https://example.com/",
    "https://example.com:443/x",
    "http://[::1]:8080/",
    "http://[::1]:8080/x?i=1",
    "http://127.0.0.1:8000/ok?i=1",
    "http://127.0.0.1:8000/ok?i=2",
    "http://localhost:8000/",
    "http://München.de/",
    "http://xn--mnchen-3ya.de/x",
    "http://example.com:99999/",  # no valid port: no group
    "http://example.com:99999/other",
    "not a url",
    "http:/x?y=http://z/",  # no authority; another URL's authority in the query
    "http:/x?y=http://z/w",
]


def test_each_urls_key_is_its_host_key_whatever_came_before() -> None:
    for order in (URLS, URLS[::-1], URLS[1::2] + URLS[::2]):
        keys = HostKeys()
        assert [keys.of(u) for u in order] == [host_key(u) for u in order]


def test_urls_of_one_origin_share_one_key_object() -> None:
    keys = HostKeys()
    a, b, c = (keys.of(u) for u in ("http://example.com/a", "http://EXAMPLE.com:80/b", "HTTP://Example.COM"))
    assert a is b is c
