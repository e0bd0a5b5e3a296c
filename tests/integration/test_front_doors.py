"""The three ways in, through the real Lambda handler with realistic events.

API Gateway HTTP API (payload v2), the EventBridge schedule (envelope and constant
Input) and the direct invoke; every bad HTTP request gets a problem+json 4xx.
"""

from __future__ import annotations

import base64
import copy
import json
import time
from typing import Any

import pytest

from devtools.demo_target import DemoTarget
from devtools.events import load_event
from fanout.handler import lambda_handler
from tests.support import InvocationContext

KEEP: Any = object()


def api_event(target: DemoTarget, body: Any = KEEP, **overrides: Any) -> dict[str, Any]:
    event: dict[str, Any] = load_event("api.json", base_url=target.base_url)
    if body is not KEEP:
        event["body"] = body if body is None or isinstance(body, str) else json.dumps(body)
    for key, value in overrides.items():
        if key == "method":
            event["requestContext"]["http"]["method"] = value
            event["routeKey"] = f"{value} {event['rawPath']}"
        elif key == "path":
            event["rawPath"] = value
            event["requestContext"]["http"]["path"] = value
        elif key == "content_type":
            if value is None:
                event["headers"].pop("content-type", None)
            else:
                event["headers"]["content-type"] = value
        else:
            event[key] = value
    return event


def invoke(event: Any, remaining_ms: float = 10_000) -> Any:
    return lambda_handler(event, InvocationContext(remaining_ms))


def problem(response: dict[str, Any]) -> dict[str, Any]:
    assert response["headers"]["Content-Type"] == "application/problem+json"
    body: dict[str, Any] = json.loads(response["body"])
    assert body["status"] == response["statusCode"]
    assert {"type", "title", "status", "detail"} <= body.keys()
    return body


def test_api_post_fanout_answers_200_with_the_document(target: DemoTarget) -> None:
    response = invoke(api_event(target))
    assert response["statusCode"] == 200
    assert response["headers"]["Content-Type"] == "application/json"
    document = json.loads(response["body"])
    assert document["source"] == "api"
    assert [r["outcome"] for r in document["results"]] == ["ok", "http_error", "ok"]
    assert document["summary"]["total"] == 3


BAD_REQUESTS: list[tuple[str, dict[str, Any], int, str]] = [
    ("malformed JSON", {"body": '{"urls": ['}, 400, "malformed-body"),
    ("invalid base64", {"body": "%%%not base64%%%", "isBase64Encoded": True}, 400, "malformed-body"),
    (
        "invalid UTF-8",
        {"body": base64.b64encode(b'{"urls": ["\xff\xfe"]}').decode(), "isBase64Encoded": True},
        400,
        "malformed-body",
    ),
    ("absurd nesting", {"body": "[" * 100_000 + "]" * 100_000}, 400, "malformed-body"),
    (
        "wrong types",
        {"body": json.dumps({"urls": "http://x", "options": {"retries": "2"}})},
        422,
        "validation-error",
    ),
    ("missing urls", {"body": json.dumps({"options": {}})}, 422, "validation-error"),
    ("empty urls", {"body": json.dumps({"urls": []})}, 422, "validation-error"),
    ("empty body", {"body": None}, 422, "validation-error"),
    (
        "option out of range",
        {"body": json.dumps({"urls": ["http://a"], "options": {"concurrency": 10**6}})},
        422,
        "validation-error",
    ),
    (
        "unknown option",
        {"body": json.dumps({"urls": ["http://a"], "options": {"concurency": 5}})},
        422,
        "validation-error",
    ),
    (
        "unsupported content type",
        {"content_type": "text/plain", "body": "urls=x"},
        415,
        "unsupported-media-type",
    ),
    (
        "form content type",
        {"content_type": "application/x-www-form-urlencoded", "body": "urls=x"},
        415,
        "unsupported-media-type",
    ),
    ("unknown route", {"path": "/nope"}, 404, "not-found"),
    ("wrong method", {"method": "GET", "body": None}, 405, "method-not-allowed"),
]


