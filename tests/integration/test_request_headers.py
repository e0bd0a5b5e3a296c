"""``options.headers``: sent with every entry, under an entry's own (names in any case), over
both transports, to a server on 127.0.0.1 that records what it received; bounded and checked
like an entry's headers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fanout.config import Settings, load_settings
from fanout.core.requests import parse_request
from fanout.errors import RequestInvalid
from fanout.runs.fetch_run import fetch_run
from tests.support import RecordingServer, run_context

pytestmark = pytest.mark.anyio


@pytest.fixture
def server() -> Iterator[RecordingServer]:
    with RecordingServer() as recording:
        yield recording


async def _run(payload: dict[str, object], settings: Settings) -> dict[str, object]:
    document = await fetch_run(parse_request(payload, settings), run_context(10.0), settings=settings)
    return document.to_json()


async def test_options_headers_reach_every_entry_under_its_own(
    server: RecordingServer, settings: Settings
) -> None:
    payload = {
        "urls": [
            server.url("/plain"),
            {"url": server.url("/own"), "headers": {"authorization": "Bearer mine", "X-Extra": "1"}},
            {"url": server.url("/post"), "method": "POST", "json": {"a": 1}},
        ],
        "options": {"headers": {"Authorization": "Bearer shared", "X-Team": "payments"}},
    }
    document = await _run(payload, settings)
    assert [r["outcome"] for r in document["results"]] == ["ok", "ok", "ok"]  # type: ignore[index]
    (plain,), (own,), (post,) = server.sent_to("/plain"), server.sent_to("/own"), server.sent_to("/post")
    assert (plain.headers["authorization"], plain.headers["x-team"]) == ("Bearer shared", "payments")
    assert (own.headers["authorization"], own.headers["x-team"]) == ("Bearer mine", "payments")
    assert own.headers["x-extra"] == "1"
    assert list(own.headers).count("authorization") == 1
    assert (post.headers["x-team"], post.headers["content-type"], post.body) == (
        "payments",
        "application/json",
        b'{"a":1}',
    )


async def test_without_options_headers_an_entry_sends_its_own_only(
    server: RecordingServer, settings: Settings
) -> None:
    await _run({"urls": [{"url": server.url("/own"), "headers": {"X-One": "1"}}]}, settings)
    (own,) = server.sent_to("/own")
    assert own.headers["x-one"] == "1"
    assert "x-team" not in own.headers


def test_options_headers_are_bounded_like_an_entry_s() -> None:
    too_many = {f"X-H{i}": "v" for i in range(101)}
    with pytest.raises(RequestInvalid) as caught:
        parse_request({"urls": ["http://127.0.0.1/"], "options": {"headers": too_many}}, load_settings())
    assert [(e["loc"], e["type"]) for e in caught.value.errors] == [("options.headers", "too_long")]
    with pytest.raises(RequestInvalid) as caught:
        parse_request({"urls": ["http://127.0.0.1/"], "options": {"headers": {"X-N": 1}}}, load_settings())
    assert caught.value.errors[0]["loc"] == "options.headers.X-N"


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("Bearer ${secretsmanager:}", "malformed secret reference at character 7"),
        ("${ssm:/a/b#key}", "an SSM parameter reference takes no #key"),
        ("${secretsmanager:a b}", "malformed secret reference"),
    ],
)
def test_a_malformed_secret_reference_is_refused(value: str, why: str) -> None:
    entry = {"url": "http://127.0.0.1/", "headers": {"Authorization": value}}
    shared = {"headers": {"Authorization": value}}
    for payload in ({"urls": ["http://127.0.0.1/"], "options": shared}, {"urls": [entry]}):
        with pytest.raises(RequestInvalid) as caught:
            parse_request(payload, load_settings())
        (error,) = caught.value.errors
        assert why in error["msg"], error
        assert "header 'Authorization'" in error["msg"], error
