"""Every output format but the table (``fanout.cli.table``), and which one to use.

- ``json``: the document as the service answers it (``GET /runs`` answers a listing).
- ``jsonl``: one result per line, as in the document (a listing: one run per line).
- ``csv``: one row per URL, ``CSV_COLUMNS``; failed checks joined with ``;``.
- ``markdown``: the table's columns as a GitHub table, then the summary lines.
- ``junit``: one ``<testsuite>``, one ``<testcase>`` per URL (``name`` the URL, ``classname``
  its method) and per threshold; a ``<failure>`` for each that is not ok, so a CI system shows
  failed URLs as failed tests.

Without ``--format``: the table on a terminal, JSON otherwise; with ``--output FILE``, the
format its suffix names (``.json``, ``.jsonl``, ``.csv``, ``.md``, ``.xml``, ``.txt``), else JSON.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import click

from fanout.cli import table
from fanout.cli.rows import Document, Row, rows_of

FORMATS = ("table", "json", "jsonl", "csv", "markdown", "junit")
SUFFIXES = {
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".csv": "csv",
    ".md": "markdown",
    ".xml": "junit",
    ".txt": "table",
}
CSV_COLUMNS = [
    "index", "method", "url", "outcome", "status_code", "attempts", "elapsed_ms", "total_ms", "bytes",
    "cert_days", "degraded", "failed_checks", "error_type", "error_message",
]  # fmt: skip
RUN_CSV_COLUMNS = ["run_id", "started_at", "source", "mode", "status", "total", "ok"]
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def default_format(output: str | None) -> str:
    """The format when none is given: by the output file's suffix, or the terminal's."""
    if output is not None:
        return SUFFIXES.get(Path(output).suffix.lower(), "json")
    return "table" if sys.stdout.isatty() else "json"


def _csv(rows: Sequence[Row]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        r = row.result
        writer.writerow(
            [
                row.index,
                row.method or "",
                row.url,
                row.outcome,
                r.get("status_code"),
                r.get("attempts"),
                r.get("elapsed_ms"),
                row.total_ms,
                r.get("bytes"),
                row.cert_days,
                "true" if r.get("degraded") else "false",
                ";".join(row.failed_checks),
                row.error.get("type"),
                row.error.get("message"),
            ]
        )
    return out.getvalue()


def _md_cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _markdown(document: Document, rows: Sequence[Row]) -> str:
    lines = [
        "| " + " | ".join(table.HEADER) + " |",
        "|" + "|".join("---:" if i in table.RIGHT else "---" for i in range(len(table.HEADER))) + "|",
    ]
    for row in rows:
        lines.append("| " + " | ".join(_md_cell(c) for c in table.cells(row)) + " |")
    summary = "\n".join(f"    {line}" for line in table.summary_lines(document))
    return "\n".join(lines) + "\n\n" + summary + "\n"


def _xml(text: Any) -> str:
    return _NOT_XML.sub("\ufffd", str(text))


def _failure_text(row: Row) -> str:
    r = row.result
    lines = [f"url: {row.url}", f"outcome: {row.outcome}"]
    if r.get("status_code") is not None:
        lines.append(f"status_code: {r['status_code']}")
    lines.append(f"attempts: {r.get('attempts')}, elapsed_ms: {r.get('elapsed_ms')}")
    if row.error:
        lines.append(f"error: {row.error.get('type')}: {row.error.get('message')}")
    for check in r.get("checks") or []:
        if not check.get("ok"):
            lines.append(
                f"check {check.get('check')}: expected {check.get('expected')!r}, got {check.get('actual')!r}"
            )
    return "\n".join(lines)


def _testcase(suite: ElementTree.Element, name: str, classname: str, seconds: float) -> ElementTree.Element:
    return ElementTree.SubElement(
        suite, "testcase", name=_xml(name), classname=_xml(classname), time=f"{seconds:.3f}"
    )


def _junit(document: Document, rows: Sequence[Row]) -> str:
    thresholds = list(document.get("thresholds") or [])
    failures = sum(not r.ok for r in rows) + sum(t.get("ok") is False for t in thresholds)
    tests = len(rows) + len(thresholds)
    seconds = float(document.get("elapsed_ms") or 0) / 1000
    suites = ElementTree.Element("testsuites", name="fanout", tests=str(tests), failures=str(failures))
    suites.set("errors", "0")
    suites.set("time", f"{seconds:.3f}")
    suite = ElementTree.SubElement(suites, "testsuite", name=_xml(f"fanout run {document.get('run_id')}"))
    for key, value in (("tests", tests), ("failures", failures), ("errors", 0), ("skipped", 0)):
        suite.set(key, str(value))
    suite.set("time", f"{seconds:.3f}")
    suite.set("timestamp", _xml(str(document.get("started_at") or "")).removesuffix("Z"))
    properties = ElementTree.SubElement(suite, "properties")
    for key in ("run_id", "source", "budget_ms", "deadline_reached", "targets"):
        if document.get(key) is not None:
            value = document[key]
            shown = value if isinstance(value, str) else json.dumps(value)
            ElementTree.SubElement(properties, "property", name=key, value=_xml(shown))
    for row in rows:
        case = _testcase(
            suite, row.url, row.method or "fanout", float(row.result.get("elapsed_ms") or 0) / 1000
        )
        if not row.ok:
            failure = ElementTree.SubElement(
                case, "failure", message=_xml(row.failure_message()), type=row.outcome
            )
            failure.text = _xml(_failure_text(row))
    for t in thresholds:
        case = _testcase(suite, f"{t.get('name')}{t.get('condition')}", "threshold", 0.0)
        if t.get("ok") is False:
            message = f"threshold breached: {t.get('name')} is {t.get('value')}, wanted {t.get('condition')}"
            ElementTree.SubElement(case, "failure", message=_xml(message), type="threshold")
    ElementTree.indent(suites)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n' + ElementTree.tostring(suites, encoding="unicode") + "\n"
    )


def _runs(listing: Document, fmt: str, color: bool, width: int | None) -> str:
    runs: list[Mapping[str, Any]] = list(listing.get("runs") or [])
    if fmt == "table":
        return table.render_runs(listing, color=color, width=width)
    if fmt == "jsonl":
        return "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in runs)
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(RUN_CSV_COLUMNS)
        for r in runs:
            summary = r.get("summary") or {}
            writer.writerow(
                [*(r.get(k) for k in RUN_CSV_COLUMNS[:5]), summary.get("total"), summary.get("ok")]
            )
        return out.getvalue()
    raise click.UsageError(f"--format {fmt} is for results; a list of runs is table, json, jsonl or csv")


def render(
    document: Document,
    fmt: str,
    methods: Sequence[str | None] = (),
    *,
    color: bool = False,
    width: int | None = None,
) -> str:
    """``document`` (a run, a run read back, or a listing of runs) in format ``fmt``."""
    if fmt == "json":
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    if "runs" in document and "results" not in document:
        return _runs(document, fmt, color, width)
    rows = rows_of(document, methods)
    if fmt == "table":
        return table.render_document(document, methods, color=color, width=width)
    if fmt == "jsonl":
        return "".join(json.dumps(r.result, separators=(",", ":"), ensure_ascii=False) + "\n" for r in rows)
    if fmt == "csv":
        return _csv(rows)
    if fmt == "markdown":
        return _markdown(document, rows)
    if fmt == "junit":
        return _junit(document, rows)
    raise click.UsageError(f"unknown format {fmt!r}")  # pragma: no cover - click's Choice refuses it


def emit(document: Document, fmt: str | None, output: str | None, methods: Sequence[str | None] = ()) -> None:
    """Write ``document`` to ``output`` (a file) or stdout, colours only for a terminal."""
    chosen = fmt or default_format(output)
    terminal = output is None and sys.stdout.isatty()
    width = shutil.get_terminal_size().columns if terminal else None
    text = render(document, chosen, methods, color=terminal, width=width)
    if output is None:
        click.echo(text, nl=False)
    else:
        Path(output).write_text(text, encoding="utf-8")
