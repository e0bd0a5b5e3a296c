"""The request contract (validation, defaults, caps) and the typed results and document."""

from __future__ import annotations

import json
import time
import uuid
from datetime import datetime
from typing import Any

import pytest
from pydantic import ValidationError

from fanout.config import Settings, get_settings
from fanout.core.documents import RunDocument, Source
from fanout.core.ids import new_run_id, utc_now_iso
from fanout.core.requests import FanoutRequest, Options, TargetsRequest, UrlEntry, parse_request
from fanout.core.results import ErrorInfo, Outcome, Summary, UrlResult
from fanout.core.targets import request_for
from fanout.errors import RequestInvalid

S = get_settings()


def summarize(results: list[UrlResult]) -> dict[str, int]:
    return Summary.of_results(results).to_json()


URL = "https://example.com/a"


def problems(payload: object) -> list[tuple[str, str]]:
    """(loc, type) of every problem ``parse_request`` finds in ``payload``."""
    with pytest.raises(RequestInvalid) as caught:
        parse_request(payload, S)
    errors = caught.value.errors
    assert errors, "RequestInvalid without errors"
    assert all(set(e) == {"loc", "msg", "type"} and e["msg"] for e in errors)
    json.dumps(errors)  # goes into a JSON answer as it is
    return [(e["loc"], e["type"]) for e in errors]


def with_options(**options: Any) -> dict[str, Any]:
    return {"urls": [URL], "options": options}


# -- what is accepted ---------------------------------------------------------------


def test_a_bare_list_of_urls_gets_every_default() -> None:
    request = parse_request({"urls": [URL, "http://b.example/x?q=1"]}, S)
    assert [(e.url, e.method, e.headers, e.retry) for e in request.entries()] == [
        (URL, "GET", {}, None),
        ("http://b.example/x?q=1", "GET", {}, None),
    ]
    o = request.options
    assert (o.concurrency, o.per_host_concurrency, o.request_timeout_s, o.retries) == (
        S.default_concurrency,
        S.default_per_host_concurrency,
        S.default_request_timeout_s,
        S.default_retries,
    )
    assert (o.on_error, o.follow_redirects, o.max_redirects, o.max_body_bytes) == (
        "continue",
        True,
        S.default_max_redirects,
        S.default_max_body_bytes,
    )


def test_the_issue_example_request_is_accepted() -> None:
    request = parse_request(
        {
            "urls": [
                "https://example.com/a",
                {
                    "url": "https://hooks.example.com/x",
                    "method": "POST",
                    "headers": {"X-Sig": "abc"},
                    "json": {"event": "deploy"},
                },
            ],
            "options": {
                "concurrency": 64,
                "per_host_concurrency": 8,
                "request_timeout_s": 10,
                "retries": 2,
                "on_error": "continue",
                "follow_redirects": True,
                "max_redirects": 5,
            },
        },
        S,
    )
    hook = request.entries()[1]
    assert (hook.method, hook.headers, hook.json_body) == ("POST", {"X-Sig": "abc"}, {"event": "deploy"})
    assert "json_body" in hook.model_fields_set
    assert "json_body" not in request.entries()[0].model_fields_set
    assert request.options.request_timeout_s == 10.0  # an integer is a fine number of seconds


def test_method_is_case_insensitive() -> None:
    (entry,) = parse_request({"urls": [{"url": URL, "method": "patch"}]}, S).entries()
    assert entry.method == "PATCH"


@pytest.mark.parametrize(
    ("method", "retry", "may_retry"),
    [
        ("GET", None, True),
        ("HEAD", None, True),
        ("PUT", None, True),
        ("DELETE", None, True),
        ("OPTIONS", None, True),
        ("POST", None, False),
        ("PATCH", None, False),
        ("POST", True, True),
        ("PATCH", True, True),
        ("GET", False, False),
    ],
)
def test_only_idempotent_methods_retry_unless_the_entry_says(
    method: str, retry: bool | None, may_retry: bool
) -> None:
    entry: dict[str, Any] = {"url": URL, "method": method}
    if retry is not None:
        entry["retry"] = retry
    (parsed,) = parse_request({"urls": [entry]}, S).entries()
    assert parsed.may_retry is may_retry


def test_every_option_accepts_its_server_side_maximum() -> None:
    request = parse_request(
        with_options(
            concurrency=S.max_concurrency,
            per_host_concurrency=S.max_per_host_concurrency,
            request_timeout_s=S.max_request_timeout_s,
            retries=S.max_retries,
            max_redirects=S.max_max_redirects,
            max_body_bytes=S.max_max_body_bytes,
        ),
        S,
    )
    assert request.options.concurrency == S.max_concurrency
    assert request.options.request_timeout_s == S.max_request_timeout_s


