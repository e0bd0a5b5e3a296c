"""``fetcher.redirect_request``: the next request of a redirect, by RFC 9110 section 15.4."""

from __future__ import annotations

import httpx
import pytest

from fanout.core.urls import host_key
from fanout.fetch.redirects import redirect_request, url_host_key

URL = "https://api.example.com/v1/things?x=1"


def req(method: str = "GET", url: str = URL, *, body: bytes | None = None, **headers: str) -> httpx.Request:
    return httpx.Request(method, url, headers=headers, content=body)


def redirect(status: int, location: str) -> httpx.Response:
    return httpx.Response(status, headers={"Location": location})


@pytest.mark.parametrize(
    ("status", "method", "expected"),
    [
        (301, "GET", "GET"),
        (301, "POST", "GET"),
        (301, "PUT", "PUT"),
        (302, "POST", "GET"),
        (302, "PUT", "PUT"),  # httpx (like browsers) makes every 302 a GET; RFC 9110 only POST
        (302, "DELETE", "DELETE"),
        (302, "HEAD", "HEAD"),
        (303, "POST", "GET"),
        (303, "PUT", "GET"),
        (303, "DELETE", "GET"),
        (303, "HEAD", "HEAD"),
        (307, "POST", "POST"),
        (307, "PATCH", "PATCH"),
        (308, "POST", "POST"),
        (308, "PUT", "PUT"),
    ],
)
def test_the_method_follows_rfc_9110(status: int, method: str, expected: str) -> None:
    nxt = redirect_request(req(method), redirect(status, "/next"))
    assert nxt.method == expected


@pytest.mark.parametrize("status", [307, 308, 301, 302])
def test_a_kept_method_keeps_its_body(status: int) -> None:
    original = req("PUT", body=b'{"a":1}', **{"Content-Type": "application/json"})
    nxt = redirect_request(original, redirect(status, "/next"))
    assert (nxt.method, nxt.content) == ("PUT", b'{"a":1}')
    assert nxt.headers["Content-Type"] == "application/json"
    assert nxt.headers["Content-Length"] == "7"


def test_a_method_turned_into_get_drops_the_body_and_its_headers() -> None:
    original = req(
        "POST",
        body=b'{"a":1}',
        **{"Content-Type": "application/json", "Content-Encoding": "identity", "X-Keep": "yes"},
    )
    nxt = redirect_request(original, redirect(303, "/done"))
    assert (nxt.method, nxt.content) == ("GET", b"")
    for name in ("Content-Type", "Content-Length", "Content-Encoding", "Transfer-Encoding"):
        assert name not in nxt.headers
    assert nxt.headers["X-Keep"] == "yes"


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ("/other", "https://api.example.com/other"),
        ("next", "https://api.example.com/v1/next"),
        ("../up?y=2", "https://api.example.com/up?y=2"),
        ("//cdn.example.net/a", "https://cdn.example.net/a"),
        ("http://elsewhere.example.org:8080/b", "http://elsewhere.example.org:8080/b"),
        ("https:///no-host", "https://api.example.com/no-host"),  # malformed: same host (httpx#771)
    ],
)
def test_the_location_is_resolved_against_the_request_url(location: str, expected: str) -> None:
    assert str(redirect_request(req(), redirect(302, location)).url) == expected


def test_the_fragment_is_inherited_unless_the_location_has_one() -> None:
    original = req(url="https://a.example/x#part")
    assert redirect_request(original, redirect(302, "/y")).url.fragment == "part"
    assert redirect_request(original, redirect(302, "/y#other")).url.fragment == "other"


def test_credentials_stay_within_the_origin() -> None:
    headers = {"Authorization": "Bearer t", "Cookie": "sid=1", "Proxy-Authorization": "Basic x", "X-Sig": "s"}
    same = redirect_request(req(**headers), redirect(302, "https://api.example.com:443/v2"))
    assert all(same.headers[k] == v for k, v in headers.items())
    assert same.headers["Host"] == "api.example.com"
    for location in (
        "https://evil.example.net/steal",
        "http://api.example.com/v2",  # another scheme is another origin
        "https://api.example.com:8443/v2",  # and another port
    ):
        away = redirect_request(req(**headers), redirect(302, location))
        assert "Authorization" not in away.headers
        assert "Proxy-Authorization" not in away.headers
        assert "Cookie" not in away.headers
        assert away.headers["X-Sig"] == "s"  # the caller's other headers go on
        assert away.headers["Host"] == httpx.URL(location).netloc.decode()


def test_an_unparseable_location_is_a_protocol_error() -> None:
    with pytest.raises(httpx.RemoteProtocolError, match="Invalid URL in location header"):
        redirect_request(req(), redirect(302, "http://[::1"))


def test_extensions_are_carried_over() -> None:
    original = httpx.Request("GET", URL, extensions={"sni_hostname": "api.example.com"})
    assert redirect_request(original, redirect(302, "/b")).extensions == {"sni_hostname": "api.example.com"}


@pytest.mark.parametrize(
    "url",
    [
        "http://München.de/a",  # httpx keeps "münchen.de" as .host, sends "xn--mnchen-3ya.de"
        "https://xn--bcher-kva.example:443/",
        "http://[::1]:8080/x",
        "HTTP://Example.COM/",
        "http://127.0.0.1:8000/ok",
    ],
)
def test_a_hops_host_key_is_the_host_key_of_the_same_url(url: str) -> None:
    """A redirect hop waits for its host's turn by ``url_host_key``; a pause heard from it is
    keyed by ``host_key`` of the URL sent: one key, or a hop would not see its host's pause."""
    assert url_host_key(httpx.URL(url)) == host_key(url) == host_key(str(httpx.URL(url)))


@pytest.mark.parametrize("location", ["http://xn--zz.example/", "http://[::1/"])
def test_a_location_httpx_cannot_read_is_a_protocol_error(location: str) -> None:
    """Not an ``IDNAError`` or ``InvalidURL`` escaping the fetcher's table of failures."""
    with pytest.raises(httpx.RemoteProtocolError, match="Invalid URL in location header"):
        redirect_request(req(), redirect(302, location))