@pytest.mark.parametrize(("case", "change", "status", "slug"), BAD_REQUESTS, ids=[c[0] for c in BAD_REQUESTS])
def test_every_bad_request_is_a_problem_json_4xx(
    fresh_target: DemoTarget, case: str, change: dict[str, Any], status: int, slug: str
) -> None:
    response = invoke(api_event(fresh_target, **change))
    assert response["statusCode"] == status, response["body"][:500]
    body = problem(response)
    assert body["type"].endswith(slug)
    assert body["instance"] == "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
    assert fresh_target.stats()["requests"] == 0  # nothing was fetched
    if slug == "method-not-allowed":
        assert response["headers"]["Allow"] == "POST"


def test_too_many_urls_is_422_naming_the_limit(target: DemoTarget) -> None:
    from fanout.config import get_settings

    SETTINGS = get_settings()
    urls = ["http://127.0.0.1:1/"] * (SETTINGS.max_urls + 1)
    body = problem(invoke(api_event(target, {"urls": urls})))
    assert body["status"] == 422
    assert body["errors"][0]["loc"] == "urls"
    assert str(SETTINGS.max_urls) in body["errors"][0]["msg"]


def test_the_api_validates_within_the_invocations_settings(
    target: DemoTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The resolver validates the body; its defaults and maxima are the deployment's settings."""
    from fanout.config import get_settings

    settings = get_settings().model_copy(
        update={"max_retries": 1, "default_retries": 0, "default_request_timeout_s": 0.2}
    )
    monkeypatch.setattr("fanout.config._current", settings)
    body = problem(invoke(api_event(target, {"urls": [target.url("/ok")], "options": {"retries": 2}})))
    assert body["status"] == 422
    assert body["errors"] == [
        {
            "loc": "options.retries",
            "msg": "Input should be less than or equal to 1",
            "type": "less_than_equal",
        }
    ]
    slow = target.url("/hang")
    response = invoke(api_event(target, {"urls": [slow]}))  # the default timeout: 0.2 s, no retry
    assert response["statusCode"] == 200, response["body"][:500]
    (result,) = json.loads(response["body"])["results"]
    assert (result["outcome"], result["attempts"]) == ("timed_out", 1)


def test_validation_errors_point_at_the_field(target: DemoTarget) -> None:
    body = problem(invoke(api_event(target, {"urls": ["http://a", {"url": "http://b", "method": 7}]})))
    assert [e["loc"] for e in body["errors"]] == ["urls.1.method"]


BAD_EXPECTATIONS = [
    ({"options": {"expect": {"json": {"status": "UP"}}}}, "options.expect.json", "JSON Pointer"),
    ({"options": {"expect": {"body_regex": "(unclosed"}}}, "options.expect.body_regex", "regular expression"),
    ({"options": {"expect": {"latency": 5}}}, "options.expect.latency", "not permitted"),
    ({"options": {"expect": {"status": ["500-200"]}}}, "options.expect.status", "'500-200'"),
    ({"expect": {"headers": {"x-cache": "(["}}}, "urls.0.expect.headers", "x-cache"),
]


@pytest.mark.parametrize(("change", "loc", "says"), BAD_EXPECTATIONS, ids=[c[1] for c in BAD_EXPECTATIONS])
def test_a_bad_expectation_is_a_422_through_the_api_and_a_typed_error_invoked_directly(
    fresh_target: DemoTarget, change: dict[str, Any], loc: str, says: str
) -> None:
    entry = {"url": fresh_target.url("/health")} | {k: v for k, v in change.items() if k != "options"}
    request = {"urls": [entry], "options": change.get("options", {})}
    body = problem(invoke(api_event(fresh_target, request)))
    assert body["status"] == 422
    [error] = body["errors"]
    assert error["loc"] == loc
    assert says in error["msg"]
    answer = invoke(request)
    assert answer["error"]["type"] == "validation_error"
    assert [e["loc"] for e in answer["error"]["errors"]] == [loc]
    assert fresh_target.stats()["requests"] == 0


def very_bad_request(entries: int = 10_000) -> dict[str, Any]:
    """3.6 MB of JSON with 14 problems an entry: a wrong ``url`` type, a wrong ``method``, 12
    unknown fields (140,000 problems: listed in full, the error would exceed 6 MB)."""
    entry: dict[str, Any] = {"url": 12345, "method": "FETCH"}
    entry |= {f"unknown_field_{i}": "x" * 10 for i in range(12)}
    return {"urls": [dict(entry) for _ in range(entries)]}


def check_capped(error: dict[str, Any], total: int) -> None:
    from fanout.errors import MAX_LISTED_PROBLEMS

    assert str(total) in error["detail"]
    assert len(error["errors"]) == MAX_LISTED_PROBLEMS
    assert error["errors_total"] == total
    assert error["errors_omitted"] == total - MAX_LISTED_PROBLEMS
    assert [e["loc"] for e in error["errors"][:2]] == ["urls.0.url", "urls.0.method"]


def test_a_request_with_140000_problems_gets_a_small_error_naming_the_count(target: DemoTarget) -> None:
    request = very_bad_request()
    assert 3_500_000 < len(json.dumps(request)) < 6_000_000  # inside Lambda's request limit

    direct = invoke(request)
    assert len(json.dumps(direct)) < 64_000
    assert direct["error"]["type"] == "validation_error"
    check_capped(direct["error"], 140_000)

    response = invoke(api_event(target, request))
    assert response["statusCode"] == 422
    assert len(response["body"]) < 64_000
    check_capped(problem(response), 140_000)


def test_an_error_lists_every_problem_while_there_are_few(target: DemoTarget) -> None:
    body = problem(invoke(api_event(target, very_bad_request(entries=7))))
    assert len(body["errors"]) == 98
    assert "errors_total" not in body
    assert "errors_omitted" not in body


def test_api_deadline_is_capped_below_api_gateways_timeout(target: DemoTarget) -> None:
    """With 15 minutes left, an API run still answers before API Gateway gives up."""
    from fanout.config import get_settings

    SETTINGS = get_settings()

    event = api_event(target, {"urls": [target.url("/ok")]})
    document = json.loads(invoke(event, remaining_ms=900_000)["body"])
    assert document["budget_ms"] <= SETTINGS.api_deadline_cap_s * 1000
    assert SETTINGS.api_deadline_cap_s < 30


def test_api_run_hitting_its_deadline_still_answers_200(target: DemoTarget) -> None:
    event = api_event(
        target, {"urls": [target.url("/hang"), target.url("/ok")], "options": {"request_timeout_s": 60}}
    )
    started = time.monotonic()
    response = invoke(event, remaining_ms=1500)
    assert time.monotonic() - started < 1.5
    document = json.loads(response["body"])
    assert response["statusCode"] == 200
    assert [r["outcome"] for r in document["results"]] == ["cancelled", "ok"]


@pytest.mark.parametrize("name", ["schedule.json", "schedule-input.json"])
def test_both_schedule_shapes_run_and_report_schedule(target: DemoTarget, name: str) -> None:
    document = invoke(load_event(name, base_url=target.base_url))
    assert document["source"] == "schedule"
    assert [r["outcome"] for r in document["results"]] == ["ok", "http_error", "ok"]


def test_scheduler_envelope_from_eventbridge_scheduler_is_accepted(target: DemoTarget) -> None:
    event = load_event("schedule.json", base_url=target.base_url)
    event["source"] = "aws.scheduler"
    assert invoke(event)["source"] == "schedule"


def test_schedule_envelope_without_a_request_is_a_typed_error(target: DemoTarget) -> None:
    event = load_event("schedule.json", base_url=target.base_url)
    event["detail"] = {}
    answer = invoke(event)
    assert answer["error"]["type"] == "validation_error"
    assert answer["error"]["status"] == 422


@pytest.mark.parametrize("event", [[], "urls", 42, None, {"something": "else"}, {"urls": "x"}])
def test_an_event_that_is_none_of_the_three_is_a_validation_error_document(event: Any) -> None:
    answer = invoke(copy.deepcopy(event))
    assert answer["error"]["type"] == "validation_error"
    assert answer["error"]["detail"]


def test_direct_invoke_reports_direct(target: DemoTarget) -> None:
    document = invoke({"urls": [target.url("/ok")]})
    assert document["source"] == "direct"
    assert document["summary"]["ok"] == 1


def test_a_reset_url_is_requested_exactly_once_with_retries_zero(fresh_target: DemoTarget) -> None:
    """No hidden transport-level re-send: attempts reported == requests the server saw."""
    document = invoke(
        {"urls": [fresh_target.url("/reset"), fresh_target.url("/close")], "options": {"retries": 0}}
    )
    assert [r["outcome"] for r in document["results"]] == ["failed", "failed"]
    assert [r["attempts"] for r in document["results"]] == [1, 1]
    hits = fresh_target.stats()["hits"]
    assert hits["/reset"] == 1
    assert hits["/close"] == 1
