"""What a monitor run's render reads again (docs/status-page.md, "When it is rendered").

Reading a monitor's history and rendering its files costs in proportion to its URLs; the whole
deployment's would grow without bound with its monitors. So a render reads again only the
monitors that ran since their files were last rendered, up to a number of URLs (the run's own
monitor first, then those never rendered, then the longest waiting): the others' statuses are
kept from the render before (their ``monitors/<name>.json``), and those left over are rendered
by the next runs. The index and ``status.json`` are always whole.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Summary = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class RenderPlan:
    fresh: tuple[Summary, ...]  # read from the table and rendered again
    kept: tuple[str, ...]  # on the index from their last render's JSON
    waiting: tuple[str, ...]  # never rendered, and beyond this render's cap: left for the next

    @property
    def fresh_urls(self) -> int:
        return sum(urls_of(s) for s in self.fresh)


def urls_of(summary: Summary) -> int:
    return int(summary.get("urls") or 0)


def plan_render(
    summaries: Sequence[Summary], rendered: Mapping[str, str], monitor: str, *, max_urls: int
) -> RenderPlan:
    """Which public monitors to read again, ``monitor`` (this run's) first, at most ``max_urls``
    URLs; ``rendered`` holds each monitor's ``last_run_at`` as last rendered."""
    public = [s for s in summaries if s.get("public", True) is not False]
    due = [s for s in public if s["name"] == monitor or rendered.get(s["name"]) != s.get("last_run_at")]
    due.sort(key=lambda s: (s["name"] != monitor, s["name"] in rendered, rendered.get(s["name"], "")))
    fresh, total = [], 0
    for s in due:
        if total + urls_of(s) > max_urls:
            continue
        fresh.append(s)
        total += urls_of(s)
    taken = {s["name"] for s in fresh}
    kept = tuple(s["name"] for s in public if s["name"] not in taken and s["name"] in rendered)
    waiting = tuple(s["name"] for s in public if s["name"] not in taken and s["name"] not in rendered)
    return RenderPlan(tuple(fresh), kept, waiting)