def test_as_many_urls_as_the_maximum_are_accepted() -> None:
    request = parse_request({"urls": [f"https://e.example/{i}" for i in range(S.max_urls)]}, S)
    assert len(request.entries()) == S.max_urls


def test_options_minimums_are_accepted() -> None:
    o = parse_request(
        with_options(retries=0, max_redirects=0, max_body_bytes=0, request_timeout_s=0.001), S
    ).options
    assert (o.retries, o.max_redirects, o.max_body_bytes, o.request_timeout_s) == (0, 0, 0, 0.001)


# -- the limits come from the way in (the validation context), never from the core ---------


def test_the_defaults_and_maxima_are_the_limits_given() -> None:
    limits = Settings(default_concurrency=3, max_concurrency=5, max_urls=2, default_retries=0)
    o = parse_request({"urls": [URL]}, limits).options
    assert (o.concurrency, o.retries, o.per_host_concurrency) == (3, 0, limits.default_per_host_concurrency)
    assert parse_request(with_options(concurrency=5), limits).options.concurrency == 5
    with pytest.raises(RequestInvalid) as caught:
        parse_request({"urls": [URL] * 3, "options": {"concurrency": 6}}, limits)
    assert [(e["loc"], e["type"]) for e in caught.value.errors] == [
        ("urls", "too_long"),
        ("options.concurrency", "less_than_equal"),
    ]
    with pytest.raises(RequestInvalid) as caught:
        parse_request(with_options(concurrency=6), limits)
    (error,) = caught.value.errors
    assert (error["loc"], error["type"], error["msg"]) == (
        "options.concurrency",
        "less_than_equal",
        "Input should be less than or equal to 5",
    )


def test_options_read_back_without_limits_are_neither_filled_in_nor_capped() -> None:
    stored = parse_request(with_options(concurrency=S.max_concurrency), S).options.model_dump()
    lower = Settings(default_concurrency=1, max_concurrency=2)
    assert Options.model_validate(stored).concurrency == S.max_concurrency  # a record of an older run
    with pytest.raises(ValidationError, match="less_than_equal"):
        Options.model_validate(stored, context=lower)
    with pytest.raises(ValidationError, match="Field required: concurrency, per_host_concurrency"):
        Options.model_validate({"on_error": "cancel"})  # no default to give it


def test_left_out_options_get_the_defaults_in_a_targets_request_too() -> None:
    limits = Settings(default_max_redirects=1)
    request = TargetsRequest.model_validate({"targets": "s3://bucket/list.txt"}, context=limits)
    assert request.options.max_redirects == 1
    assert request_for(request, [URL], limits).options.max_redirects == 1


def test_a_targets_requests_shard_size_is_the_listed_runs() -> None:
    payload = {"targets": "s3://bucket/list.txt", "mode": "sharded", "options": {"shard_size": 250}}
    request = TargetsRequest.model_validate(payload, context=S)
    run = request_for(request, [URL] * 3, S)
    assert (run.mode, run.options.shard_size) == ("sharded", 250)


# -- what is refused, and where -------------------------------------------------------


@pytest.mark.parametrize("payload", [None, [], [URL], "urls", 3, True])
def test_a_payload_that_is_not_an_object_is_refused(payload: object) -> None:
    assert problems(payload) == [("", "object_type")]


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({}, [("urls", "missing")]),
        ({"options": {}}, [("urls", "missing")]),
        ({"urls": []}, [("urls", "too_short")]),
        ({"urls": URL}, [("urls", "list_type")]),
        ({"urls": None}, [("urls", "list_type")]),
        ({"urls": {"url": URL}}, [("urls", "list_type")]),
        ({"urls": [""]}, [("urls.0", "string_too_short")]),
        ({"urls": ["x" * 8_193]}, [("urls.0", "string_too_long")]),
        ({"urls": [URL, 7]}, [("urls.1", "url_item_type")]),
        ({"urls": [URL, None]}, [("urls.1", "url_item_type")]),
        ({"urls": [[URL]]}, [("urls.0", "url_item_type")]),
        ({"urls": [URL], "extra": 1}, [("extra", "extra_forbidden")]),
    ],
)
def test_bad_urls_are_refused_with_their_location(payload: object, expected: list[tuple[str, str]]) -> None:
    assert problems(payload) == expected


