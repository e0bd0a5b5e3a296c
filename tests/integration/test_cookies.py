"""Cookies are never kept: a ``Set-Cookie`` from one URL never reaches another request.

Regression: the client's jar was handed to httpx wrapped in ``httpx.Cookies``, which
``AsyncClient`` copies into a fresh default-policy ``CookieJar``; that jar kept every
cookie and sent it with later requests to the same host. The demo target's
``/set-cookie`` answers 409 when a request carries a ``Cookie`` header.
"""

from __future__ import annotations

import json

import pytest

from devtools.demo_target import DemoTarget
from fanout.config import TransportName
from fanout.fetch.client import build_client
from tests.support import TRANSPORTS, Fanout

pytestmark = pytest.mark.anyio


async def test_a_cookie_set_by_one_url_is_not_sent_to_the_next(fanout: Fanout) -> None:
    urls = [
        fanout.url("/set-cookie?name=sid&value=first"),
        fanout.url("/set-cookie?name=sid&value=second"),
        fanout.url("/set-cookie?name=sid&value=first"),  # the same URL again
        fanout.localhost_url("/set-cookie?name=other&value=x"),
        fanout.url("/set-cookie?name=last&value=y"),
    ]
    doc = await fanout.run(urls, concurrency=1)  # one after the other, on one connection
    assert [(r["outcome"], r["status_code"]) for r in doc["results"]] == [("ok", 200)] * len(urls)
    assert fanout.hits("/set-cookie") == len(urls)


async def test_a_cookie_set_after_a_redirect_is_not_sent_with_the_next_url(fanout: Fanout) -> None:
    # Each URL redirects (/redirect-to) to /set-cookie: the redirect hop is a new request too.
    first = fanout.url("/redirect-to?url=/set-cookie%3Fname%3Da%26value%3D1")
    second = fanout.url("/redirect-to?url=/set-cookie%3Fname%3Db%26value%3D2")
    doc = await fanout.run([first, second], concurrency=1)
    assert [(r["outcome"], r["status_code"]) for r in doc["results"]] == [("ok", 200), ("ok", 200)]


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_the_client_keeps_no_cookie_through_httpx_api_either(
    fresh_target: DemoTarget, transport: TransportName
) -> None:
    """Other callers of the run's client (``client.get``: AsyncClient.send) get the same."""
    async with build_client(
        transport=transport,
        concurrency=2,
        per_host_concurrency=2,
        follow_redirects=False,
        max_redirects=0,
        max_header_bytes=16_384,
        user_agent="fanout-test",
    ) as client:
        first = await client.get(fresh_target.url("/set-cookie?name=sid&value=1"))
        assert first.status_code == 200
        assert "sid=1" in first.headers["set-cookie"]
        assert not client.cookies
        again = await client.get(fresh_target.url("/set-cookie?name=sid&value=2"))
        assert again.status_code == 200, again.text
        echo = await client.get(fresh_target.url("/echo"))
        assert "Cookie" not in json.loads(echo.text)["headers"]
        # Even a cookie set on purpose is not kept.
        client.cookies.set("planted", "1", domain="127.0.0.1")
        assert not client.cookies
        echo = await client.get(fresh_target.url("/echo"))
        assert "Cookie" not in json.loads(echo.text)["headers"]
