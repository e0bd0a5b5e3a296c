"""Faults made for real on this machine: resolvers that never answer, answer slowly or fail,
SYNs that are dropped, stores whose names do not resolve.

Each test runs the function in the real Lambda runtime emulator inside network and mount
namespaces of its own (``lab.run_lab``: only ``lo`` exists there, ``/etc/resolv.conf`` names
a faulty DNS server on 127.0.0.53). What is asserted is what a caller sees: an answer before
the Lambda timeout with one result per URL, how each URL ended, how long it took, that the
next warm invocation is normal, and that no thread of the runtime outlives the answer.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from devtools.events import load_event
from tests.faults.lab import Invocation, LabReport, LabSpec, can_run, run_lab

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

_WHY_NOT = can_run()
if _WHY_NOT is not None:  # a fault tier that cannot run is a failure, never a skip
    raise RuntimeError(f"the fault tier cannot run on this machine: {_WHY_NOT}")

STORES = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "REPORTS_BUCKET_NAME": "fanout-reports",
    "RUNS_TABLE_NAME": "fanout-runs",
    "IDEMPOTENCY_TABLE_NAME": "fanout-idempotency",
}


def results(invocation: Invocation, n: int) -> list[dict[str, Any]]:
    """The answer's results: one per URL, and the summary adds up."""
    payload = invocation.payload
    assert isinstance(payload, dict), payload
    assert "errorType" not in payload, payload
    found: list[dict[str, Any]] = payload["results"]
    assert len(found) == n
    assert payload["summary"]["total"] == n
    return found


def clean(report: LabReport, invocation: Invocation) -> None:
    """No thread of the invocation outlived its answer, the runtime survived, the log is clean."""
    assert not invocation.runtime_restarted, report.log_tail
    assert invocation.threads_after == invocation.threads_before, (
        f"{invocation.threads_after - invocation.threads_before} thread(s) outlived the answer"
    )
    assert invocation.leaks == [], invocation.leaks


def test_sixty_names_that_no_server_answers_cannot_hold_the_answer() -> None:
    hanging = [f"http://host{i}.hang.test/" for i in range(60)]
    urls = [*hanging, "{target}/ok"]
    event = {"urls": urls, "options": {"request_timeout_s": 30}}
    report = run_lab(LabSpec(events=[event, {"urls": ["{target}/ok"]}], lambda_timeout_s=6))

    first, warm = report.invocations
    found = results(first, 61)
    assert first.wall_s < 6, f"answered after {first.wall_s:.2f} s"
    assert found[-1]["outcome"] == "ok"
    assert {r["outcome"] for r in found[:60]} == {"cancelled"}, "the deadline cut the lookups"
    assert first.payload["deadline_reached"] is True
    clean(report, first)
    assert [r["outcome"] for r in results(warm, 1)] == ["ok"]
    assert warm.wall_s < 1.0, f"the next warm invocation took {warm.wall_s:.2f} s"
    clean(report, warm)


def test_a_lookup_that_runs_out_is_timed_out_within_the_request_timeout() -> None:
    event = {
        "urls": ["http://a.hang.test/", "http://b.hang.test:8080/x"],
        "options": {"request_timeout_s": 3, "retries": 2},
    }
    report = run_lab(LabSpec(events=[event], lambda_timeout_s=20))

    (only,) = report.invocations
    found = results(only, 2)
    assert 2.9 < only.wall_s < 4.5, f"answered after {only.wall_s:.2f} s, not about 3 s"
    for result in found:
        assert result["outcome"] == "timed_out"
        assert result["error"]["type"] == "DNSTimeout"
        assert "hang.test" in result["error"]["message"]
        assert result["attempts"] == 1, "a lookup that used the whole attempt is not tried again"
    clean(report, only)


def test_slow_answers_are_waited_for_and_failures_fail_fast() -> None:
    event = {
        "urls": [
            "http://api.slow.test:{port}/ok",
            "http://api.servfail.test/",
            "http://no-such-host.nx.test/",
            "http://api.ok.test:{port}/ok",
        ],
        "options": {"request_timeout_s": 5, "retries": 1},
    }
    report = run_lab(LabSpec(events=[event], lambda_timeout_s=10))

    (only,) = report.invocations
    slow, servfail, nx, ok = results(only, 4)
    assert (slow["outcome"], ok["outcome"]) == ("ok", "ok")
    assert slow["elapsed_ms"] >= 700, "the slow resolver's answer (0.8 s) was waited for"
    assert servfail["outcome"] == nx["outcome"] == "failed"
    assert servfail["error"]["type"] == nx["error"]["type"] == "DNSError"
    assert "SERVFAIL" in servfail["error"]["message"]
    assert "no such name" in nx["error"]["message"]
    assert nx["attempts"] == 1, "no such name: asking again will not help"
    assert servfail["attempts"] == 2, "SERVFAIL may pass: tried again"
    assert only.wall_s < 3
    clean(report, only)


