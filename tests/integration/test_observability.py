"""Logs and metrics as CloudWatch would receive them: JSON lines on stdout."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from devtools.demo_target import DemoTarget
from devtools.events import load_event
from fanout.core.documents import RunDocument
from fanout.handler import lambda_handler
from fanout.observability.log import logger, metrics
from fanout.runs.report import MAX_URL_WARNINGS, report_run
from tests.support import InvocationContext


def json_lines(text: str) -> list[dict[str, Any]]:
    lines = []
    for line in text.splitlines():
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines


def test_metrics_are_flushed_when_the_run_ends_at_its_deadline(
    target: DemoTarget, capfd: pytest.CaptureFixture[str]
) -> None:
    event = {"urls": [target.url("/hang"), target.url("/ok")], "options": {"request_timeout_s": 60}}
    document = lambda_handler(event, InvocationContext(remaining_ms=1200))
    assert document["deadline_reached"] is True
    emf = [line for line in json_lines(capfd.readouterr().out) if "_aws" in line]
    assert len(emf) >= 1
    metrics = emf[-1]
    assert metrics["urls_cancelled"] == [1.0]
    assert metrics["urls_ok"] == [1.0]
    assert metrics["source"] == "direct"
    assert metrics["deadline_slack"][0] > 0  # returned before the Lambda timeout


def test_a_failed_check_is_counted_and_logged_with_the_checks_it_failed(
    target: DemoTarget, capfd: pytest.CaptureFixture[str]
) -> None:
    urls = [target.url("/health?status=DOWN"), target.url("/health?delay_ms=300"), target.url("/health")]
    event = {"urls": urls, "options": {"expect": {"json": {"/status": "UP"}, "degraded_latency_ms": 200}}}
    with captured_logs() as stream:
        document = lambda_handler(event, InvocationContext(remaining_ms=5000))
    assert document["summary"]["check_failed"] == 1
    assert document["degraded"] == 1
    metrics = [line for line in json_lines(capfd.readouterr().out) if "_aws" in line][-1]
    assert (metrics["urls_check_failed"], metrics["urls_degraded"], metrics["urls_ok"]) == (
        [1.0],
        [1.0],
        [2.0],
    )
    logs = json_lines(stream.getvalue())
    [warning] = [line for line in logs if line.get("message") == "url did not succeed"]
    assert (warning["outcome"], warning["checks_failed"]) == ("check_failed", ["json:/status"])


@contextmanager
def captured_logs() -> Iterator[io.StringIO]:
    """The service logger's JSON lines, as its stdout handler writes them."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logger.registered_formatter)
    logger.addHandler(handler)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)


def test_api_request_id_is_the_correlation_id_and_failures_are_logged_redacted(target: DemoTarget) -> None:
    event = load_event("api.json", base_url=target.base_url)
    body = {"urls": [target.url("/status/500?token=s3cret"), target.url("/ok")], "options": {"retries": 0}}
    event["body"] = json.dumps(body)
    with captured_logs() as stream:
        response = lambda_handler(event, InvocationContext(remaining_ms=5000))
    assert response["statusCode"] == 200
    logs = [line for line in json_lines(stream.getvalue()) if "level" in line]
    request_id = event["requestContext"]["requestId"]
    assert logs
    assert {line.get("correlation_id") for line in logs} == {request_id}
    warnings = [line for line in logs if line["message"] == "url did not succeed"]
    assert len(warnings) == 1
    assert warnings[0]["level"] == "WARNING"
    assert warnings[0]["outcome"] == "http_error"
    assert "s3cret" not in json.dumps(logs)
    (summary,) = [line for line in logs if line["message"] == "run finished"]
    assert summary["summary"]["total"] == 2


def test_cancelled_and_not_started_urls_are_counted_not_logged_one_by_one(target: DemoTarget) -> None:
    urls = [target.url("/hang"), target.url("/hang?b=1"), target.url("/status/404")]
    event = {"urls": urls, "options": {"request_timeout_s": 60, "concurrency": 1, "retries": 0}}
    with captured_logs() as stream:
        document = lambda_handler(event, InvocationContext(remaining_ms=1200))
    outcomes = [r["outcome"] for r in document["results"]]
    assert outcomes == ["cancelled", "not_started", "not_started"]
    logs = [line for line in json_lines(stream.getvalue()) if "level" in line]
    assert not [line for line in logs if line["message"] == "url did not succeed"]
    (summary,) = [line for line in logs if line["message"] == "run finished"]
    assert summary["summary"]["cancelled"] == 1
    assert summary["summary"]["not_started"] == 2
    assert summary["url_warnings_omitted"] == 0


def _result(i: int, outcome: str) -> dict[str, Any]:
    error = (
        None if outcome in ("cancelled", "not_started") else {"type": "ConnectError", "message": "refused"}
    )
    return {
        "url": f"http://example.com/{i}?k=secret",
        "outcome": outcome,
        "status_code": None,
        "attempts": 1,
        "elapsed_ms": 1.0,
        "bytes": None,
        "error": error,
    }


def test_per_url_warnings_are_capped_per_run() -> None:
    failed = MAX_URL_WARNINGS + 150
    results = [_result(i, "failed") for i in range(failed)]
    results += [
        _result(failed + i, outcome) for i, outcome in enumerate(["ok", "cancelled", "not_started"] * 10)
    ]
    summary = {
        "total": len(results),
        "ok": 10,
        "http_error": 0,
        "check_failed": 0,
        "failed": failed,
        "timed_out": 0,
        "cancelled": 10,
        "not_started": 10,
        "blocked": 0,
    }
    document = {
        "run_id": "r",
        "source": "direct",
        "started_at": "2026-12-01T00:00:00.000Z",
        "summary": summary,
        "elapsed_ms": 1.0,
        "budget_ms": 2.0,
        "deadline_reached": True,
        "results": results,
    }
    try:
        with captured_logs() as stream:
            report_run(RunDocument.from_json(document), slack_ms=100.0)
    finally:
        metrics.clear_metrics()
    logs = json_lines(stream.getvalue())
    warnings = [line for line in logs if line["message"] == "url did not succeed"]
    assert len(warnings) == MAX_URL_WARNINGS
    assert [w["url"] for w in warnings] == [
        f"http://example.com/{i}?<redacted>" for i in range(MAX_URL_WARNINGS)
    ]
    assert {w["outcome"] for w in warnings} == {"failed"}
    (finished,) = [line for line in logs if line["message"] == "run finished"]
    assert finished["url_warnings_omitted"] == 150
    assert finished["summary"] == summary