def test_too_many_urls_are_refused() -> None:
    assert problems({"urls": [URL] * (S.max_urls + 1)}) == [("urls", "too_long")]


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ({}, [("urls.0.url", "missing")]),
        ({"method": "GET"}, [("urls.0.url", "missing")]),
        ({"url": ""}, [("urls.0.url", "string_too_short")]),
        ({"url": 5}, [("urls.0.url", "string_type")]),
        ({"url": URL, "method": "CONNECT"}, [("urls.0.method", "literal_error")]),
        ({"url": URL, "method": 1}, [("urls.0.method", "literal_error")]),
        ({"url": URL, "headers": ["X-A: 1"]}, [("urls.0.headers", "dict_type")]),
        ({"url": URL, "headers": {"X-A": 1}}, [("urls.0.headers.X-A", "string_type")]),
        ({"url": URL, "headers": {f"X-{i}": "v" for i in range(101)}}, [("urls.0.headers", "too_long")]),
        ({"url": URL, "retry": "yes"}, [("urls.0.retry", "bool_type")]),
        ({"url": URL, "body": "x"}, [("urls.0.body", "extra_forbidden")]),
        # The body's field is "json"; the Python attribute name is not a second spelling.
        ({"url": URL, "json_body": {}}, [("urls.0.json_body", "extra_forbidden")]),
    ],
)
def test_bad_entry_objects_are_refused_with_their_location(
    entry: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    assert problems({"urls": [entry]}) == expected


@pytest.mark.parametrize(
    ("options", "loc", "error_type"),
    [
        ({"concurrency": 0}, "options.concurrency", "greater_than_equal"),
        ({"concurrency": S.max_concurrency + 1}, "options.concurrency", "less_than_equal"),
        ({"concurrency": "8"}, "options.concurrency", "int_type"),
        ({"concurrency": 8.0}, "options.concurrency", "int_type"),
        ({"concurrency": True}, "options.concurrency", "int_type"),
        ({"per_host_concurrency": 0}, "options.per_host_concurrency", "greater_than_equal"),
        (
            {"per_host_concurrency": S.max_per_host_concurrency + 1},
            "options.per_host_concurrency",
            "less_than_equal",
        ),
        ({"request_timeout_s": 0}, "options.request_timeout_s", "greater_than"),
        ({"request_timeout_s": -1.5}, "options.request_timeout_s", "greater_than"),
        (
            {"request_timeout_s": S.max_request_timeout_s + 0.5},
            "options.request_timeout_s",
            "less_than_equal",
        ),
        ({"request_timeout_s": float("nan")}, "options.request_timeout_s", "finite_number"),
        ({"request_timeout_s": float("inf")}, "options.request_timeout_s", "finite_number"),
        ({"request_timeout_s": "10"}, "options.request_timeout_s", "float_type"),
        ({"retries": -1}, "options.retries", "greater_than_equal"),
        ({"retries": S.max_retries + 1}, "options.retries", "less_than_equal"),
        ({"on_error": "stop"}, "options.on_error", "literal_error"),
        ({"follow_redirects": "yes"}, "options.follow_redirects", "bool_type"),
        ({"follow_redirects": 1}, "options.follow_redirects", "bool_type"),
        ({"max_redirects": -1}, "options.max_redirects", "greater_than_equal"),
        ({"max_redirects": S.max_max_redirects + 1}, "options.max_redirects", "less_than_equal"),
        ({"max_body_bytes": -1}, "options.max_body_bytes", "greater_than_equal"),
        ({"max_body_bytes": S.max_max_body_bytes + 1}, "options.max_body_bytes", "less_than_equal"),
        ({"shard_size": 0}, "options.shard_size", "greater_than_equal"),
        ({"shard_size": S.min_shard_size - 1}, "options.shard_size", "greater_than_equal"),
        ({"shard_size": S.max_urls + 1}, "options.shard_size", "less_than_equal"),
        ({"shard_size": 2.5}, "options.shard_size", "int_type"),
        ({"timeout": 5}, "options.timeout", "extra_forbidden"),
        ({"per_host_rps": 0}, "options.per_host_rps", "greater_than"),
        ({"per_host_rps": S.max_per_host_rps * 2}, "options.per_host_rps", "less_than_equal"),
        ({"per_host_burst": 0}, "options.per_host_burst", "greater_than_equal"),
        ({"per_host_burst": S.max_per_host_burst + 1}, "options.per_host_burst", "less_than_equal"),
    ],
)
def test_bad_options_are_refused_with_their_location(
    options: dict[str, Any], loc: str, error_type: str
) -> None:
    assert problems(with_options(**options)) == [(loc, error_type)]


def test_an_entrys_rate_is_refused_above_the_maximum_where_it_is() -> None:
    entry = {"url": URL, "per_host_rps": S.max_per_host_rps * 2}
    assert problems({"urls": [URL, entry]}) == [("urls.1.per_host_rps", "less_than_equal")]


def test_options_must_be_an_object() -> None:
    assert problems({"urls": [URL], "options": None}) == [("options", "model_type")]
    assert problems({"urls": [URL], "options": [1]}) == [("options", "model_type")]


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(RequestInvalid) as caught:
        parse_request(
            {"urls": [URL, 3, {"url": URL, "method": "NOPE"}], "options": {"retries": -1, "bogus": 1}}, S
        )
    assert sorted(e["loc"] for e in caught.value.errors) == [
        "options.bogus",
        "options.retries",
        "urls.1",
        "urls.2.method",
    ]
    assert caught.value.detail == "4 problem(s) in the request"


# -- the result document ---------------------------------------------------------------


def test_summary_counts_every_outcome_and_adds_up() -> None:
    outcomes = [Outcome.OK, Outcome.OK, Outcome.FAILED, Outcome.NOT_STARTED, Outcome.CANCELLED]
    outcomes.append(Outcome.CHECK_FAILED)
    summary = summarize([UrlResult(f"u{i}", o, None, 0, None, None, None) for i, o in enumerate(outcomes)])
    assert summary == {
        "total": 6,
        "ok": 2,
        "http_error": 0,
        "check_failed": 1,
        "failed": 1,
        "timed_out": 0,
        "cancelled": 1,
        "not_started": 1,
        "blocked": 0,
    }
    assert summary["total"] == sum(v for k, v in summary.items() if k != "total")
    assert summarize([]) == {"total": 0} | {o.value: 0 for o in Outcome}


def test_result_entries_are_plain_json() -> None:
    ok = UrlResult("u", Outcome.OK, 200, 1, 12.345, 99, None)
    failed = UrlResult("v", Outcome.FAILED, None, 3, 903.15, None, ErrorInfo("ConnectError", "refused"))
    not_started = UrlResult("w", Outcome.NOT_STARTED, None, 0, None, None, None)
    assert ok.to_json() == {
        "url": "u",
        "outcome": "ok",
        "status_code": 200,
        "attempts": 1,
        "elapsed_ms": 12.3,
        "bytes": 99,
        "error": None,
    }
    assert failed.to_json()["error"] == {"type": "ConnectError", "message": "refused"}
    assert not_started.to_json() == {
        "url": "w",
        "outcome": "not_started",
        "status_code": None,
        "attempts": 0,
        "elapsed_ms": None,
        "bytes": None,
        "error": None,
    }


def test_document_has_every_field_of_the_contract() -> None:
    results = [
        UrlResult("u", Outcome.OK, 200, 1, 1.0, 2, None),
        UrlResult("v", Outcome.TIMED_OUT, None, 1, 5.0, None, None),
    ]
    doc = RunDocument(
        run_id="r",
        source=Source.DIRECT,
        started_at="2026-01-01T00:00:00.000Z",
        budget_ms=27_500.04,
        elapsed_ms=1_234.56,
        summary=Summary.of_results(results),
        results=tuple(results),
        deadline_reached=False,
        stopped_on_error=True,
    ).to_json()
    assert doc == {
        "run_id": "r",
        "source": "direct",
        "started_at": "2026-01-01T00:00:00.000Z",
        "budget_ms": 27_500.0,
        "elapsed_ms": 1_234.6,
        "deadline_reached": False,
        "stopped_on_error": True,
        "summary": summarize(results),
        "results": [r.to_json() for r in results],
    }
    json.dumps(doc)


def test_run_ids_are_uuid7_unique_and_sort_by_time() -> None:
    ids = [new_run_id() for _ in range(2_000)]
    assert len(set(ids)) == 2_000
    assert all(uuid.UUID(i).version == 7 and uuid.UUID(i).variant == uuid.RFC_4122 for i in ids)
    spaced = []
    for _ in range(5):
        spaced.append(new_run_id())
        time.sleep(0.002)
    assert spaced == sorted(spaced)
    ms = int(uuid.UUID(spaced[0]).hex[:12], 16)
    assert abs(ms - time.time() * 1000) < 60_000


def test_started_at_is_iso_8601_utc() -> None:
    stamp = utc_now_iso()
    assert stamp.endswith("Z")
    parsed = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    assert abs(parsed.timestamp() - time.time()) < 60


def test_entries_turn_strings_into_get_entries() -> None:
    request = FanoutRequest.model_validate({"urls": [URL, {"url": URL, "method": "HEAD"}]}, context=S)
    entries = request.entries()
    assert all(isinstance(e, UrlEntry) for e in entries)
    assert [e.method for e in entries] == ["GET", "HEAD"]
