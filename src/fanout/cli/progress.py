"""Progress bars on stderr, for people watching a terminal; nothing at all otherwise.

Whether stderr is a terminal is asked of the stream itself (``isatty``), not guessed from the
environment: a CI log, a pipe or a file never gets a bar or an escape sequence, whatever
``FORCE_COLOR`` says. ``--no-progress`` turns them off on a terminal too.

- ``url_progress``: a run here; ``fetch_run`` tells it each URL's outcome (``on_done``):
  done / total, the outcomes so far, time elapsed against the deadline; the run's summary
  settles it (what the deadline cut shows as cancelled / not_started).
- ``shard_progress``: a sharded run followed through ``GET /runs/{id}``: shards done / total.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, ProgressColumn, Task, TextColumn
from rich.text import Text

from fanout.core.results import Outcome

OnView = Callable[[Mapping[str, Any]], None]


def shown(enabled: bool = True) -> bool:
    """A bar is shown only on a terminal's stderr (and when not turned off)."""
    return enabled and sys.stderr.isatty()


class _Clock(ProgressColumn):
    """``3.2s / 30.0s``: elapsed against the deadline (or just elapsed, with no deadline)."""

    def render(self, task: Task) -> Text:
        elapsed = task.elapsed or 0.0
        limit = task.fields.get("limit_s")
        return Text(f"{elapsed:.1f}s" + ("" if limit is None else f" / {limit:.1f}s"), style="cyan")


class _Count(ProgressColumn):
    """``7/12`` (``7/?`` until the total is known)."""

    def render(self, task: Task) -> Text:
        total = "?" if task.total is None else f"{task.total:.0f}"
        return Text(f"{task.completed:.0f}/{total}")


def _bar(console: Console, what: str) -> Progress:
    return Progress(
        TextColumn(f"[bold]{what}"),
        BarColumn(bar_width=30),
        _Count(),
        TextColumn("{task.fields[note]}"),
        _Clock(),
        console=console,
        transient=False,
        refresh_per_second=8,
    )


def _counts(outcomes: Counter[str]) -> str:
    ok = outcomes.get("ok", 0)
    others = [f"{n} {name}" for name, n in sorted(outcomes.items()) if name != "ok" and n]
    return ", ".join([f"[green]{ok} ok[/]", *(f"[red]{o}[/]" for o in others)])


class UrlBar:
    """The bar of a run here: ``on_done`` for ``fetch_run``, ``settle`` with the run's summary
    (URLs cut by the deadline are never "done": the summary says what became of them)."""

    def __init__(self, bar: Progress, total: int, deadline_s: float) -> None:
        self._bar = bar
        self._outcomes: Counter[str] = Counter()
        self._task = bar.add_task("run", total=total, note=_counts(self._outcomes), limit_s=deadline_s)

    def on_done(self, outcome: Outcome) -> None:
        self._outcomes[outcome.value] += 1
        self._bar.update(self._task, advance=1, note=_counts(self._outcomes))

    def settle(self, summary: Mapping[str, int]) -> None:
        outcomes = Counter({k: int(v) for k, v in summary.items() if k != "total"})
        self._bar.update(self._task, completed=int(summary.get("total", 0)), note=_counts(outcomes))


@contextmanager
def url_progress(total: int, deadline_s: float, *, enabled: bool = True) -> Iterator[UrlBar | None]:
    """A bar for a run of ``total`` URLs (or None: no terminal, or turned off)."""
    if not shown(enabled):
        yield None
        return
    with _bar(Console(stderr=True, force_terminal=True), "fetching") as bar:
        yield UrlBar(bar, total, deadline_s)


@contextmanager
def shard_progress(limit_s: float, *, enabled: bool = True) -> Iterator[OnView | None]:
    """A bar over a sharded run's shards; yields what to call with each ``GET /runs/{id}`` view."""
    if not shown(enabled):
        yield None
        return
    with _bar(Console(stderr=True, force_terminal=True), "shards") as bar:
        task = bar.add_task("run", total=None, note="", limit_s=limit_s)

        def on_view(view: Mapping[str, Any]) -> None:
            p = view.get("progress") or {}
            note = f"{p.get('urls_done', 0)}/{p.get('urls_total', 0)} URLs, {view.get('status')}"
            bar.update(
                task, total=p.get("shards_total") or None, completed=p.get("shards_done", 0), note=note
            )

        yield on_view
