"""Response checks in pure code: what ``expect`` accepts and refuses (naming the field), how it
merges, and how a response's facts are judged against it."""

from __future__ import annotations

import time
from typing import Any

import pytest
from msgspec import UNSET

from fanout.config import get_settings
from fanout.core.checks import ACTUAL_CHARS, Checker, Checkers, ResponseFacts
from fanout.core.expect import Expect
from fanout.core.requests import parse_request
from fanout.errors import RequestInvalid

URL = "https://example.com/health"


def problems(
    options: dict[str, Any] | None = None, entry: dict[str, Any] | None = None
) -> list[tuple[str, str]]:
    """(loc, msg) of every problem in a request with these options / this entry's fields."""
    payload = {"urls": [{"url": URL, **(entry or {})}], "options": options or {}}
    with pytest.raises(RequestInvalid) as caught:
        parse_request(payload, get_settings())
    return [(e["loc"], e["msg"]) for e in caught.value.errors]


def facts(status: int = 200, *, body: str | None = None, total_ms: float = 10.0, **kw: Any) -> ResponseFacts:
    return ResponseFacts(
        status_code=status, headers=kw.pop("headers", {}), total_ms=total_ms, body=body, **kw
    )


def judged(expect: dict[str, Any], response: ResponseFacts) -> dict[str, tuple[bool, Any, Any]]:
    verdict = Checker(Expect.model_validate(expect)).judge(response)

    def shown(value: Any) -> Any:  # a passed check carries neither (UNSET: left out of its JSON)
        return None if value is UNSET else value

    return {c.check: (c.ok, shown(c.expected), shown(c.actual)) for c in verdict.checks}


# -- what is accepted and refused -------------------------------------------------------------


def test_the_issue_example_is_accepted_with_every_field() -> None:
    request = parse_request(
        {
            "urls": [URL, {"url": "https://example.com/", "expect": {"body_contains": "Example Domain"}}],
            "options": {
                "expect": {
                    "status": [200, "300-399"],
                    "json": {"/status": "UP"},
                    "headers": {"content-type": "^application/json"},
                    "body_regex": "ok|healthy",
                    "max_latency_ms": 800,
                    "degraded_latency_ms": 300,
                    "cert_min_days": 14,
                },
                "capture_headers": ["etag", "x-cache", "age"],
                "inspect_bytes": 65536,
            },
        },
        get_settings(),
    )
    expect = request.options.expect
    assert expect is not None
    assert expect.status == [200, "300-399"]
    assert expect.json_ == {"/status": "UP"}
    assert request.options.capture_headers == ["etag", "x-cache", "age"]
    assert request.entries()[1].expect == Expect(body_contains="Example Domain")


@pytest.mark.parametrize(
    ("expect", "loc", "says"),
    [
        ({"json": {"status": "UP"}}, "options.expect.json", "'status' is not an RFC 6901 JSON Pointer"),
        ({"json": {"/a~2": 1}}, "options.expect.json", "invalid escape"),
        ({"body_regex": "(unclosed"}, "options.expect.body_regex", "not a valid regular expression"),
        ({"headers": {"content-type": "(["}}, "options.expect.headers", "content-type: not a valid regular"),
        ({"headers": {"bad name": "x"}}, "options.expect.headers", "'bad name' is not a header name"),
        ({"headers": {"etag": ""}}, "options.expect.headers.etag", "at least 1 character"),
        ({"latency": 100}, "options.expect.latency", "Extra inputs are not permitted"),
        ({"status": ["500-200"]}, "options.expect.status", "item 0: '500-200'"),
        ({"status": [200, 700]}, "options.expect.status", "item 1: 700"),
        ({"status": ["2xx"]}, "options.expect.status", "item 0: '2xx'"),
        ({"status": [True]}, "options.expect.status", "item 0: True"),
        ({"status": []}, "options.expect.status", "at least 1 item"),
        ({"status": "200"}, "options.expect.status", "valid list"),
        ({"body_regex": "a" * 1001}, "options.expect.body_regex", "at most 1000 characters"),
        ({"max_latency_ms": 0}, "options.expect.max_latency_ms", "greater than 0"),
        ({"degraded_latency_ms": "300"}, "options.expect.degraded_latency_ms", "valid number"),
        ({"cert_min_days": -1}, "options.expect.cert_min_days", "greater than or equal to 0"),
        ({"body_contains": ""}, "options.expect.body_contains", "at least 1 character"),
    ],
)
def test_a_bad_expectation_is_refused_naming_its_field(expect: dict[str, Any], loc: str, says: str) -> None:
    [(where, message)] = problems({"expect": expect})
    assert where == loc
    assert says in message


