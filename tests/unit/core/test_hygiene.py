"""The alerts a subject owes once maintenance, dependencies and reminders count (``governed``
after ``advance``), in pure code; the history counts maintenance apart."""

from __future__ import annotations

from dataclasses import replace

from fanout.core.hygiene import Holds, governed
from fanout.core.monitors import Health, MonitorSpec, Observation, SubjectState, advance

SPEC = MonitorSpec(name="prod", failure_threshold=1, success_threshold=1)
T0 = 1_796_000_000.0
OPEN = Holds()
WINDOW = Holds(maintenance=True)
DEP_DOWN = Holds(dependencies=("core-network",))


class Subject:
    """One URL observed run after run; what each run owed (alerts new in pending)."""

    def __init__(self, remind_every_s: int | None = None) -> None:
        self.state = SubjectState("https://a.example/")
        self.remind = remind_every_s
        self.n = 0

    def run(
        self, ok: bool, holds: Holds = OPEN, *, at: float | None = None, key: str | None = None
    ) -> list[str]:
        self.n += 1
        when = T0 + self.n * 300 if at is None else at
        obs = Observation(
            key or f"k{self.n}", f"r{self.n}", when, ok, "ok" if ok else "failed", latency_ms=5.0
        )
        seen = {a.id for a in self.state.pending}
        moved = advance(self.state, obs, SPEC, in_maintenance=holds.maintenance)
        self.state = governed(moved.state, moved.alert, holds, now=when, remind_every_s=self.remind)
        new = [a for a in self.state.pending if a.id not in seen]
        return [f"{a.event}:{a.from_}->{a.to}" for a in new]

    def sent(self) -> None:
        """Every pending alert delivered."""
        self.state = replace(self.state, pending=())


def test_without_holds_changes_are_alerted_as_before() -> None:
    s = Subject()
    assert s.run(True) == []  # unknown -> up: no alert
    assert s.run(False) == ["changed:up->down"]
    assert s.run(False) == []
    assert s.run(True) == ["changed:down->up"]


def test_a_window_holds_alerts_and_a_url_still_down_at_its_end_is_alerted_then() -> None:
    s = Subject()
    s.run(True)
    assert s.run(False, WINDOW) == []
    assert s.state.status is Health.DOWN
    assert s.state.suppressed_by == ("maintenance",)
    assert s.run(False, WINDOW) == []
    assert s.run(False) == ["changed:up->down"]  # the first run after the window
    assert s.state.suppressed_by == ()
    assert s.state.told is Health.DOWN
    assert s.run(False) == []  # once
    assert s.run(True) == ["changed:down->up"]


def test_down_and_back_inside_a_window_is_never_alerted() -> None:
    s = Subject()
    s.run(True)
    assert s.run(False, WINDOW) == []
    assert s.run(True, WINDOW) == []
    assert s.run(True) == []
    assert s.state.told is not Health.DOWN


def test_a_recovery_inside_a_window_is_told_at_its_end_with_the_incident_it_closes() -> None:
    s = Subject()
    s.run(True)
    s.run(False)
    down_since = s.state.told_since
    s.sent()
    assert s.run(True, WINDOW) == []
    assert s.run(True) == ["changed:down->up"]
    assert s.state.pending[0].from_since == down_since  # the UP closes the DOWN's incident


def test_a_dependency_down_holds_down_alerts_until_it_recovers() -> None:
    s = Subject()
    s.run(True)
    assert s.run(False, DEP_DOWN) == []
    assert s.state.suppressed_by == ("core-network",)
    assert s.run(False, DEP_DOWN) == []
    assert s.run(False) == ["changed:up->down"]  # the dependency is back, this URL is not
    s.sent()
    assert s.run(True, DEP_DOWN) == ["changed:down->up"]  # an UP is never held by a dependency


def test_reminders_once_per_whole_period_while_down_and_never_held_twice() -> None:
    s = Subject(remind_every_s=3_600)
    s.run(True, at=T0)
    assert s.run(False, at=T0 + 60) == ["changed:up->down"]
    s.sent()
    assert s.run(False, at=T0 + 3_000) == []
    assert s.run(False, at=T0 + 3_660) == ["reminder:down->down"]
    assert s.run(False, at=T0 + 3_700, key="again") == []  # the same period
    assert s.run(False, at=T0 + 3_700, key="again") == []  # a duplicate delivery
    assert s.run(False, WINDOW, at=T0 + 7_300) == []  # held by a window
    assert s.run(False, at=T0 + 11_000) == ["reminder:down->down"]  # one, not two (3 periods since)
    assert s.run(False, at=T0 + 11_100) == []
    reminder = s.state.pending[-1]
    assert reminder.since == T0 + 60  # the incident's start


def test_maintenance_checks_count_apart_from_downtime() -> None:
    s = Subject()
    s.run(True, at=T0)
    s.run(False, WINDOW, at=T0 + 300)
    s.run(False, WINDOW, at=T0 + 600)
    s.run(True, at=T0 + 900)
    day = s.state.history.days[-1]
    assert (day.ok, day.failed, day.maintenance, day.maintenance_ms) == (2, 0, 2, 600_000)
    assert s.state.history.uptime_days(T0 + 900, 1) == 1.0
    assert sum(h.maintenance for h in s.state.history.hours) == 2
