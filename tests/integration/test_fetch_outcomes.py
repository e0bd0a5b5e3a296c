"""One outcome per URL, against a real server: ok, http_error, failed, timed_out.

Each test runs over both transports (aiohttp, the default, and httpx's stock httpcore)
and checks the fields of the result, not just its outcome.
"""

from __future__ import annotations

import gzip
from typing import Any

import pytest

from tests.support import SLACK_S, Fanout, free_port

pytestmark = pytest.mark.anyio


async def one(fanout: Fanout, entry: Any, *, budget_s: float = 10.0, **options: Any) -> dict[str, Any]:
    """Run a single entry and return its result (after checking the document's shape)."""
    doc = await fanout.run([entry], budget_s=budget_s, **options)
    assert doc["summary"]["total"] == 1
    assert len(doc["results"]) == 1
    result: dict[str, Any] = doc["results"][0]
    assert doc["summary"][result["outcome"]] == 1
    return result


async def test_ok_reports_status_and_body_size(fanout: Fanout) -> None:
    url = fanout.url("/ok?bytes=1234")
    result = await one(fanout, url)
    assert result == {
        "url": url,
        "outcome": "ok",
        "status_code": 200,
        "attempts": 1,
        "elapsed_ms": result["elapsed_ms"],
        "bytes": 1234,
        "error": None,
    }
    assert 0 < result["elapsed_ms"] < 10_000


async def test_404_is_http_error_and_not_retried(fanout: Fanout) -> None:
    result = await one(fanout, fanout.url("/status/404"), retries=3)
    assert (result["outcome"], result["status_code"], result["attempts"]) == ("http_error", 404, 1)
    assert result["error"] is None
    assert fanout.hits("/status/404") == 1


async def test_500_is_http_error_and_not_retried(fanout: Fanout) -> None:
    result = await one(fanout, fanout.url("/status/500"), retries=3)
    assert (result["outcome"], result["status_code"], result["attempts"]) == ("http_error", 500, 1)
    assert fanout.hits("/status/500") == 1


@pytest.mark.parametrize("retries", [0, 2])
async def test_503_is_http_error_after_retries_are_exhausted(fanout: Fanout, retries: int) -> None:
    result = await one(fanout, fanout.url("/status/503"), retries=retries)
    assert (result["outcome"], result["status_code"]) == ("http_error", 503)
    assert result["attempts"] == retries + 1
    assert fanout.hits("/status/503") == retries + 1


async def test_refused_connection_fails_after_retries(fanout: Fanout) -> None:
    result = await one(fanout, f"http://127.0.0.1:{free_port()}/nothing", retries=2)
    assert result["outcome"] == "failed"
    assert result["status_code"] is None
    assert result["bytes"] is None
    assert result["error"]["type"] == "ConnectError"
    assert result["error"]["message"]
    assert result["attempts"] == 3  # a connect error is retried


async def test_reset_connection_fails_without_retry(fanout: Fanout) -> None:
    result = await one(fanout, fanout.url("/reset"), retries=2)
    assert result["outcome"] == "failed"
    assert result["status_code"] is None
    assert result["error"]["type"] in {"ReadError", "RemoteProtocolError"}
    assert result["attempts"] == 1  # the request may have been processed: not a connect error
    # Nor resent behind the fetcher's back (aiohttp does that for idempotent methods
    # unless the session says otherwise).
    assert fanout.hits("/reset") == 1


async def test_close_without_answer_fails_without_retry(fanout: Fanout) -> None:
    result = await one(fanout, fanout.url("/close"), retries=2)
    assert result["outcome"] == "failed"
    assert result["error"]["type"] == "RemoteProtocolError"
    assert result["attempts"] == 1
    assert fanout.hits("/close") == 1


async def test_redirects_are_followed_to_the_final_response(fanout: Fanout) -> None:
    result = await one(fanout, fanout.url("/redirect/3"), max_redirects=3)
    assert (result["outcome"], result["status_code"], result["bytes"]) == ("ok", 200, len("arrived"))
    assert [fanout.hits(f"/redirect/{n}") for n in (3, 2, 1, 0)] == [1, 1, 1, 1]


async def test_one_redirect_too_many_fails(fanout: Fanout) -> None:
    result = await one(fanout, fanout.url("/redirect/3"), max_redirects=2)
    assert result["outcome"] == "failed"
    assert result["error"]["type"] == "too_many_redirects"
    assert fanout.hits("/redirect/0") == 0


