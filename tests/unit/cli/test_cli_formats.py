"""Every output format, parsed back with a reader of that format (json, csv, a Markdown table,
JUnit XML through junitparser), from one document with every kind of result in it."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from junitparser import Failure, JUnitXml, TestCase, TestSuite

from fanout.cli.formats import CSV_COLUMNS, default_format, render
from fanout.cli.table import HEADER

DOCUMENT: dict[str, Any] = {
    "run_id": "01a21068-2cc6-72be-8069-fcbbca4dce7f",
    "source": "cli",
    "started_at": "2026-11-25T01:53:12.391Z",
    "budget_ms": 27_500.0,
    "elapsed_ms": 1_234.5,
    "deadline_reached": True,
    "stopped_on_error": False,
    "summary": {
        "total": 4,
        "ok": 1,
        "http_error": 0,
        "check_failed": 1,
        "failed": 1,
        "timed_out": 0,
        "cancelled": 1,
        "not_started": 0,
        "blocked": 0,
    },
    "degraded": 1,
    "thresholds": [
        {"name": "p95_ms", "condition": "<800", "ok": False, "value": 903.1},
        {"name": "failed_rate", "condition": "<0.5", "ok": True, "value": 0.25},
    ],
    "results": [
        {
            "url": "https://example.com/health",
            "outcome": "ok",
            "status_code": 200,
            "attempts": 1,
            "elapsed_ms": 41.2,
            "bytes": 1256,
            "error": None,
            "degraded": True,
            "checks": [{"check": "status", "ok": True}],
            "timings": {"total_ms": 40.9},
            "tls": {"days_to_expiry": 45.1},
        },
        {
            "url": "https://example.com/api?a=1|b=2",
            "outcome": "check_failed",
            "status_code": 200,
            "attempts": 1,
            "elapsed_ms": 224.9,
            "bytes": 61,
            "error": None,
            "checks": [{"check": "json:/status", "ok": False, "expected": "UP", "actual": "DOWN"}],
        },
        {
            "url": "https://hooks.example.com/x",
            "outcome": "failed",
            "status_code": None,
            "attempts": 3,
            "elapsed_ms": 903.1,
            "bytes": None,
            "error": {"type": "ConnectError", "message": "refused \x00 | twice\nthen \x1b[31mreset"},
        },
        {
            "url": "https://example.com/slow",
            "outcome": "cancelled",
            "status_code": None,
            "attempts": 1,
            "elapsed_ms": 27_000.0,
            "bytes": None,
            "error": None,
        },
    ],
}
METHODS = ["GET", "GET", "POST", "HEAD"]


def test_json_is_the_document_itself() -> None:
    assert json.loads(render(DOCUMENT, "json", METHODS)) == DOCUMENT


def test_jsonl_is_one_result_per_line_in_order() -> None:
    lines = render(DOCUMENT, "jsonl", METHODS).splitlines()
    assert [json.loads(line) for line in lines] == DOCUMENT["results"]


def test_csv_has_one_row_per_url_with_methods_checks_and_errors() -> None:
    rows = list(csv.DictReader(io.StringIO(render(DOCUMENT, "csv", METHODS))))
    assert list(rows[0]) == CSV_COLUMNS
    assert [r["url"] for r in rows] == [r["url"] for r in DOCUMENT["results"]]
    assert [r["method"] for r in rows] == METHODS
    assert [r["outcome"] for r in rows] == ["ok", "check_failed", "failed", "cancelled"]
    assert rows[0]["total_ms"] == "40.9"
    assert rows[0]["cert_days"] == "45.1"
    assert rows[0]["degraded"] == "true"
    assert rows[1]["failed_checks"] == "json:/status"
    assert rows[2]["error_type"] == "ConnectError"
    assert rows[2]["error_message"].startswith("refused")
    assert rows[3]["status_code"] == ""


def _markdown_rows(text: str) -> list[list[str]]:
    """A GitHub table's rows (header first), cells unescaped; ``\\|`` is a pipe in a cell."""
    rows = []
    for line in text.splitlines():
        if not line.startswith("|"):
            continue
        cells = line.strip().strip("|").replace("\\|", "\0").split("|")
        rows.append([c.strip().replace("\0", "|") for c in cells])
    return rows


