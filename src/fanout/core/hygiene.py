"""Which alerts a subject's move owes once maintenance windows, dependencies and reminders are
taken into account (docs/monitors.md#hygiene-maintenance-reminders-dependencies-storms).

``advance`` says what changed; this says what the subscribers are owed. A state remembers what
they were last told (``told``: down or not, since when, and when). After each observation:

- An alert is owed when the subject's being down differs from what was told. The change
  ``advance`` just made is that alert when it matches; otherwise (a window or a dependency held
  the change, and now it is over) a catch-up alert tells it: a URL still down when its window
  ends is alerted then, and a URL that went down and came back inside a window is never alerted.
- A hold keeps an owed alert unsent (``suppressed_by``): a maintenance window holds every alert,
  a dependency that is down holds alerts that say DOWN (and reminders).
- While told down and still down, ``remind_every`` owes a ``reminder`` (STILL DOWN) once per
  whole period since the last one.

Like every alert, one made here is pending in the state and written with it (a conditional write),
so a duplicate delivery or an overlapping run never makes it twice.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace

from fanout.core.monitors import Alert, Health, SubjectState

MAINTENANCE = "maintenance"


@dataclass(frozen=True, slots=True)
class Holds:
    """What holds alerts in this run: an active window, the dependencies found down."""

    maintenance: bool = False
    dependencies: tuple[str, ...] = ()

    def of(self, to: Health) -> tuple[str, ...]:
        """What holds an alert saying ``to`` (empty: nothing, send it)."""
        if self.maintenance:
            return (MAINTENANCE,)
        return self.dependencies if to is Health.DOWN else ()


def _is_down(status: Health) -> bool:
    return status is Health.DOWN


def governed(
    state: SubjectState, made: Alert | None, holds: Holds, *, now: float, remind_every_s: int | None
) -> SubjectState:
    """``state`` (just advanced, ``made`` the alert ``advance`` added) with the alerts it owes."""
    pending = state.pending if made is None else tuple(a for a in state.pending if a.id != made.id)
    base = state if made is None else replace(state, pending=pending)
    if _is_down(base.status) != _is_down(base.told):
        return _owed_change(base, made, holds, now)
    if _is_down(base.status) and remind_every_s is not None:
        return _reminder(base, holds, now, remind_every_s)
    return base if not base.suppressed_by else replace(base, suppressed_by=())


def _owed_change(state: SubjectState, made: Alert | None, holds: Holds, now: float) -> SubjectState:
    to = state.status
    held = holds.of(to)
    if held:
        return state if state.suppressed_by == held else replace(state, suppressed_by=held)
    if made is None or made.to is not to:
        made = _catch_up(state)
    down = _is_down(to)
    return replace(
        state,
        pending=(*state.pending, made),
        told=to,
        told_since=made.since if down else None,
        told_at=now,
        suppressed_by=(),
    )


def _catch_up(state: SubjectState) -> Alert:
    """The change the subscribers missed while it was held: from what they were told to now."""
    assert state.last is not None
    assert state.since is not None
    from_ = Health.DOWN if _is_down(state.told) else Health.UP
    from_since = state.told_since if _is_down(state.told) else None
    return Alert(
        uuid.uuid4().hex, state.subject, from_, state.status, state.since, state.last, from_since=from_since
    )


def _reminder(state: SubjectState, holds: Holds, now: float, every_s: int) -> SubjectState:
    last = state.told_at if state.told_at is not None else state.since
    if last is None or now < last + every_s:
        return state if not state.suppressed_by else replace(state, suppressed_by=())
    held = holds.of(Health.DOWN)
    if held:
        return state if state.suppressed_by == held else replace(state, suppressed_by=held)
    assert state.last is not None
    since = state.told_since if state.told_since is not None else (state.since or now)
    reminder = Alert(
        uuid.uuid4().hex, state.subject, Health.DOWN, Health.DOWN, since, state.last, event="reminder"
    )
    periods = int((now - last) // every_s)
    return replace(
        state, pending=(*state.pending, reminder), told_at=last + periods * every_s, suppressed_by=()
    )
