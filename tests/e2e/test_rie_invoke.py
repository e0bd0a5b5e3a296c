"""The function through the real Lambda Runtime Interface Emulator, checked from the outside.

The emulator (the ``aws-sam-cli`` wheel's ``aws-lambda-rie``) runs ``fanout.handler.lambda_handler``
with ``python -m awslambdaric`` as the Lambda base image does, enforces a short
``AWS_LAMBDA_FUNCTION_TIMEOUT`` and keeps the runtime warm between invocations. Nothing of Lambda is
mocked: the tests only send events, time the answers and watch the demo target and the logs.
"""

from __future__ import annotations

from typing import Any

import pytest

from devtools.demo_checks import DemoTls
from devtools.demo_target import DemoTarget
from devtools.events import load_event
from devtools.rie import LambdaEmulator, free_port, function_error
from tests.support import (
    E2E_ENV,
    EmulatorFactory,
    check_document,
    open_connections_after,
    requested_urls,
    requests_during,
    unique,
    within_lambda_timeout,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]


def test_one_result_per_url_in_input_order(emulator: LambdaEmulator, fresh_target: DemoTarget) -> None:
    t = fresh_target
    refused = f"http://127.0.0.1:{free_port()}/nobody-listens"
    expected: list[tuple[Any, str]] = [
        (t.url("/ok?bytes=100"), "ok"),
        (t.url("/status/404"), "http_error"),
        ({"url": t.url("/echo"), "method": "POST", "headers": {"X-Sig": "abc"}, "json": {"n": 1}}, "ok"),
        (t.url("/redirect/3"), "ok"),
        (t.url("/redirect-loop"), "failed"),
        (t.url("/reset"), "failed"),
        (refused, "failed"),
        (t.url("/ok?bytes=100"), "ok"),  # the same URL twice: two results
        (t.url(f"/flaky/{unique('order')}?fail=1"), "ok"),
        (t.url("/ok?delay_ms=300&bytes=7"), "ok"),
        (t.url("/status/500"), "http_error"),
        (t.url("/close"), "failed"),
    ]
    entries = [entry for entry, _ in expected]
    event = {"urls": entries, "options": {"request_timeout_s": 2, "retries": 1, "max_redirects": 5}}

    payload, wall_s = emulator.invoke(event)

    outcomes = check_document(payload, emulator, requested_urls(entries))
    assert outcomes == [outcome for _, outcome in expected], payload["results"]
    within_lambda_timeout(wall_s, emulator)
    assert payload["deadline_reached"] is False
    results = payload["results"]
    assert results[0]["status_code"] == 200
    assert results[0]["bytes"] == 100
    assert results[1]["status_code"] == 404
    assert results[8]["attempts"] == 2, "the flaky URL answered 503 once, then 200 on the retry"
    assert results[9]["bytes"] == 7
    assert all(r["error"] and r["error"]["type"] for r in results if r["outcome"] == "failed")
    assert open_connections_after(t) == 0


def test_the_demo_event_shows_every_kind_of_outcome(
    new_emulator: EmulatorFactory, fresh_target: DemoTarget
) -> None:
    """events/direct.json (what `make demo` sends): fast and slow successes, failures, cancellations,
    and checked URLs: an https health check passing, a JSON check failing, a slow answer degraded."""
    tls = DemoTls()
    try:
        with DemoTarget(ssl_context=tls.server_context(expires_in_days=45)) as secure:
            emulator = new_emulator(env=E2E_ENV | {"FANOUT_CA_BUNDLE": str(tls.ca_file)})
            event = load_event("direct.json", base_url=fresh_target.base_url, tls_base_url=secure.base_url)

            payload, wall_s = emulator.invoke(event)

            outcomes = check_document(payload, emulator, requested_urls(event["urls"]))
            assert open_connections_after(secure) == 0
    finally:
        tls.close()
    by_path = {r["url"].removeprefix(fresh_target.base_url): r for r in payload["results"]}
    assert outcomes == [
        "ok", "ok", "http_error", "ok", "ok", "ok", "failed", "cancelled", "cancelled",
        "ok", "check_failed", "ok",
    ]  # fmt: skip
    assert by_path["/flaky/demo-direct?fail=1&status=503"]["attempts"] == 2
    checked, down, slow = payload["results"][9:]
    assert [c["check"] for c in checked["checks"]] == [
        "status", "header:content-type", "json:/status", "cert_min_days",
    ]  # fmt: skip
    assert 44 < checked["tls"]["days_to_expiry"] <= 45
    assert [c["check"] for c in down["checks"] if not c["ok"]] == ["json:/status"]
    assert slow["degraded"] is True
    assert payload["degraded"] == 1
    assert payload["deadline_reached"] is True
    within_lambda_timeout(wall_s, emulator)
    assert open_connections_after(fresh_target) == 0


