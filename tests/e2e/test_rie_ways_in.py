"""The three ways in, end to end through the real Lambda Runtime Interface Emulator.

The same event files `sam local invoke` and `make invoke` use, pointed at the local
demo target: the API answer (200 + document, and a problem+json for a bad request),
both schedule shapes, and the direct invoke.
"""

from __future__ import annotations

import json

import pytest

from devtools.demo_target import DemoTarget
from devtools.events import load_event
from devtools.rie import LambdaEmulator, function_error

pytestmark = pytest.mark.e2e


def test_api_event_answers_200_with_the_result_document(emulator: LambdaEmulator, target: DemoTarget) -> None:
    payload, _ = emulator.invoke(load_event("api.json", base_url=target.base_url))
    assert function_error(payload) is None, emulator.log_tail()
    assert payload["statusCode"] == 200
    document = json.loads(payload["body"])
    assert document["source"] == "api"
    assert [r["outcome"] for r in document["results"]] == ["ok", "http_error", "ok"]


def test_bad_api_event_answers_problem_json(emulator: LambdaEmulator, target: DemoTarget) -> None:
    payload, _ = emulator.invoke(load_event("api-bad.json", base_url=target.base_url))
    assert payload["statusCode"] == 422
    assert payload["headers"]["Content-Type"] == "application/problem+json"
    problem = json.loads(payload["body"])
    assert {e["loc"] for e in problem["errors"]} >= {"urls", "options.concurrency", "options.on_error"}


@pytest.mark.parametrize("name", ["schedule.json", "schedule-input.json"])
def test_both_schedule_shapes(emulator: LambdaEmulator, target: DemoTarget, name: str) -> None:
    payload, _ = emulator.invoke(load_event(name, base_url=target.base_url))
    assert function_error(payload) is None, emulator.log_tail()
    assert payload["source"] == "schedule"
    assert [r["outcome"] for r in payload["results"]] == ["ok", "http_error", "ok"]


def test_direct_event(emulator: LambdaEmulator, target: DemoTarget) -> None:
    event = load_event("direct.json", base_url=target.base_url)
    event["urls"] = event["urls"][:6]
    payload, _ = emulator.invoke(event)
    assert payload["source"] == "direct"
    assert payload["summary"]["total"] == 6
    assert payload["summary"]["ok"] == 5