def test_an_entry_s_own_bad_expectation_names_the_entry() -> None:
    [(where, message)] = problems(entry={"expect": {"json": {"x": 1}}})
    assert where == "urls.0.expect.json"
    assert "JSON Pointer" in message


@pytest.mark.parametrize(
    ("options", "loc"),
    [
        ({"capture_headers": ["x cache"]}, "options.capture_headers.0"),
        ({"capture_headers": ["h"] * 51}, "options.capture_headers"),
        ({"inspect_bytes": 0}, "options.inspect_bytes"),
        ({"inspect_bytes": 1_048_577}, "options.inspect_bytes"),
    ],
)
def test_bad_capture_and_inspect_options_are_refused(options: dict[str, Any], loc: str) -> None:
    assert [where for where, _ in problems(options)] == [loc]


def test_an_entry_s_expectation_is_merged_over_the_options_field_by_field() -> None:
    base = Expect.model_validate({"status": [200], "json": {"/status": "UP"}, "max_latency_ms": 800})
    own = Expect.model_validate({"json": {"/ready": True}, "max_latency_ms": 50})
    merged = base.merged(own)
    assert merged.status == [200]
    assert merged.json_ == {"/ready": True}
    assert merged.max_latency_ms == 50
    assert base.merged(None) is base


def test_one_checker_is_compiled_per_distinct_expectation() -> None:
    checkers = Checkers(Expect(status=[200]))
    first, second = checkers.for_entry(None), checkers.for_entry(None)
    assert first is second
    other = checkers.for_entry(Expect(body_contains="x"))
    assert other is not first
    assert other is checkers.for_entry(Expect(body_contains="x"))
    assert Checkers(None).for_entry(None) is None


# -- judging ------------------------------------------------------------------------------------


def test_status_codes_and_inclusive_ranges() -> None:
    checker = Checker(Expect.model_validate({"status": [204, "300-399", "404"]}))
    assert [checker.status_ok(c) for c in (204, 200, 300, 399, 400, 404)] == [
        True,
        False,
        True,
        True,
        False,
        True,
    ]
    assert Checker(Expect()).status_ok(500) is None


def test_a_failed_check_says_what_was_expected_and_what_came() -> None:
    result = judged({"status": ["200-299"], "json": {"/status": "UP"}}, facts(body='{"status": "DOWN"}'))
    assert result == {"status": (True, None, None), "json:/status": (False, "UP", "DOWN")}


def test_json_equality_is_json_s() -> None:
    body = '{"n": 1, "flag": true, "list": [1, {"a": null}], "f": 2.0}'
    result = judged(
        {"json": {"/n": 1.0, "/flag": 1, "/list": [1, {"a": None}], "/f": 2, "/missing": None}},
        facts(body=body),
    )
    assert {k: v[0] for k, v in result.items()} == {
        "json:/n": True,
        "json:/flag": False,  # true is not 1
        "json:/list": True,
        "json:/f": True,
        "json:/missing": False,  # absent is not null
    }


def test_a_body_that_is_not_json_fails_every_pointer() -> None:
    result = judged({"json": {"/a": 1, "/b": 2}}, facts(body="<html>"))
    assert [v[0] for v in result.values()] == [False, False]
    assert "not JSON" in result["json:/a"][2]


def test_bodies_msgspec_refuses_still_read_as_json() -> None:
    """The fast parser's refusals go to ``json.loads``: NaN, numbers past a double, lone surrogates."""
    body = '{"nan": NaN, "big": 1e400, "s": "\\ud800", "int": 123456789012345678901234567890}'
    result = judged(
        {"json": {"/big": float("inf"), "/int": 123456789012345678901234567890}}, facts(body=body)
    )
    assert result == {"json:/big": (True, None, None), "json:/int": (True, None, None)}
    assert judged({"json": {"/s": "\ud800"}}, facts(body=body)) == {"json:/s": (True, None, None)}
    assert judged({"json": {"/a": 1}}, facts(body='{"a": 1} trailing'))["json:/a"][0] is False