async def test_redirect_loop_fails_with_too_many_redirects(fanout: Fanout) -> None:
    result = await one(fanout, fanout.url("/redirect-loop"), max_redirects=4, retries=2)
    assert result["outcome"] == "failed"
    assert result["status_code"] is None
    assert result["error"]["type"] == "too_many_redirects"
    assert result["attempts"] == 1
    assert fanout.hits("/redirect-loop") == 5  # the first request and 4 redirects


async def test_redirect_not_followed_when_disabled(fanout: Fanout) -> None:
    result = await one(fanout, fanout.url("/redirect/1"), follow_redirects=False)
    assert (result["outcome"], result["status_code"]) == ("ok", 302)
    assert fanout.hits("/redirect/0") == 0


async def test_body_over_the_cap_fails_as_too_large(fanout: Fanout) -> None:
    result = await one(fanout, fanout.url("/big?bytes=500000"), max_body_bytes=100_000, retries=2)
    assert result["outcome"] == "failed"
    assert result["error"]["type"] == "response_too_large"
    assert result["bytes"] is None
    assert result["attempts"] == 1


async def test_an_abandoned_body_gives_its_connection_back(fanout: Fanout) -> None:
    # One connection at a time: each too-large response must be closed for the next
    # URL to get a connection at all (it would wait in the pool until its timeout).
    urls = [fanout.url(f"/big?bytes=500000&i={i}") for i in range(3)] + [fanout.url("/ok")]
    doc = await fanout.run(
        urls, concurrency=1, per_host_concurrency=1, max_body_bytes=100_000, request_timeout_s=2
    )
    assert [r["outcome"] for r in doc["results"]] == ["failed", "failed", "failed", "ok"]
    assert doc["elapsed_ms"] < 2_000


async def test_body_exactly_at_the_cap_is_ok(fanout: Fanout) -> None:
    result = await one(fanout, fanout.url("/big?bytes=100000"), max_body_bytes=100_000)
    assert (result["outcome"], result["bytes"]) == ("ok", 100_000)


async def test_gzip_bomb_is_counted_on_the_wire_never_inflated(fanout: Fanout) -> None:
    wire = len(gzip.compress(b"\0" * 16 * 1_048_576, compresslevel=9))
    result = await one(fanout, fanout.url("/gzip-bomb?mib=16"), max_body_bytes=1_048_576)
    assert (result["outcome"], result["bytes"]) == ("ok", wire)
    assert wire < 100_000  # 16 MiB inflated: had it been decompressed, the cap would have tripped


async def test_gzip_bomb_over_a_small_cap_fails_cleanly(fanout: Fanout) -> None:
    result = await one(fanout, fanout.url("/gzip-bomb?mib=16"), max_body_bytes=4_096)
    assert result["outcome"] == "failed"
    assert result["error"]["type"] == "response_too_large"


@pytest.mark.parametrize(
    "path",
    [
        "/hang",
        # One byte every 150 ms: well inside any per-read timeout, so only a cap on
        # the whole attempt can stop it.
        "/trickle?interval_ms=150",
        "/slow-headers?interval_ms=150",
    ],
)
async def test_hostile_endpoint_times_out_at_the_request_timeout(fanout: Fanout, path: str) -> None:
    timeout_s = 0.6
    doc = await fanout.run([fanout.url(path)], budget_s=20.0, request_timeout_s=timeout_s, retries=2)
    (result,) = doc["results"]
    assert result["outcome"] == "timed_out"
    assert result["error"]["type"] == "request_timeout"
    assert result["status_code"] is None
    assert result["attempts"] == 1  # a timeout is not retried
    # Capped by the URL's own timeout, not by the run's budget.
    assert timeout_s * 1000 <= result["elapsed_ms"] < (timeout_s + SLACK_S) * 1000
    assert doc["elapsed_ms"] < (timeout_s + SLACK_S) * 1000
    assert not doc["deadline_reached"]


async def test_a_hanging_url_does_not_hold_back_the_others(fanout: Fanout) -> None:
    doc = await fanout.run(
        [fanout.url("/hang"), fanout.url("/ok?bytes=5"), fanout.url("/status/404")],
        request_timeout_s=0.5,
    )
    assert [r["outcome"] for r in doc["results"]] == ["timed_out", "ok", "http_error"]
    assert doc["results"][1]["elapsed_ms"] < 500


async def test_json_body_is_sent_with_the_method_and_headers(fanout: Fanout) -> None:
    entry = {"url": fanout.url("/echo"), "method": "post", "headers": {"X-Sig": "abc"}, "json": {"a": [1]}}
    result = await one(fanout, entry)
    assert (result["outcome"], result["status_code"]) == ("ok", 200)
    assert fanout.hits("/echo") == 1
