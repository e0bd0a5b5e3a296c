"""Typed documents: what is written as JSON is read back the same (answers recorded for
duplicates, reports, records), and fields that do not apply are left out."""

from __future__ import annotations

import json

from fanout.core.documents import (
    SHARDED,
    Continuation,
    Leftovers,
    Persisted,
    ResultsOmitted,
    RunDocument,
    RunStatus,
    Source,
    StoreOutcome,
    StoreStatus,
)
from fanout.core.facts import Check, Redirect, Timings, TlsFacts
from fanout.core.results import ErrorInfo, Outcome, Summary, UrlResult

CHECKED = {
    "timings": Timings(1.5, 2.5, None, 40.0, 0.5, 45.5),
    "remote_ip": "93.184.215.14",
    "http_version": "1.1",
    "final_url": "https://e.example/d/",
    "redirects": (Redirect("https://e.example/d", 301),),
    "tls": TlsFacts("TLSv1.3", "CN=CA", "CN=e.example", ("e.example",), "2027-01-15T23:59:59Z", 45.1),
    "headers": {"x-cache": "HIT"},
    "checks": (Check("status", True), Check("json:/status", False, "UP", "DOWN")),
    "degraded": False,
}
"""A checked response's details: fields of its result."""

RESULTS = (
    UrlResult("https://e.example/a", Outcome.OK, 200, 1, 12.34, 99, None),
    UrlResult(
        "https://e.example/b", Outcome.FAILED, None, 3, 903.15, None, ErrorInfo("ConnectError", "refused")
    ),
    UrlResult("https://e.example/c", Outcome.NOT_STARTED, None, 0, None, None, None),
    UrlResult("https://e.example/d", Outcome.CHECK_FAILED, 200, 1, 45.5, 10, None, **CHECKED),
)


def inline_answer() -> RunDocument:
    return RunDocument(
        run_id="r",
        source=Source.API,
        started_at="2026-12-01T00:00:00.000Z",
        summary=Summary.of_results(RESULTS),
        results=RESULTS,
        degraded=0,
        budget_ms=27_500.04,
        elapsed_ms=1_234.56,
        deadline_reached=True,
        stopped_on_error=False,
        targets="s3://b/k",
        leftovers=Leftovers((2,), carried_over=True),
        continuation=Continuation("running", urls=1, shards=1, location="/runs/r"),
        persisted=Persisted(
            StoreOutcome(StoreStatus.PENDING, bucket="b", key="reports/r.json.gz"),
            StoreOutcome(StoreStatus.STORED, table="t"),
        ),
        results_omitted=ResultsOmitted(answer_bytes=10, limit_bytes=5, kept=3, omitted=0),
    )


def test_an_answer_comes_back_from_its_json_as_it_was() -> None:
    answer = inline_answer()
    wire = json.loads(json.dumps(answer.to_json()))
    back = RunDocument.from_json(wire)
    assert back.to_json() == answer.to_json()
    assert back.results == RESULTS
    assert [r.elapsed_ms for r in RESULTS] == [12.3, 903.1, None, 45.5]  # 0.1 ms, where they are made


def test_fields_that_do_not_apply_are_left_out() -> None:
    launched = RunDocument(
        run_id="r",
        source=Source.SCHEDULE,
        started_at="2026-12-01T00:00:00.000Z",
        summary=Summary.of((), total=5_000),
        mode=SHARDED,
        status=RunStatus.RUNNING,
        shards_total=10,
        shards_done=0,
        location="/runs/r",
    ).to_json()
    assert set(launched) == {
        "run_id", "source", "started_at", "mode", "status", "summary", "shards_total", "shards_done",
        "location",
    }  # fmt: skip
    assert launched["summary"]["total"] == 5_000
    assert sum(v for k, v in launched["summary"].items() if k != "total") == 0
    assert "replayed" not in inline_answer().to_json()


def test_persisted_is_stored_only_when_both_stores_stored() -> None:
    stored, off = StoreOutcome(StoreStatus.STORED), StoreOutcome(StoreStatus.OFF)
    assert Persisted(stored, stored).to_json()["stored"] is True
    assert Persisted(stored, off).to_json() == {
        "stored": False,
        "report": {"status": "stored"},
        "record": {"status": "off"},
    }
    failed = StoreOutcome(StoreStatus.TIMED_OUT, ErrorInfo("Timeout", "no answer"), bucket="b", key="k")
    assert failed.to_json() == {"status": "timed_out", "error": {"type": "Timeout", "message": "no answer"},
                                "bucket": "b", "key": "k"}  # fmt: skip


def test_a_checked_result_flattens_its_details_and_reads_them_back() -> None:
    """What a shard stores and the merge reads back: the details survive the trip."""
    wire = json.loads(json.dumps(RESULTS[3].to_json()))
    assert wire["checks"][1] == {"check": "json:/status", "ok": False, "expected": "UP", "actual": "DOWN"}
    assert wire["timings"]["tls_ms"] is None
    assert wire["tls"]["days_to_expiry"] == 45.1
    assert UrlResult.from_json(wire) == RESULTS[3]
    assert UrlResult.from_json(wire).failed_checks == ("json:/status",)
    assert "checks" not in RESULTS[0].to_json()
    assert UrlResult.from_json(RESULTS[0].to_json()) == RESULTS[0]
