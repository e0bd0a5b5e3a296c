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
from fanout.handler import lambda_handler
from fanout.observe import logger, redact_url
from tests.conftest import InvocationContext


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


@pytest.mark.parametrize(
    ("url", "redacted"),
    [
        ("https://user:pw@example.com:8443/a/b?token=x#frag", "https://example.com:8443/a/b?<redacted>"),
        ("http://example.com/path", "http://example.com/path"),
        ("http://[::1]:80/x", "http://[::1]:80/x"),
        ("http://[::1", "<unparseable url>"),
    ],
)
def test_redact_url(url: str, redacted: str) -> None:
    assert redact_url(url) == redacted
