"""A URL's long history: bounded over 400 days, its 1-year uptime equal to the raw observations'
figure, incidents with their cause, and records of the previous version still read."""

from __future__ import annotations

import json

from devtools.status_sample import flaky, simulate
from fanout.core.history import (
    INCIDENTS_PER_MONTH,
    MONTHS_KEPT,
    Archived,
    DailyAggregate,
    Incident,
    LongHistory,
    MonthRecord,
    archived,
    expires_at,
    with_archived,
)
from fanout.core.monitors import Health, MonitorSpec, Observation, SubjectState, advance
from fanout.core.uptime import day_of

DAY = 86_400
NOW = 1_790_000_000.0  # 2026-09-21
SPEC = MonitorSpec(name="m", failure_threshold=2)


def _size(record: MonthRecord) -> int:
    days = [[d.checks, d.failures, d.maintenance_ms, d.p50_ms, d.p95_ms] for d in record.days.values()]
    incidents = [
        [i.start, i.end, i.outcome, i.status_code, list(i.checks_failed)] for i in record.incidents.values()
    ]
    return len(json.dumps([days, incidents]))


def test_400_days_stay_bounded_and_the_year_uptime_is_the_raw_figure() -> None:
    start = (NOW // DAY - 419) * DAY
    sim = simulate("https://a.example/health", start, 420, 48, flaky(5, outage_every=7), SPEC)
    now = start + 420 * DAY - 1
    live = [r for r in sim.months.values() if expires_at(r.month) >= now]
    assert len(live) <= MONTHS_KEPT
    assert max(_size(r) for r in live) < 8_000  # a month of days and a few incidents: a few KB
    long = LongHistory.of(sim.state, live, now)
    first = day_of(now - 364 * DAY)
    checks = sum(c for day, (c, _) in sim.raw.items() if day >= first)
    failures = sum(f for day, (_, f) in sim.raw.items() if day >= first)
    assert long.uptime(now, 365) == round((checks - failures) / checks, 6)
    assert long.uptime(now, 365) < 1.0  # the outages are in it
    assert long.days[0].day <= day_of(now - 399 * DAY)  # at least 400 days
    outages = {day for day, (_, f) in sim.raw.items() if f >= SPEC.failure_threshold and day >= first}
    assert {day_of(i.start) for i in long.incidents if day_of(i.start) >= first} == outages
    assert all(
        i.end is not None and i.outcome == "http_error" and i.status_code == 503 for i in long.incidents
    )


def _in_maintenance(at: float) -> bool:
    """Every seventh day, 02:00-04:00 UTC."""
    day, second = divmod(int(at), DAY)
    return day % 7 == 3 and 7_200 <= second < 14_400


def _failing_in_maintenance(at: float) -> tuple[bool, float]:
    passed, latency = flaky(3, outage_every=13)(at)
    return (passed and not _in_maintenance(at), latency)


def test_the_year_uptime_leaves_maintenance_out_and_the_days_keep_its_time() -> None:
    """A URL failing through a weekly maintenance window: its 1-year uptime is the raw figure of
    the checks outside the windows, and each day archived or still in the state has the window's
    time (4 checks, each 30 minutes after the one before)."""
    start = (NOW // DAY - 399) * DAY
    sim = simulate(
        "https://m.example/", start, 400, 48, _failing_in_maintenance, SPEC, maintenance=_in_maintenance
    )
    now = start + 400 * DAY - 1
    long = LongHistory.of(sim.state, list(sim.months.values()), now)
    first = day_of(now - 364 * DAY)
    checks = sum(c for day, (c, _) in sim.raw.items() if day >= first)
    failures = sum(f for day, (_, f) in sim.raw.items() if day >= first)
    assert long.uptime(now, 365) == round((checks - failures) / checks, 6)
    maintained = sum(n for day, n in sim.maintained.items() if day >= first)
    assert maintained == 52 * 4  # the windows failed every check: counted as down, the figure would drop
    assert long.uptime(now, 365) != round((checks - failures) / (checks + maintained), 6)
    assert {d.day: d.maintenance_ms for d in long.days if d.maintenance_ms} == {
        day: n * 1_800_000 for day, n in sim.maintained.items() if day >= long.days[0].day
    }
    assert {d.day for d in sim.state.history.days if d.maintenance} <= {d.day for d in long.days}


def test_a_month_keeps_at_most_its_cap_of_incidents() -> None:
    months: dict[str, MonthRecord] = {}
    for k in range(INCIDENTS_PER_MONTH + 7):
        months = with_archived(months, "u", Archived(opened=(Incident(NOW + k * 60, outcome="timeout"),)))
    (record,) = months.values()
    assert len(record.incidents) == INCIDENTS_PER_MONTH
    assert record.dropped_incidents == 7
    again = with_archived(months, "u", Archived(opened=(Incident(NOW, outcome="timeout"),)))
    assert again == months  # a write repeated changes nothing


def _obs(n: int, at: float, ok: bool) -> Observation:
    return Observation(
        f"k{n}", "r", at, ok, "ok" if ok else "timeout", None if not ok else 200, latency_ms=50.0
    )


def test_an_incident_opens_with_its_cause_and_closes_with_its_end() -> None:
    state = SubjectState("u")
    changes = []
    for n, (at, ok) in enumerate([(NOW, True), (NOW + 60, False), (NOW + 120, False), (NOW + 180, True)]):
        moved = advance(state, _obs(n, at, ok), SPEC)
        alerts = [] if moved.alert is None else [(moved.alert.to, moved.alert.since)]
        changes.append(archived(state, moved.state, alerts))
        state = moved.state
    opened = [i for c in changes for i in c.opened]
    closed = [i for c in changes for i in c.closed]
    assert [(i.start, i.outcome) for i in opened] == [(NOW + 120, "timeout")]
    assert [(i.start, i.end) for i in closed] == [(NOW + 120, NOW + 180)]
    months: dict[str, MonthRecord] = {}
    for c in changes:
        months = with_archived(months, "u", c)
    (incident,) = LongHistory.of(state, list(months.values()), NOW + 200).incidents
    assert (incident.outcome, incident.end, incident.duration_s(NOW + 200)) == ("timeout", NOW + 180, 60.0)


def test_a_down_url_shows_its_open_incident_from_the_state_alone() -> None:
    """A state written by the previous version (no month records yet) still reads: its days and
    its current incident come from the state."""
    state = SubjectState("u")
    for n, at in enumerate((NOW, NOW + 60)):
        state = advance(state, _obs(n, at, False), SPEC).state
    assert state.status is Health.DOWN
    long = LongHistory.of(state, [], NOW + 120)
    assert [(i.start, i.end) for i in long.incidents] == [(NOW + 60, None)]
    assert long.uptime(NOW + 120, 7) == state.history.uptime_days(NOW + 120, 7) == 0.0


def test_the_state_wins_for_a_day_both_know() -> None:
    state = advance(SubjectState("u"), _obs(0, NOW, True), SPEC).state
    stale = MonthRecord("u", day_of(NOW)[:7], {day_of(NOW): DailyAggregate(day_of(NOW), 1, 1)})
    long = LongHistory.of(state, [stale], NOW)
    assert [(d.checks, d.failures) for d in long.days] == [(1, 0)]