def stalling_urls(t: DemoTarget) -> list[str]:
    return [
        t.url("/hang"),
        t.url("/trickle?interval_ms=100"),
        t.url("/slow-headers?interval_ms=100"),
        t.url("/hang"),
        t.url("/trickle?interval_ms=500&bytes=1000"),
        t.url("/slow-headers?interval_ms=500"),
    ]


def test_answers_before_the_lambda_timeout_when_every_url_stalls(
    emulator: LambdaEmulator, fresh_target: DemoTarget
) -> None:
    urls = stalling_urls(fresh_target)
    event = {"urls": urls, "options": {"request_timeout_s": 300, "retries": 2}}

    payload, wall_s = emulator.invoke(event)

    outcomes = check_document(payload, emulator, urls)
    within_lambda_timeout(wall_s, emulator)
    assert outcomes == ["cancelled"] * len(urls), payload["results"]
    assert payload["deadline_reached"] is True
    assert payload["elapsed_ms"] < emulator.timeout_s * 1000
    assert all(r["attempts"] == 1 for r in payload["results"]), "a cancellation is never retried"


def test_nothing_outlives_the_answer(emulator: LambdaEmulator, fresh_target: DemoTarget) -> None:
    """Many stalled fetches and retry loops at the deadline: after the answer no connection stays
    open at the target and no request of that invocation arrives any more (no zombie task)."""
    t = fresh_target
    hangs = [t.url(f"/hang?n={i}") for i in range(120)]
    retry_loops = [
        t.url(f"/flaky/{unique('zombie')}?fail=1000000&status=503"),
        t.url(f"/flaky/{unique('zombie')}?fail=1000000&status=429&retry_after=1"),
    ]
    urls = retry_loops + stalling_urls(t) + hangs
    event = {
        "urls": urls,
        "options": {"concurrency": 60, "per_host_concurrency": 60, "request_timeout_s": 300, "retries": 10},
    }
    emulator.invoke({"urls": [t.url("/ok")]})  # a warm runtime: its init's threads are not the run's
    threads = emulator.runtime_threads()

    payload, wall_s = emulator.invoke(event)

    outcomes = check_document(payload, emulator, urls)
    within_lambda_timeout(wall_s, emulator)
    assert set(outcomes[:2]) <= {"http_error", "cancelled"}, payload["results"][:2]
    assert set(outcomes[2:]) <= {"cancelled", "not_started"}
    assert outcomes.count("cancelled") >= 6
    assert "not_started" in outcomes, "only 60 fetches run at once: the rest never started"
    assert payload["results"][0]["attempts"] >= 2, "the 503 URL was retried: a retry loop was under way"

    assert open_connections_after(t) == 0, "a connection of the invocation outlived its answer"
    assert t.stats()["in_flight"] == 0
    assert requests_during(t) == {}, "requests arrived after the answer: a task outlived the invocation"
    assert emulator.runtime_threads() == threads, "a thread of the invocation outlived its answer"