def test_one_lookup_serves_every_url_of_a_host() -> None:
    event = {"urls": [f"http://api.ok.test:{{port}}/ok?n={i}" for i in range(50)]}
    report = run_lab(LabSpec(events=[event], lambda_timeout_s=10))

    (only,) = report.invocations
    assert {r["outcome"] for r in results(only, 50)} == {"ok"}
    assert report.dns_queries.get("api.ok.test. A") == 1, report.dns_queries
    clean(report, only)


def test_the_hosts_file_is_honoured_when_dns_hangs() -> None:
    event = {"urls": ["http://intranet.hang.test:{port}/ok"], "options": {"request_timeout_s": 3}}
    spec = LabSpec(events=[event], hosts={"intranet.hang.test": "127.0.0.1"})
    report = run_lab(spec)

    (only,) = report.invocations
    (result,) = results(only, 1)
    assert result["outcome"] == "ok", result
    assert "intranet.hang.test. A" not in report.dns_queries, "the hosts file answers first"
    clean(report, only)


def test_dropped_syns_cost_the_request_timeout_and_hold_nothing() -> None:
    cut = {"urls": ["http://127.0.0.1:{dead_port}/", "{target}/ok"], "options": {"request_timeout_s": 2}}
    hung = {"urls": ["http://127.0.0.1:{dead_port}/"] * 20, "options": {"request_timeout_s": 60}}
    report = run_lab(LabSpec(events=[cut, hung], lambda_timeout_s=5, drop_syns=True))

    first, second = report.invocations
    dropped, ok = results(first, 2)
    assert (dropped["outcome"], dropped["error"]["type"], ok["outcome"]) == (
        "timed_out",
        "request_timeout",
        "ok",
    )
    assert 1.9 < first.wall_s < 3.5
    outcomes = [r["outcome"] for r in results(second, 20)]
    assert outcomes.count("cancelled") == 8, "8 connecting to the host (its cap) when the deadline came"
    assert outcomes.count("not_started") == 12
    assert second.wall_s < 5
    for invocation in report.invocations:
        clean(report, invocation)


def test_stores_whose_names_never_resolve_cost_their_slice_not_the_answer() -> None:
    env = STORES | {"AWS_ENDPOINT_URL": "http://aws.hang.test:4566"}
    scheduled = {
        "source": "schedule",
        "event_id": "arn:aws:scheduler:::schedule/lab@2026-12-01T00:00:00Z",
        "urls": ["{target}/ok", "{target}/status/503"],
        "options": {"retries": 0},
    }
    report = run_lab(LabSpec(events=[scheduled, scheduled], env=env, lambda_timeout_s=8))

    for invocation in report.invocations:
        assert invocation.wall_s < 8, f"answered after {invocation.wall_s:.2f} s"
        found = results(invocation, 2)
        assert [r["outcome"] for r in found] == ["ok", "http_error"]
        persisted = invocation.payload["persisted"]
        assert persisted["stored"] is False
        for name in ("report", "record"):
            assert persisted[name]["status"] in ("timed_out", "failed"), persisted
        clean(report, invocation)
    assert report.target_hits.get("/ok") == 2, "the idempotency table was unreachable: the run ran anyway"


def test_an_api_request_with_an_idempotency_key_on_a_black_holed_table_answers_in_time() -> None:
    env = STORES | {"AWS_ENDPOINT_URL": "http://aws.hang.test:4566"}
    event = load_event("api.json")
    event["body"] = '{"urls": ["{target}/ok"]}'
    event["headers"]["idempotency-key"] = "lab-key-1"
    report = run_lab(LabSpec(events=[event], env=env, lambda_timeout_s=8))

    (only,) = report.invocations
    assert only.wall_s < 8, f"answered after {only.wall_s:.2f} s"
    assert only.payload["statusCode"] == 200, only.payload
    document = json.loads(only.payload["body"])
    assert [r["outcome"] for r in document["results"]] == ["ok"]
    assert document["persisted"]["stored"] is False
    clean(report, only)
