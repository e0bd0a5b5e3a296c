"""A monitor run's long-history step: what its state moves archive (closed days, incidents) written
to the monitors table's month items (``fanout.core.history``), within the run's send slice.

A write that fails is logged and not retried: the state still holds the last 31 days, so a lost
day shows in the status page's 90-day and 1-year figures only after it leaves the state.
"""

from __future__ import annotations

from collections.abc import Sequence

from fanout.aws.history_table import HistoryTable
from fanout.core.history import Archived, archived
from fanout.core.monitors import Alert, SubjectState
from fanout.errors import StoreError
from fanout.observability.log import logger

Move = tuple[SubjectState, SubjectState, Sequence[Alert]]


def changes(moves: Sequence[Move]) -> dict[str, Archived]:
    """Each subject's archive from its (prior state, new state, alerts it made)."""
    found = {}
    for prior, after, alerts in moves:
        change = archived(prior, after, [(a.to, a.since) for a in alerts])
        if change:
            found[after.subject] = change
    return found


async def archive(history: HistoryTable | None, monitor: str, moves: Sequence[Move], before: float) -> None:
    """Write the moves' archives (never raises, whatever fails: it runs in a task group beside
    the alert sends, which a raise would cancel half-way, to be sent again by the next run)."""
    if history is None:
        return
    try:
        todo = changes(moves)
        if not todo:
            return
        failed = await history.record(monitor, todo, before)
    except StoreError as exc:
        failed, why = len(moves), str(exc)
    except Exception as exc:  # it runs beside the sends: raising would cancel them half-way
        failed, why = len(moves), f"{type(exc).__name__}: {exc}"
    else:
        why = "see the store's errors"
    if failed:
        logger.warning(
            "monitor history not written", extra={"monitor": monitor, "failed": failed, "error": why}
        )