def test_warm_invocations_reuse_one_runtime(new_emulator: EmulatorFactory, fresh_target: DemoTarget) -> None:
    """A cold invocation that hits its deadline, then warm ones: one runtime process, initialised once."""
    t = fresh_target
    rie = new_emulator()
    stalled = [t.url("/ok?bytes=3"), t.url("/hang"), t.url("/trickle?interval_ms=100")]
    fast = [t.url("/ok?bytes=5"), t.url("/status/404"), t.url("/redirect/1")]

    first, first_wall_s = rie.invoke({"urls": stalled, "options": {"request_timeout_s": 60}})
    assert check_document(first, rie, stalled) == ["ok", "cancelled", "cancelled"]
    within_lambda_timeout(first_wall_s, rie)
    runtime = rie.runtime_pids()
    assert len(runtime) == 1, runtime

    run_ids = {first["run_id"]}
    for _ in range(2):
        payload, wall_s = rie.invoke({"urls": fast})
        assert check_document(payload, rie, fast) == ["ok", "http_error", "ok"]
        assert payload["deadline_reached"] is False
        within_lambda_timeout(wall_s, rie)
        assert rie.runtime_pids() == runtime, "the runtime process changed between warm invocations"
        run_ids.add(payload["run_id"])
    assert len(run_ids) == 3

    assert rie.wait_for_log(r"REPORT RequestId", count=3), rie.log_tail()
    assert rie.init_count() == 1, "the function was initialised more than once"
    assert rie.count("INVOKE START") == 3
    assert rie.count("Reset initiated") == 0, "the emulator reset (killed) the runtime"
    assert rie.leak_lines() == []
    assert open_connections_after(t) == 0


BAD_REQUESTS: list[Any] = [
    {"urls": []},
    {},
    {"urls": "http://127.0.0.1:9/not-a-list"},
    {"urls": [42]},
    {"urls": ["http://127.0.0.1:9/x"], "options": {"concurrency": 0}},
    {"urls": ["http://127.0.0.1:9/x"], "options": {"request_timeout_s": 100000}},
    {"urls": ["http://127.0.0.1:9/x"], "unexpected": True},
    {"urls": [{"url": "http://127.0.0.1:9/x", "method": "BREW"}]},
    [],
    "just a string",
    None,
]


@pytest.mark.parametrize("event", BAD_REQUESTS, ids=[repr(e)[:40] for e in BAD_REQUESTS])
def test_a_bad_request_gets_a_validation_error_and_the_runtime_survives(
    emulator: LambdaEmulator, event: Any
) -> None:
    runtime, inits = emulator.runtime_pids(), emulator.init_count()

    payload, wall_s = emulator.invoke(event)

    assert function_error(payload) is None, f"{payload}\n{emulator.log_tail()}"
    error = payload["error"]
    assert error["type"] == "validation_error"
    assert error["title"]
    assert error["detail"]
    assert isinstance(error["errors"], list)
    assert error["errors"]
    within_lambda_timeout(wall_s, emulator)
    assert emulator.runtime_pids() == runtime, "the runtime crashed and was restarted"
    assert emulator.init_count() == inits


def test_a_request_whose_error_would_exceed_the_response_limit_gets_a_small_one(
    emulator: LambdaEmulator,
) -> None:
    """3.6 MB, 140,000 problems: listed in full the error would not fit Lambda's 6 MB response."""
    entry: dict[str, Any] = {"url": 12345, "method": "FETCH"} | {f"unknown_{i}": "x" * 10 for i in range(12)}
    event = {"urls": [dict(entry) for _ in range(10_000)]}

    payload, wall_s = emulator.invoke(event)

    assert function_error(payload) is None, f"{str(payload)[:500]}\n{emulator.log_tail()}"
    error = payload["error"]
    assert (error["type"], error["errors_total"], len(error["errors"])) == ("validation_error", 140_000, 100)
    assert "140000 problem(s)" in error["detail"]
    within_lambda_timeout(wall_s, emulator)


def test_the_logs_show_no_leak_and_no_crash(emulator: LambdaEmulator, fresh_target: DemoTarget) -> None:
    """Runs last in this module: everything its emulator ran, asyncio and aiohttp never complained."""
    urls = [fresh_target.url("/ok"), fresh_target.url("/hang")]
    payload, _ = emulator.invoke({"urls": urls, "options": {"request_timeout_s": 0.5, "retries": 0}})
    assert check_document(payload, emulator, urls) == ["ok", "timed_out"]
    invokes = emulator.count("INVOKE START")
    assert emulator.wait_for_log(r"REPORT RequestId", count=invokes), emulator.log_tail()

    assert emulator.leak_lines() == []
    assert emulator.init_count() == 1, "the runtime was restarted (a timeout or a crash)"
    assert emulator.count("Reset initiated") == 0
    assert emulator.count("Task timed out") == 0
