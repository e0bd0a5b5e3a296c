"""Response checks against real servers on 127.0.0.1, over both transports: an http target and
two https targets whose certificates come from a private CA made by ``trustme`` (one valid for a
year, one expiring in 3 days), trusted through ``FANOUT_CA_BUNDLE`` (``Settings.ca_bundle``)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from typing import Any

import pytest

from devtools.demo_checks import DemoTls
from devtools.demo_target import DemoTarget
from fanout.config import Settings
from fanout.core.facts import PHASES
from tests.support import Fanout, open_connections_after, unique

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def tls() -> Iterator[DemoTls]:
    made = DemoTls()
    yield made
    made.close()


@pytest.fixture(scope="module")
def https_target(tls: DemoTls) -> Iterator[DemoTarget]:
    with DemoTarget(ssl_context=tls.server_context(expires_in_days=365)) as server:
        yield server


@pytest.fixture(scope="module")
def expiring_target(tls: DemoTls) -> Iterator[DemoTarget]:
    with DemoTarget(ssl_context=tls.server_context(expires_in_days=3)) as server:
        yield server


@pytest.fixture
def checked(
    fresh_target: DemoTarget,
    https_target: DemoTarget,
    expiring_target: DemoTarget,
    settings: Settings,
    tls: DemoTls,
) -> Iterator[Fanout]:
    """``fetch_run`` trusting the private CA; no connection may outlive a test, on any target."""
    yield Fanout(fresh_target, settings.model_copy(update={"ca_bundle": str(tls.ca_file)}))
    for server in (fresh_target, https_target, expiring_target):
        assert open_connections_after(server) == 0


async def one(fanout: Fanout, url: str | dict[str, Any], **options: Any) -> dict[str, Any]:
    doc = await fanout.run([url], **options)
    [result] = doc["results"]
    return dict(result)


def failed_checks(result: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    return {c["check"]: (c["expected"], c["actual"]) for c in result["checks"] if not c["ok"]}


HEALTHY = {
    "status": [200, "300-399"],
    "json": {"/status": "UP", "/checks/db": "ok"},
    "headers": {"Content-Type": "^application/json"},
    "body_regex": "UP|healthy",
    "max_latency_ms": 5_000,
}


# -- every check, passing and failing --------------------------------------------------------


async def test_a_healthy_json_endpoint_passes_every_check(checked: Fanout, https_target: DemoTarget) -> None:
    result = await one(checked, https_target.url("/health"), expect=HEALTHY | {"cert_min_days": 14})
    assert result["outcome"] == "ok", result
    assert [(c["check"], c["ok"]) for c in result["checks"]] == [
        ("status", True),
        ("header:content-type", True),
        ("json:/status", True),
        ("json:/checks/db", True),
        ("body_regex", True),
        ("max_latency_ms", True),
        ("cert_min_days", True),
    ]
    assert result["degraded"] is False


async def test_a_health_endpoint_saying_down_is_check_failed_with_expected_and_actual(
    checked: Fanout,
) -> None:
    doc = await checked.run(
        [checked.url("/health?status=DOWN"), checked.url("/health")], expect={"json": {"/status": "UP"}}
    )
    down, up = doc["results"]
    assert (down["outcome"], down["status_code"]) == ("check_failed", 200)
    assert failed_checks(down) == {"json:/status": ("UP", "DOWN")}
    assert up["outcome"] == "ok"
    assert doc["summary"]["check_failed"] == 1
    assert doc["summary"]["ok"] == 1


async def test_a_200_error_page_fails_body_contains(checked: Fanout) -> None:
    expect = {"body_contains": "Example Domain"}
    good = await one(checked, checked.url("/page"), expect=expect)
    bad = await one(checked, checked.url("/page?title=Service+Unavailable"), expect=expect)
    assert good["outcome"] == "ok"
    assert bad["outcome"] == "check_failed"
    assert "Service Unavailable" in failed_checks(bad)["body_contains"][1]


async def test_json_checks_on_a_body_that_is_not_json_fail(checked: Fanout) -> None:
    result = await one(checked, checked.url("/not-json"), expect={"json": {"/status": "UP"}})
    assert result["outcome"] == "check_failed"
    assert failed_checks(result) == {"json:/status": ("UP", "<the body is not JSON>")}


async def test_header_checks_match_case_insensitively_and_fail_when_absent(checked: Fanout) -> None:
    url = checked.url("/headers?X-Cache=HIT&ETag=abc")
    hit = await one(checked, url, expect={"headers": {"x-cache": "^HIT$", "etag": "^abc$"}})
    assert hit["outcome"] == "ok"
    miss = await one(checked, url, expect={"headers": {"X-Cache": "^MISS$", "Age": "."}})
    assert failed_checks(miss) == {"header:x-cache": ("^MISS$", "HIT"), "header:age": (".", None)}


async def test_body_regex_passes_and_fails(checked: Fanout) -> None:
    assert (await one(checked, checked.url("/page"), expect={"body_regex": r"<title>Ex\w+"}))[
        "outcome"
    ] == "ok"
    miss = await one(checked, checked.url("/page"), expect={"body_regex": "^DOWN$"})
    assert miss["outcome"] == "check_failed"
    assert "body_regex" in failed_checks(miss)


async def test_a_backtracking_regex_fails_its_check_and_the_run_goes_on(checked: Fanout) -> None:
    url = checked.url("/encoded/identity?text=a&repeat=20000&tail=b")
    doc = await checked.run([url, checked.url("/health")], expect={"body_regex": "^(a+)+$"})
    stuck, other = doc["results"]
    assert failed_checks(stuck)["body_regex"][1] == "<no match within the time limit>"
    assert other["outcome"] == "check_failed"  # its own body does not match either: judged normally
    assert doc["elapsed_ms"] < 5_000


# -- status: the rule with and without expect.status -------------------------------------------


async def test_expect_status_makes_a_404_ok_and_a_200_check_failed(checked: Fanout) -> None:
    gone = await one(checked, checked.url("/status/404"), expect={"status": [404]})
    assert (gone["outcome"], gone["status_code"]) == ("ok", 404)
    there = await one(checked, checked.url("/status/200"), expect={"status": [404, "410-410"]})
    assert there["outcome"] == "check_failed"
    assert failed_checks(there) == {"status": ([404, "410-410"], 200)}


async def test_without_expect_status_a_500_is_http_error_and_no_other_check_runs(checked: Fanout) -> None:
    result = await one(checked, checked.url("/status/500"), expect={"body_contains": "nope"})
    assert result["outcome"] == "http_error"
    assert "checks" not in result
    assert result["timings"]["total_ms"] > 0  # the facts are still reported


async def test_without_expect_or_capture_a_result_has_no_details(checked: Fanout) -> None:
    result = await one(checked, checked.url("/health"))
    assert set(result) == {"url", "outcome", "status_code", "attempts", "elapsed_ms", "bytes", "error"}


async def test_an_empty_expect_reports_the_facts_and_no_checks(checked: Fanout) -> None:
    result = await one(checked, checked.url("/health"), expect={})
    assert (result["outcome"], result["checks"], result["degraded"]) == ("ok", [], False)
    assert set(result["timings"]) == set(PHASES)


async def test_retries_are_decided_on_the_status_before_the_checks(checked: Fanout) -> None:
    key = unique("checks")
    retried = await one(
        checked, checked.url(f"/flaky/{key}?fail=5&status=503"), expect={"status": [200]}, retries=2
    )
    assert (retried["outcome"], retried["attempts"], retried["status_code"]) == ("check_failed", 3, 503)
    assert checked.hits(f"/flaky/{key}") == 3


async def test_check_failed_is_not_retried(checked: Fanout) -> None:
    result = await one(
        checked, checked.url("/health?status=DOWN"), expect={"json": {"/status": "UP"}}, retries=3
    )
    assert (result["outcome"], result["attempts"]) == ("check_failed", 1)
    assert checked.hits("/health") == 1


async def test_on_error_cancel_stops_at_the_first_check_failed(checked: Fanout) -> None:
    urls = [checked.url("/health?status=DOWN")] + [checked.url("/ok?delay_ms=3000") for _ in range(3)]
    doc = await checked.run(urls, expect={"json": {"/status": "UP"}}, on_error="cancel", concurrency=2)
    outcomes = [r["outcome"] for r in doc["results"]]
    assert outcomes[0] == "check_failed"
    assert set(outcomes[1:]) <= {"cancelled", "not_started"}
    assert "cancelled" in outcomes
    assert doc["stopped_on_error"] is True
    assert doc["elapsed_ms"] < 2_000


async def test_an_entry_s_expect_is_merged_over_the_options(checked: Fanout) -> None:
    urls = [
        checked.url("/health"),
        {"url": checked.url("/health?status=DEGRADED"), "expect": {"json": {"/status": "DEGRADED"}}},
        {"url": checked.url("/status/503"), "expect": {"json": None, "status": [503]}, "retry": False},
    ]
    doc = await checked.run(urls, expect={"status": [200], "json": {"/status": "UP"}}, retries=0)
    assert [r["outcome"] for r in doc["results"]] == ["ok", "ok", "ok"]
    assert [c["check"] for c in doc["results"][1]["checks"]] == ["status", "json:/status"]
    assert [c["check"] for c in doc["results"][2]["checks"]] == ["status"]


# -- latency: fail and degrade ------------------------------------------------------------------


async def test_latency_over_the_degraded_threshold_flags_and_over_the_max_fails(checked: Fanout) -> None:
    urls = [checked.url("/health"), checked.url("/health?delay_ms=300"), checked.url("/health?delay_ms=900")]
    doc = await checked.run(urls, expect={"max_latency_ms": 700, "degraded_latency_ms": 200})
    fast, slow, too_slow = doc["results"]
    assert (fast["outcome"], fast["degraded"]) == ("ok", False)
    assert (slow["outcome"], slow["degraded"]) == ("ok", True)
    assert (too_slow["outcome"], too_slow["degraded"]) == ("check_failed", False)
    expected, actual = failed_checks(too_slow)["max_latency_ms"]
    assert expected == 700
    assert actual >= 900
    assert doc["degraded"] == 1
    assert doc["summary"]["total"] == sum(v for k, v in doc["summary"].items() if k != "total")


# -- timings, peer and TLS facts ----------------------------------------------------------------


def check_phases(timings: dict[str, float | None], *, https: bool) -> float:
    """Every phase present and non-negative, TLS only for https; their sum about the total."""
    assert set(timings) == set(PHASES)
    assert (timings["tls_ms"] is not None) is https
    phases = [v for k, v in timings.items() if k != "total_ms" and v is not None]
    assert all(v >= 0 for v in phases)
    total = timings["total_ms"]
    assert total is not None
    assert sum(phases) <= total + 0.5
    # What no phase covers is scheduling between them: milliseconds, more on a loaded machine.
    assert total - sum(phases) <= 20 + 0.25 * total, timings
    return total


async def test_timings_show_each_phase_where_the_time_went(checked: Fanout, https_target: DemoTarget) -> None:
    doc = await checked.run(
        [
            https_target.url("/health?delay_ms=250"),  # a fresh TLS connection, then a slow answer
            checked.url("/trickle?interval_ms=30&bytes=8"),  # headers at once, a slow body
            f"http://localhost:{checked.target.port}/health",  # a name to resolve
        ],
        expect={},
    )
    slow_answer, slow_body, named = (r["timings"] for r in doc["results"])
    check_phases(slow_answer, https=True)
    assert slow_answer["connect_ms"] > 0
    assert slow_answer["tls_ms"] > 0
    assert 250 <= slow_answer["ttfb_ms"] < 250 + 1_000
    assert slow_answer["transfer_ms"] < 100
    check_phases(slow_body, https=False)
    # The server spends 7 x 30 ms after the headers: request to last byte takes at least that, and
    # most of it is transfer (the client may see the headers up to an interval late on a busy machine).
    assert slow_body["ttfb_ms"] + slow_body["transfer_ms"] >= 7 * 30
    assert slow_body["transfer_ms"] >= 6 * 30
    assert slow_body["ttfb_ms"] < 200
    check_phases(named, https=False)
    assert named["dns_ms"] > 0
    assert slow_answer["dns_ms"] == 0  # an IP literal is not looked up


async def test_a_kept_alive_connection_costs_no_connect_or_tls(
    checked: Fanout, https_target: DemoTarget
) -> None:
    urls = [https_target.url("/health"), https_target.url("/health?delay_ms=100")]
    doc = await checked.run(urls, expect={}, concurrency=1, per_host_concurrency=1)
    first, second = (r["timings"] for r in doc["results"])
    assert first["connect_ms"] > 0
    assert first["tls_ms"] > 0
    assert (second["connect_ms"], second["tls_ms"]) == (0, 0)


async def test_peer_and_tls_facts_of_a_certificate_valid_for_a_year(
    checked: Fanout, https_target: DemoTarget
) -> None:
    result = await one(checked, https_target.url("/health"), expect={})
    assert (result["remote_ip"], result["http_version"]) == ("127.0.0.1", "1.1")
    facts = result["tls"]
    assert facts["version"] in {"TLSv1.2", "TLSv1.3"}
    assert "trustme" in facts["issuer"]
    assert "Testing CA" in facts["issuer"]
    assert "CN=fanout demo" in facts["subject"]
    assert set(facts["sans"]) == {"127.0.0.1", "localhost"}
    assert 364 < facts["days_to_expiry"] <= 365
    assert facts["not_after"].endswith("Z")


async def test_cert_min_days_fails_a_certificate_expiring_in_three_days(
    checked: Fanout, https_target: DemoTarget, expiring_target: DemoTarget
) -> None:
    doc = await checked.run(
        [https_target.url("/health"), expiring_target.url("/health"), checked.url("/health")],
        expect={"cert_min_days": 14},
    )
    year, soon, plain = doc["results"]
    assert year["outcome"] == "ok"
    assert soon["outcome"] == "check_failed"
    expected, days = failed_checks(soon)["cert_min_days"]
    assert expected == 14
    assert 2.9 < days <= 3
    assert 2.9 < soon["tls"]["days_to_expiry"] <= 3
    assert (plain["outcome"], plain["checks"], "tls" in plain) == ("ok", [], False)  # https only


async def test_an_untrusted_certificate_fails_the_fetch(
    fresh_target: DemoTarget, https_target: DemoTarget, settings: Settings
) -> None:
    """Without the private CA in ``FANOUT_CA_BUNDLE``, verification fails: it is never off."""
    doc = await Fanout(fresh_target, settings.model_copy(update={"ca_bundle": ""})).run(
        [https_target.url("/health")], expect={}, retries=0
    )
    [result] = doc["results"]
    assert result["outcome"] == "failed"
    assert "certificate" in result["error"]["message"].lower()
    assert open_connections_after(https_target) == 0


async def test_a_redirect_chain_reports_its_hops_and_the_final_url(
    checked: Fanout, https_target: DemoTarget
) -> None:
    start = f"https://localhost:{https_target.port}/redirect/2"
    result = await one(checked, start, expect={"status": [200]})
    assert result["outcome"] == "ok"
    assert result["final_url"] == f"https://localhost:{https_target.port}/redirect/0"
    assert result["redirects"] == [
        {"url": start, "status_code": 302},
        {"url": f"https://localhost:{https_target.port}/redirect/1", "status_code": 302},
    ]
    check_phases(result["timings"], https=True)
    across = await one(checked, checked.url(f"/redirect-to?url={https_target.url('/health')}"), expect={})
    assert across["final_url"] == https_target.url("/health")
    assert across["tls"]["days_to_expiry"] > 364


# -- bodies: encodings, the bound, a bomb --------------------------------------------------------


@pytest.mark.parametrize("coding", ["gzip", "deflate", "raw-deflate", "br", "identity"])
async def test_every_content_encoding_is_decoded_for_the_checks(checked: Fanout, coding: str) -> None:
    url = checked.url(f"/encoded/{coding}?text=healthy+&repeat=2000")
    result = await one(checked, url, expect={"body_regex": "^(healthy ){2000}$"}, inspect_bytes=16_000)
    assert result["outcome"] == "ok", result.get("checks")


async def test_checks_see_only_the_first_inspect_bytes(checked: Fanout) -> None:
    url = checked.url("/encoded/gzip?text=0123456789&repeat=1000")  # 10,000 bytes decoded
    inside = await one(checked, url, expect={"body_regex": "^(0123456789){100}"}, inspect_bytes=1_000)
    assert inside["outcome"] == "ok"
    beyond = await one(checked, url, expect={"body_regex": "^(0123456789){101}"}, inspect_bytes=1_000)
    assert beyond["outcome"] == "check_failed"


async def test_an_undecodable_body_fails_the_body_checks(checked: Fanout) -> None:
    url = checked.url("/headers?Content-Encoding=gzip")  # says gzip, sends plain text
    result = await one(checked, url, expect={"body_contains": "headers"})
    assert result["outcome"] == "check_failed"
    assert "cannot be decoded" in failed_checks(result)["body"][1]


BOMB_CHILD = textwrap.dedent(
    """
    import asyncio, dataclasses, json, resource, sys
    from fanout.config import get_settings
    from fanout.core.requests import parse_request
    from fanout.runs.fetch_run import fetch_run
    from tests.support import run_context

    async def main(url, transport):
        options = {"expect": {"body_contains": "x"}, "max_body_bytes": 4 << 20}
        request = parse_request({"urls": [url], "options": options}, get_settings())
        settings = get_settings().model_copy(update={"http_transport": transport})
        doc = await fetch_run(request, run_context(30.0), settings=settings)
        return doc.to_json()["results"][0]

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = asyncio.run(main(sys.argv[1], sys.argv[2]))
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"result": result, "grew_kib": after - before}))
    """
)


@pytest.mark.parametrize("transport", ["aiohttp", "httpcore"])
def test_a_gzip_bomb_costs_at_most_inspect_bytes(target: DemoTarget, transport: str) -> None:
    """512 MiB of zeros in ~0.5 MiB of gzip: the checks read 64 KiB of it, and the process's peak
    memory barely moves (a fresh process: its ``ru_maxrss`` is this fetch's)."""
    import json

    env = os.environ | {"PYTHONPATH": os.pathsep.join(sys.path)}
    run = subprocess.run(
        [sys.executable, "-c", BOMB_CHILD, target.url("/gzip-bomb?mib=512"), transport],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=True,
    )
    report = json.loads(run.stdout)
    result = report["result"]
    assert (result["outcome"], result["status_code"]) == ("check_failed", 200)  # zeros, no "x"
    assert result["bytes"] < 1 << 20
    assert report["grew_kib"] < 24 * 1024, f"peak RSS grew {report['grew_kib']} KiB on a gzip bomb"


# -- captured headers -------------------------------------------------------------------------------


async def test_capture_headers_keeps_the_named_headers_only(checked: Fanout) -> None:
    url = checked.url("/headers?X-Cache=HIT&Age=12&ETag=%22abc%22&X-Other=1")
    result = await one(checked, url, capture_headers=["x-cache", "Age", "etag", "x-missing"])
    assert result["headers"] == {"x-cache": "HIT", "age": "12", "etag": '"abc"'}
    assert "checks" not in result  # facts, without expectations
    assert result["timings"]["total_ms"] > 0
