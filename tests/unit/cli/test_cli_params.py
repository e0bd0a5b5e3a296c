"""The command line's own rules: durations, options merged over a request file's, the exit
status a document means, and the one mapping of errors to exit statuses and messages."""

from __future__ import annotations

from typing import Any

import click
import pytest

from fanout.cli.errors import (
    EXIT_BAD_INPUT,
    EXIT_NOT_OK,
    EXIT_OK,
    EXIT_SERVICE,
    NoCredentials,
    ServiceFailed,
    ServiceRefused,
    describe,
    exit_code_for,
)
from fanout.cli.params import DEADLINE, Duration, merged, with_method
from fanout.cli.rows import exit_status, methods_of
from fanout.config import ConfigError
from fanout.errors import RequestInvalid, TargetsUnreadable


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("500ms", 0.5),
        ("30s", 30.0),
        ("2m", 120.0),
        ("1.5s", 1.5),
        ("45", 45.0),
        (" 10 s ", 10.0),
        ("15m", 900.0),
    ],
)
def test_durations(text: str, seconds: float) -> None:
    assert DEADLINE.convert(text, None, None) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "soon", "10h", "-1s", "0s", "1e3s", "16m"])
def test_bad_durations_are_usage_errors(text: str) -> None:
    with pytest.raises(click.BadParameter):
        DEADLINE.convert(text, None, None)


def test_a_duration_without_a_limit_may_be_long() -> None:
    assert Duration().convert("60m", None, None) == 3600.0


def values(**given: Any) -> dict[str, Any]:
    """Click's values for the request options: None (or ()) for what was not given."""
    empty: dict[str, Any] = {"expect_status": (), "capture_header": (), "threshold": ()}
    return empty | given


def test_command_line_options_are_merged_over_the_files_field_by_field() -> None:
    document = {
        "urls": [
            "https://a.example/",
            {"url": "https://b.example/", "method": "POST"},
            {"url": "https://c/"},
        ],
        "options": {
            "retries": 2,
            "concurrency": 8,
            "expect": {"status": [200], "body_contains": "ok"},
            "thresholds": {"p95_ms": "<800"},
        },
        "monitor": {"name": "kept"},
    }
    out = merged(
        document,
        values(
            concurrency=32,
            timeout=2.5,
            expect_status=("200-299,304", "404"),
            max_latency_ms=500.0,
            capture_header=("x-cache", "age"),
            threshold=("failed_rate=<0.1",),
            follow_redirects=False,
            method="head",
            shard_size=2_000,
        ),
    )
    assert out["options"] == {
        "retries": 2,
        "concurrency": 32,
        "request_timeout_s": 2.5,
        "follow_redirects": False,
        "shard_size": 2_000,
        "capture_headers": ["x-cache", "age"],
        "expect": {"status": ["200-299", 304, 404], "body_contains": "ok", "max_latency_ms": 500.0},
        "thresholds": {"p95_ms": "<800", "failed_rate": "<0.1"},
    }
    assert out["urls"] == [
        {"url": "https://a.example/", "method": "HEAD"},
        {"url": "https://b.example/", "method": "POST"},  # an entry's own method stays
        {"url": "https://c/", "method": "HEAD"},
    ]
    assert out["monitor"] == {"name": "kept"}
    assert document["options"]["concurrency"] == 8  # the file's document is not changed


def test_nothing_given_changes_nothing() -> None:
    document = {"urls": ["https://a.example/"]}
    assert merged(document, values()) == document


def test_a_threshold_needs_a_name_and_a_condition() -> None:
    with pytest.raises(click.BadParameter):
        merged({"urls": ["x"]}, values(threshold=("p95_ms<800",)))


def test_with_method_leaves_other_values_for_validation() -> None:
    assert with_method(["u", 3, {"url": "v"}], "get") == [
        {"url": "u", "method": "GET"},
        3,
        {"url": "v", "method": "GET"},
    ]


def test_methods_of_a_request() -> None:
    assert methods_of({"urls": ["a", {"url": "b", "method": "post"}, {"url": "c"}]}) == ["GET", "POST", "GET"]
    assert methods_of({"targets": "s3://b/k"}) == []


def summary(total: int, ok: int) -> dict[str, int]:
    return {"total": total, "ok": ok, "failed": total - ok}


@pytest.mark.parametrize(
    ("document", "status"),
    [
        ({"summary": summary(3, 3)}, EXIT_OK),
        ({"summary": summary(3, 2)}, EXIT_NOT_OK),
        ({"summary": summary(3, 3), "thresholds": [{"ok": True}, {"ok": None}]}, EXIT_OK),
        ({"summary": summary(3, 3), "thresholds": [{"ok": False}]}, EXIT_NOT_OK),
        ({"summary": summary(600, 0), "status": "running", "location": "/runs/r"}, EXIT_NOT_OK),
        ({"summary": summary(600, 600), "status": "failed"}, EXIT_NOT_OK),
        ({"summary": summary(600, 600), "status": "complete"}, EXIT_OK),
        ({"summary": summary(0, 0)}, EXIT_NOT_OK),
    ],
)
def test_the_exit_status_a_document_means(document: dict[str, Any], status: int) -> None:
    assert exit_status(document) == status


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (RequestInvalid("bad", [{"loc": "urls.0", "msg": "no"}]), EXIT_BAD_INPUT),
        (TargetsUnreadable("urls.txt", "the list is empty"), EXIT_BAD_INPUT),
        (ConfigError("EGRESS_ALLOW_CIDRS: 'x' is not a valid CIDR network"), EXIT_BAD_INPUT),
        (FileNotFoundError(2, "No such file or directory", "out/x.json"), EXIT_BAD_INPUT),
        (NoCredentials("none"), EXIT_BAD_INPUT),
        (ServiceRefused(422, {"title": "The request is not valid"}), EXIT_BAD_INPUT),
        (ServiceRefused(503, {"title": "The run store is unavailable"}), EXIT_SERVICE),
        (ServiceFailed("no answer"), EXIT_SERVICE),
    ],
)
def test_every_error_has_one_exit_status(error: Exception, status: int) -> None:
    assert exit_code_for(error) == status


def test_messages_list_the_problems_and_say_how_many_more() -> None:
    errors = [{"loc": f"urls.{i}", "msg": "bad"} for i in range(25)]
    text = describe(RequestInvalid("25 problem(s) in the request", errors, total=140))
    lines = text.splitlines()
    assert lines[0] == "error: 25 problem(s) in the request"
    assert lines[1] == "  - urls.0: bad"
    assert lines[-1] == "  ... and 120 more"
    refused = describe(
        ServiceRefused(422, {"title": "T", "detail": "D", "errors": [{"loc": "urls", "msg": "m"}]})
    )
    assert refused.splitlines() == ["error: the service answered 422 (T): D", "  - urls: m"]
    assert describe(FileNotFoundError(2, "No such file or directory", "x.json")) == (
        "error: x.json: No such file or directory"
    )
