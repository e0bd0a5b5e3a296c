"""The ``table`` format: results as a rich table and a few summary lines, for people.

The same table is ``make demo``'s (``devtools.demo`` calls ``render_document`` with its own way
of showing URLs). Columns: ``#``, ``method``, ``url``, ``outcome``, ``status``, ``tries``, ``ms``
(the URL's whole time, retries included), ``total ms`` (its last attempt, with an ``expect``),
``bytes``, ``cert days`` (days to the certificate's expiry) and ``why`` (failed checks, the
error's type, or ``degraded``). Plain text when written to a file or a pipe; coloured, and fitted
to the width, on a terminal.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from fanout.cli.rows import Document, Row, rows_of

HEADER = ["#", "method", "url", "outcome", "status", "tries", "ms", "total ms", "bytes", "cert days", "why"]
RIGHT = frozenset({0, 4, 5, 6, 7, 8, 9})
PLAIN_WIDTH = 10_000  # no terminal: every column as wide as its widest cell
OUTCOME_STYLES = {"ok": "green", "cancelled": "yellow", "not_started": "yellow", "blocked": "magenta"}
URL_MIN_WIDTH = 24  # on a narrow terminal the URL folds, it never disappears
RUN_COLUMNS = ["run_id", "started_at", "source", "mode", "status", "urls", "ok", "not ok", "shards"]


def number(value: Any, digits: int = 0) -> str:
    """``1,234`` or ``1,234.5``; ``-`` for nothing."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}"


def shorten(text: str, width: int | None) -> str:
    return text if width is None or len(text) <= width else text[: width - 1] + "…"


def cells(
    row: Row,
    show_url: Callable[[str], str] = str,
    url_width: int | None = None,
    why_width: int | None = None,
) -> list[str]:
    """The row's cells, in ``HEADER``'s order (the table's and the Markdown table's)."""
    r = row.result
    return [
        str(row.index),
        row.method or "-",
        shorten(show_url(row.url), url_width),
        row.outcome,
        number(r.get("status_code")),
        number(r.get("attempts")),
        number(r.get("elapsed_ms"), 1),
        number(row.total_ms, 1),
        number(r.get("bytes")),
        number(row.cert_days, 1),
        shorten(row.why, why_width),
    ]


def _table(header: Sequence[str], right: frozenset[int]) -> Table:
    table = Table(box=box.SIMPLE, show_edge=False, pad_edge=False, padding=(0, 1), collapse_padding=True)
    for i, name in enumerate(header):
        fold = name == "url"
        table.add_column(
            name,
            justify="right" if i in right else "left",
            no_wrap=not fold,
            overflow="fold" if fold else "ellipsis",
            min_width=URL_MIN_WIDTH if fold else None,
        )
    return table


def print_lines(renderables: Sequence[Any], *, color: bool, width: int | None) -> str:
    """``renderables`` as text: ANSI colours only with ``color``; no trailing blanks."""
    out = io.StringIO()
    console = Console(
        file=out,
        width=width or PLAIN_WIDTH,
        force_terminal=color,
        color_system="standard" if color else None,
        highlight=False,
        emoji=False,
        soft_wrap=False,
    )
    for item in renderables:
        console.print(item, soft_wrap=isinstance(item, str))  # lines of text: the terminal wraps them
    return "\n".join(line.rstrip() for line in out.getvalue().splitlines()) + "\n"


def results_table(
    rows: Sequence[Row],
    *,
    show_url: Callable[[str], str] = str,
    url_width: int | None = None,
    why_width: int | None = None,
) -> Table:
    table = _table(HEADER, RIGHT)
    for row in rows:
        shown = cells(row, show_url, url_width, why_width)
        style = OUTCOME_STYLES.get(row.outcome, "" if row.ok else "red")
        table.add_row(*shown[:3], Text(shown[3], style=style), *shown[4:])
    return table


def summary_lines(document: Document) -> list[str]:
    """What the run was: counts by outcome, its id, its budget, thresholds, where it is."""
    summary: Mapping[str, Any] = document.get("summary") or {}
    counts = [f"{v} {k}" for k, v in summary.items() if k != "total" and v]
    degraded = f"; {document['degraded']} degraded" if document.get("degraded") else ""
    total = summary.get("total", len(document.get("results") or []))
    lines = [
        f"summary   {total} URLs: {', '.join(counts) or 'nothing yet'}{degraded}",
        f"run       {document.get('run_id')} (source {document.get('source')}, "
        f"started {document.get('started_at')})",
    ]
    if document.get("budget_ms") is not None:
        lines.append(
            f"budget    {number(document.get('budget_ms'), 1)} ms for the fetches; the run took "
            f"{number(document.get('elapsed_ms'), 1)} ms"
            + ("; deadline reached, in-flight fetches cancelled" if document.get("deadline_reached") else "")
        )
    if document.get("stopped_on_error"):
        lines.append("stopped   on_error=cancel: the first failure stopped the run")
    if document.get("status"):
        progress = document.get("progress") or {}
        shards = (
            f" ({progress.get('shards_done', 0)}/{progress.get('shards_total', 0)} shards)"
            if progress
            else ""
        )
        lines.append(f"status    {document['status']}{shards} {document.get('location') or ''}".rstrip())
    for t in document.get("thresholds") or []:
        verdict = {True: "met", False: "BREACHED", None: "not measured"}[t.get("ok")]
        lines.append(f"threshold {t.get('name')}{t.get('condition')}: {verdict} (value {t.get('value')})")
    if document.get("targets"):
        lines.append(f"targets   {document['targets']}")
    return lines


def render_document(
    document: Document,
    methods: Sequence[str | None] = (),
    *,
    show_url: Callable[[str], str] = str,
    url_width: int | None = None,
    why_width: int | None = None,
    color: bool = False,
    width: int | None = None,
) -> str:
    """The results table, then the summary lines."""
    rows = rows_of(document, methods)
    parts: list[Any] = []
    if rows:
        parts += [results_table(rows, show_url=show_url, url_width=url_width, why_width=why_width), ""]
    parts += summary_lines(document)
    return print_lines(parts, color=color, width=width)


def _run_cells(run: Mapping[str, Any]) -> list[str]:
    summary = run.get("summary") or {}
    total = int(summary.get("total", 0))
    ok = int(summary.get("ok", 0))
    done = sum(int(v) for k, v in summary.items() if k != "total")
    progress = run.get("progress")
    return [
        str(run.get("run_id")),
        str(run.get("started_at")),
        str(run.get("source")),
        str(run.get("mode") or "inline"),
        str(run.get("status") or "complete"),
        number(total),
        number(ok),
        number(done - ok),
        f"{progress['shards_done']}/{progress['shards_total']}" if progress else "-",
    ]


def render_runs(listing: Document, *, color: bool = False, width: int | None = None) -> str:
    """``GET /runs`` as a table, and the cursor of the next page."""
    table = _table(RUN_COLUMNS, frozenset({5, 6, 7, 8}))
    for run in listing.get("runs") or []:
        table.add_row(*_run_cells(run))
    lines: list[Any] = [table]
    if listing.get("next_cursor"):
        lines += ["", f"next page: --cursor {listing['next_cursor']}"]
    return print_lines(lines, color=color, width=width)