def test_pointers_through_arrays_and_escapes_resolve_as_rfc_6901_says() -> None:
    body = '{"items": [{"id": 7}, {"id": 8}], "a/b": {"~c": "x"}, "s": "UP", "01": "key"}'
    expect = {
        "/items/1/id": 8,
        "/items/01/id": 7,  # not an index: missing
        "/items/2": None,  # past the end: missing
        "/items/-": None,  # the element after the last: nothing to compare
        "/a~1b/~0c": "x",
        "/s/0": "U",  # a string is not an array
        "/01": "key",
        "": {"x": 1},
    }
    result = judged({"json": expect}, facts(body=body))
    assert {k: v[0] for k, v in result.items()} == {
        "json:/items/1/id": True,
        "json:/items/01/id": False,
        "json:/items/2": False,
        "json:/items/-": False,
        "json:/a~1b/~0c": True,
        "json:/s/0": False,
        "json:/01": True,
        "json:": False,
    }
    assert result["json:/items/2"][2] is None  # nothing there, reported as null
    assert result["json:/items/-"][2] is None


def test_a_header_s_verdict_is_the_same_when_its_value_repeats() -> None:
    """A checker remembers a header value's match: the second response with it is judged alike."""
    checker = Checker(Expect.model_validate({"headers": {"x-cache": "^HIT$"}}))
    verdicts = [
        checker.judge(facts(headers={"x-cache": value})).passed
        for value in ("HIT", "MISS", "HIT", "MISS", "HIT")
    ]
    assert verdicts == [True, False, True, False, True]


def test_header_names_are_case_insensitive_and_values_are_searched() -> None:
    headers = {"content-type": "application/json; charset=utf-8", "x-cache": "MISS"}
    result = judged(
        {"headers": {"Content-Type": "^application/json", "X-Cache": "^HIT$", "ETag": "."}},
        facts(headers=headers),
    )
    assert result == {
        "header:content-type": (True, None, None),
        "header:x-cache": (False, "^HIT$", "MISS"),
        "header:etag": (False, ".", None),
    }


def test_body_checks_and_actual_values_are_clipped() -> None:
    body = "x" * 1000
    result = judged({"body_contains": "needle", "body_regex": "^y"}, facts(body=body))
    assert result["body_contains"][0] is False
    assert result["body_regex"][0] is False
    actual = result["body_contains"][2]
    assert len(actual) == ACTUAL_CHARS
    assert actual.endswith("…")


def test_a_regex_that_backtracks_forever_fails_its_check_within_its_time_limit() -> None:
    started = time.monotonic()
    result = judged({"body_regex": "^(a+)+$"}, facts(body="a" * 5_000 + "b"))
    assert time.monotonic() - started < 2.0
    assert result["body_regex"] == (False, "^(a+)+$", "<no match within the time limit>")


def test_latency_fails_over_max_and_flags_degraded_over_the_threshold() -> None:
    expect = Expect(max_latency_ms=500, degraded_latency_ms=100)
    slow = Checker(expect).judge(facts(total_ms=300))
    assert (slow.passed, slow.degraded) == (True, True)
    fast = Checker(expect).judge(facts(total_ms=50))
    assert (fast.passed, fast.degraded) == (True, False)
    too_slow = Checker(expect).judge(facts(total_ms=700))
    assert (too_slow.passed, too_slow.degraded) == (False, False)  # failed, not "degraded"
    assert too_slow.checks[0].actual == 700.0


def test_cert_min_days_applies_to_https_only() -> None:
    expect = {"cert_min_days": 14}
    assert judged(expect, facts(https=True, days_to_expiry=3.2)) == {"cert_min_days": (False, 14, 3.2)}
    assert judged(expect, facts(https=True, days_to_expiry=200.0)) == {"cert_min_days": (True, None, None)}
    assert judged(expect, facts(https=False)) == {}


def test_passing_responses_share_one_tuple_of_checks_and_a_failure_has_its_own() -> None:
    expect = {"status": [200], "headers": {"content-type": "json"}, "body_contains": "UP", "cert_min_days": 7}
    checker = Checker(Expect.model_validate(expect))
    headers = {"content-type": "application/json"}
    first, second = (checker.judge(facts(body="UP", headers=headers)) for _ in range(2))
    assert first.passed
    assert first.checks is second.checks
    assert [c.check for c in first.checks] == ["status", "header:content-type", "body_contains"]
    failed = checker.judge(facts(body="DOWN", headers=headers))
    assert not failed.passed
    assert failed.checks is not first.checks
    assert [(c.check, c.ok) for c in failed.checks][-1] == ("body_contains", False)
    # Over https the certificate is checked too: another tuple, shared in its turn.
    over_tls = facts(body="UP", headers=headers, https=True, days_to_expiry=30.0)
    https = [checker.judge(over_tls) for _ in range(2)]
    assert https[0].checks is https[1].checks
    assert [c.check for c in https[0].checks][-1] == "cert_min_days"
    assert checker.judge(facts(body="UP", headers=headers)).checks is first.checks
