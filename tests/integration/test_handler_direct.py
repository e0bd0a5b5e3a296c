"""The direct invoke through ``handle_event``, as Lambda calls it, against a real server.

Lambda's side is only its interface: a context object whose
``get_remaining_time_in_millis`` counts down on the real clock. Each call runs its own
event loop, as warm invocations in one process do.
"""

from __future__ import annotations

import asyncio
import gc
import json
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from devtools.demo_target import DemoTarget
from fanout.config import TransportName, get_settings
from fanout.core.budget import LAMBDA_MAX_REMAINING_MS, cleanup_s, margin_s
from fanout.core.requests import parse_request
from fanout.entry.router import handle_event
from fanout.observability.log import metrics
from fanout.runs.fetch_run import fetch_run
from tests.support import SLACK_S, TRANSPORTS, InvocationContext, open_connections_after, run_context

SETTINGS = get_settings()


@pytest.fixture(autouse=True)
def _drop_buffered_metrics() -> Iterator[None]:
    """Lambda calls ``handle_event`` through ``lambda_handler``, whose decorator flushes
    the metrics each run adds; called directly, they would wait for the next test's flush."""
    yield
    metrics.clear_metrics()


class FixedContext:
    """A context whose remaining time is whatever it was told (emulators report nonsense)."""

    def __init__(self, remaining_ms: float) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms  # type: ignore[return-value]


def reserve_ms(n_urls: int) -> float:
    """What the run's budget leaves of the remaining time: the margin after the return
    deadline and the cleanup of the fetches in flight before it (README "The deadline")."""
    in_flight = min(n_urls, SETTINGS.default_concurrency)
    return (margin_s(n_urls, SETTINGS) + cleanup_s(in_flight, SETTINGS)) * 1000


def invoke(event: object, remaining_ms: float) -> tuple[dict[str, Any], float]:
    """``handle_event`` with a context counting down from ``remaining_ms``; (answer, seconds)."""
    t0 = time.monotonic()
    answer = handle_event(event, InvocationContext(remaining_ms))
    return answer, time.monotonic() - t0


def test_direct_invoke_answers_with_the_document(fresh_target: DemoTarget) -> None:
    urls = [fresh_target.url("/ok?bytes=7"), fresh_target.url("/status/404")]
    answer, _ = invoke({"urls": urls, "options": {"retries": 0}}, 10_000)
    assert answer["source"] == "direct"
    assert [r["url"] for r in answer["results"]] == urls
    assert [(r["outcome"], r["status_code"]) for r in answer["results"]] == [("ok", 200), ("http_error", 404)]
    assert answer["results"][0]["bytes"] == 7
    assert answer["summary"]["total"] == 2
    assert uuid.UUID(answer["run_id"]).version == 7
    assert answer["started_at"].endswith("Z")
    # The budget is the remaining time less the margin and the cleanup, read once at the start.
    assert 10_000 - reserve_ms(2) - 100 <= answer["budget_ms"] <= 10_000 - reserve_ms(2)
    assert answer["elapsed_ms"] < answer["budget_ms"]
    json.dumps(answer)  # plain JSON


@pytest.mark.parametrize(
    ("event", "loc"),
    [
        ({}, "urls"),
        ({"urls": []}, "urls"),
        ({"urls": "http://x"}, "urls"),
        ({"urls": [42]}, "urls.0"),
        ({"urls": [{"url": "http://x", "method": "FETCH"}]}, "urls.0.method"),
        ({"urls": ["http://x"], "options": {"concurrency": 0}}, "options.concurrency"),
        ({"urls": ["http://x"], "options": {"request_timeout_s": "10"}}, "options.request_timeout_s"),
        ({"urls": ["http://x"], "optons": {}}, "optons"),
        (["http://x"], ""),
        (None, ""),
    ],
)
def test_bad_direct_request_returns_a_validation_error_and_does_not_raise(event: object, loc: str) -> None:
    answer = handle_event(event, InvocationContext(5_000))
    assert set(answer) == {"error"}
    error = answer["error"]
    assert error["type"] == "validation_error"
    assert error["title"]
    assert error["detail"]
    assert loc in [e["loc"] for e in error["errors"]]
    assert all(set(e) >= {"loc", "msg", "type"} for e in error["errors"])
    json.dumps(answer)