def test_markdown_is_a_table_with_the_table_formats_columns_and_the_summary() -> None:
    text = render(DOCUMENT, "markdown", METHODS)
    header, rule, *rows = _markdown_rows(text)
    assert header == HEADER
    assert set(rule) <= {"---", "---:"}
    assert len(rule) == len(HEADER)
    assert [r[2] for r in rows] == [r["url"] for r in DOCUMENT["results"]]  # the pipe survived, escaped
    assert [(r[1], r[3], r[-1]) for r in rows] == [
        ("GET", "ok", "degraded"),
        ("GET", "check_failed", "json:/status"),
        ("POST", "failed", "ConnectError"),
        ("HEAD", "cancelled", ""),
    ]
    assert "1 check_failed" in text
    assert "p95_ms<800: BREACHED" in text


def test_junit_has_one_suite_one_case_per_url_and_per_threshold_and_fails_what_is_not_ok() -> None:
    xml = JUnitXml.fromstring(render(DOCUMENT, "junit", METHODS))
    suites = list(xml) if isinstance(xml, JUnitXml) else [xml]
    assert len(suites) == 1
    suite: TestSuite = suites[0]
    cases: list[TestCase] = list(suite)
    assert [c.name for c in cases][:4] == [r["url"] for r in DOCUMENT["results"]]
    assert [c.classname for c in cases] == [*METHODS, "threshold", "threshold"]
    assert suite.tests == 6
    assert suite.failures == 4  # check_failed, failed, cancelled, the breached threshold
    passed = [c.is_passed for c in cases]
    assert passed == [True, False, False, False, False, True]
    failures: list[Failure] = [c.result[0] for c in cases if not c.is_passed]
    assert failures[0].type == "check_failed"
    assert failures[0].message == "check_failed: json:/status expected 'UP', got 'DOWN'"
    assert failures[1].message.startswith("failed: ConnectError: refused")  # the NUL could not be in XML
    assert "\x00" not in failures[1].message
    assert failures[2].message.startswith("cancelled: still in flight")
    assert "p95_ms is 903.1" in failures[3].message
    assert cases[2].time == pytest.approx(0.903)


def test_junit_without_methods_uses_one_classname() -> None:
    xml = JUnitXml.fromstring(render(DOCUMENT, "junit"))
    suite = next(iter(xml)) if isinstance(xml, JUnitXml) else xml
    assert {c.classname for c in suite if c.classname != "threshold"} == {"fanout"}


def test_plain_table_has_the_columns_and_no_escape_sequences() -> None:
    text = render(DOCUMENT, "table", METHODS)
    assert "\x1b" not in text
    header = next(line for line in text.splitlines() if line.lstrip().startswith("#"))
    assert header.split() == [
        "#",
        "method",
        "url",
        "outcome",
        "status",
        "tries",
        "ms",
        "total",
        "ms",
        "bytes",
        "cert",
        "days",
        "why",
    ]
    assert "summary   4 URLs: 1 ok, 1 check_failed, 1 failed, 1 cancelled; 1 degraded" in text
    assert "deadline reached" in text


def test_coloured_table_is_for_terminals_only() -> None:
    assert "\x1b[" in render(DOCUMENT, "table", METHODS, color=True, width=200)
    assert "\x1b[" not in render(DOCUMENT | {"results": DOCUMENT["results"][:2]}, "table", METHODS[:2])


LISTING = {
    "runs": [
        {
            "run_id": "r1",
            "started_at": "2026-11-25T01:53:12.391Z",
            "source": "api",
            "mode": "sharded",
            "status": "running",
            "summary": {"total": 600, "ok": 100},
            "progress": {"shards_done": 1, "shards_total": 2, "urls_done": 100, "urls_total": 600},
        },
        {
            "run_id": "r2",
            "started_at": "2026-11-25T01:50:00.000Z",
            "source": "direct",
            "summary": {"total": 2, "ok": 1, "failed": 1},
        },
    ],
    "limit": 2,
    "next_cursor": "abc",
}


def test_a_listing_of_runs_as_a_table_jsonl_and_csv() -> None:
    text = render(LISTING, "table")
    assert "r1" in text
    assert "1/2" in text
    assert "next page: --cursor abc" in text
    assert [json.loads(line)["run_id"] for line in render(LISTING, "jsonl").splitlines()] == ["r1", "r2"]
    rows = list(csv.DictReader(io.StringIO(render(LISTING, "csv"))))
    assert [(r["run_id"], r["status"], r["total"]) for r in rows] == [
        ("r1", "running", "600"),
        ("r2", "", "2"),
    ]


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ("out.json", "json"),
        ("out.JSONL", "jsonl"),
        ("r.csv", "csv"),
        ("r.md", "markdown"),
        ("junit.xml", "junit"),
        ("t.txt", "table"),
        ("noext", "json"),
    ],
)
def test_the_output_files_suffix_chooses_the_format(output: str, expected: str) -> None:
    assert default_format(output) == expected