@pytest.mark.parametrize(
    "path",
    ["/hang", "/trickle?interval_ms=100", "/slow-headers?interval_ms=100"],
)
def test_returns_before_the_lambda_timeout_whatever_the_endpoints_do(
    fresh_target: DemoTarget, path: str
) -> None:
    remaining_ms = 2_000
    sep = "&" if "?" in path else "?"
    urls = [fresh_target.url(f"{path}{sep}n={i}") for i in range(20)]
    event = {
        "urls": urls,
        "options": {"request_timeout_s": 60, "concurrency": 10, "per_host_concurrency": 10},
    }
    answer, elapsed = invoke(event, remaining_ms)
    assert elapsed < remaining_ms / 1000  # before the Lambda timeout: the whole point
    assert answer["deadline_reached"]
    assert answer["summary"] == answer["summary"] | {"total": 20, "cancelled": 10, "not_started": 10}
    assert open_connections_after(fresh_target) == 0


@pytest.mark.parametrize("remaining_ms", [-5_000, 0, float("nan")])
def test_no_time_left_answers_at_once_with_nothing_started(
    fresh_target: DemoTarget, remaining_ms: float
) -> None:
    urls = [fresh_target.url("/ok"), fresh_target.url("/ok?b=1")]
    t0 = time.monotonic()
    answer = handle_event({"urls": urls}, FixedContext(remaining_ms))
    assert time.monotonic() - t0 < SLACK_S
    assert answer["budget_ms"] == 0
    assert [r["outcome"] for r in answer["results"]] == ["not_started", "not_started"]
    assert fresh_target.stats()["hits"].get("/ok", 0) == 0


def test_absurd_remaining_time_is_clamped_to_fifteen_minutes(fresh_target: DemoTarget) -> None:
    answer = handle_event({"urls": [fresh_target.url("/ok")]}, FixedContext(10**12))
    assert answer["budget_ms"] == pytest.approx(LAMBDA_MAX_REMAINING_MS - reserve_ms(1), abs=0.1)
    assert answer["results"][0]["outcome"] == "ok"


def test_warm_invocations_in_one_process_leak_nothing(fresh_target: DemoTarget) -> None:
    threads_before = threading.active_count()
    run_ids: list[str] = []
    for i in range(6):
        urls = [
            fresh_target.url(f"/ok?bytes={i + 1}"),
            fresh_target.url("/hang"),
            fresh_target.url("/hang?x=1"),
        ]
        # Every other invocation ends at its deadline with URLs still in flight.
        options = {"request_timeout_s": 30 if i % 2 else 0.3}
        answer, elapsed = invoke({"urls": urls, "options": options}, 1_500)
        assert elapsed < 1.5
        outcomes = [r["outcome"] for r in answer["results"]]
        assert outcomes == (["ok", "cancelled", "cancelled"] if i % 2 else ["ok", "timed_out", "timed_out"])
        assert answer["results"][0]["bytes"] == i + 1
        assert answer["deadline_reached"] == bool(i % 2)
        assert open_connections_after(fresh_target) == 0
        run_ids.append(answer["run_id"])
        time.sleep(0.002)  # run ids sort by millisecond
    assert len(set(run_ids)) == 6
    assert run_ids == sorted(run_ids)
    gc.collect()  # anything left unclosed would warn (an error here) now
    assert threading.active_count() == threads_before


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_runs_in_successive_event_loops_work_with_either_transport(
    fresh_target: DemoTarget, transport: TransportName
) -> None:
    """What a warm start does, with each transport: a new loop, a new client, every time."""
    settings = SETTINGS.model_copy(update={"http_transport": transport})
    request = parse_request(
        {
            "urls": [
                fresh_target.url("/ok?bytes=3"),
                fresh_target.url("/hang"),
                fresh_target.url("/status/404"),
            ],
            "options": {"request_timeout_s": 30, "retries": 0},
        },
        settings,
    )

    async def one_invocation() -> dict[str, Any]:
        document = await fetch_run(request, run_context(0.6), settings=settings)
        assert asyncio.all_tasks() == {asyncio.current_task()}
        return document.to_json()

    threads_before = threading.active_count()
    for _ in range(4):
        document = asyncio.run(one_invocation())
        assert [r["outcome"] for r in document["results"]] == ["ok", "cancelled", "http_error"]
        assert open_connections_after(fresh_target) == 0
    gc.collect()
    assert threading.active_count() == threads_before
