"""Monitors with simulated history for the status page's tests, bench and screenshots: each URL's
observations run through the real state machine (``advance``) and its archive (``archived``),
day after day, so the page shows what a deployment would have stored."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from fanout.aws.history_table import month_item
from fanout.aws.monitor_codec import state_item, summary_item
from fanout.core.history import Archived, MonthRecord, archived, with_archived
from fanout.core.ids import iso_from_epoch
from fanout.core.monitors import Health, MonitorSpec, Observation, SubjectState, advance
from fanout.core.regional import region_heard, region_subject, voted
from fanout.core.rounds import round_of_start
from fanout.core.uptime import day_of
from fanout.status.model import MonitorData

Outcome = Callable[[float], tuple[bool, float]]  # epoch -> (passed, latency ms)
RegionOutcome = Callable[[str, float], tuple[bool, float]]  # (region, epoch) -> (passed, latency ms)
ROUND_MAX_AGE_S = 900.0  # FANOUT_ROUND_MAX_AGE_S's default


@dataclass
class Simulated:
    """A URL's state and month records after its observations, and the raw counts per day."""

    state: SubjectState
    months: dict[str, MonthRecord] = field(default_factory=dict)
    raw: dict[str, tuple[int, int]] = field(default_factory=dict)  # day -> (checks, failures)
    maintained: dict[str, int] = field(default_factory=dict)  # day -> checks under maintenance
    changes: list[Archived] = field(default_factory=list)  # what each run archived, in order


def simulate(
    url: str,
    start: float,
    days: int,
    per_day: int,
    outcome: Outcome,
    spec: MonitorSpec,
    *,
    maintenance: Callable[[float], bool] | None = None,
) -> Simulated:
    """``maintenance``: whether a check at an instant falls in a maintenance window (its checks
    count in ``maintained``, not in ``raw``)."""
    sim = Simulated(SubjectState(url))
    step = 86_400 / per_day
    for n in range(days * per_day):
        at = start + n * step
        ok, latency = outcome(at)
        obs = Observation(f"k{n}", f"run{n}", at, ok, "ok" if ok else "http_error",
                          200 if ok else 503, latency_ms=latency)  # fmt: skip
        held = maintenance is not None and maintenance(at)
        moved = advance(sim.state, obs, spec, in_maintenance=held)
        alerts = [] if moved.alert is None else [(moved.alert.to, moved.alert.since)]
        change = archived(sim.state, moved.state, alerts)
        if change:
            sim.changes.append(change)
            sim.months = with_archived(sim.months, url, change)
        sim.state = moved.state
        if held:
            sim.maintained[day_of(at)] = sim.maintained.get(day_of(at), 0) + 1
            continue
        checks, failures = sim.raw.get(day_of(at), (0, 0))
        sim.raw[day_of(at)] = (checks + 1, failures + (not ok))
    return sim


def simulate_rounds(
    url: str, start: float, rounds: int, every_s: float, outcome: RegionOutcome, spec: MonitorSpec
) -> tuple[Simulated, dict[str, SubjectState]]:
    """A regional monitor's URL, round by round, as its home region applies the regions' reports
    (``runs.monitor``): each region's vote taken by ``voted`` (the first to report rotates from
    round to round, each a second after the other), the verdict of the vote that completes a
    quorum moved through ``advance`` and archived; and each region's liveness (``region_heard``)."""
    assert spec.regions, "a regional monitor's spec"
    sim = Simulated(SubjectState(url))
    liveness = {r: SubjectState(region_subject(r)) for r in spec.regions}
    for n in range(rounds):
        scheduled = start + n * every_s
        order = spec.regions[n % len(spec.regions) :] + spec.regions[: n % len(spec.regions)]
        for k, region in enumerate(order):
            at = scheduled + 1 + k
            ok, latency = outcome(region, scheduled)
            obs = Observation(f"{region}:{n}", f"run-{region}-{n}", at, ok, "ok" if ok else "http_error",
                              200 if ok else 503, latency_ms=latency, region=region,
                              round=round_of_start(scheduled))  # fmt: skip
            state, verdict = voted(sim.state, obs, spec, now=at, max_age_s=ROUND_MAX_AGE_S)
            alerts: list[tuple[Health, float]] = []
            if verdict is not None:
                moved = advance(state, verdict, spec)
                state = moved.state
                alerts = [] if moved.alert is None else [(moved.alert.to, moved.alert.since)]
                checks, failures = sim.raw.get(day_of(at), (0, 0))
                sim.raw[day_of(at)] = (checks + 1, failures + (not verdict.passed))
            change = archived(sim.state, state, alerts)
            if change:
                sim.changes.append(change)
                sim.months = with_archived(sim.months, url, change)
            sim.state = state
            liveness = {r: region_heard(s, obs, spec).state for r, s in liveness.items()}
    return sim, liveness


def flaky(seed: int, *, outage_every: int = 29, base_ms: float = 80.0) -> Outcome:
    """Mostly fine, with a 40-minute outage every ``outage_every`` days and noisy latency."""
    rng = random.Random(seed)

    def outcome(at: float) -> tuple[bool, float]:
        day, second = divmod(int(at), 86_400)
        down = day % outage_every == seed % outage_every and 36_000 <= second < 38_400
        return (not down, base_ms * (1 + rng.random()) + (400 if rng.random() < 0.03 else 0))

    return outcome


def sample_monitors(
    now: float,
    monitors: int,
    urls: int,
    *,
    days: int = 95,
    per_day: int = 24,
    public: Mapping[str, bool] | None = None,
    variants: int = 7,
) -> list[MonitorData]:
    """``monitors`` monitors of ``urls`` URLs each. ``variants`` simulated URL histories are shared
    among them, each URL under its own name (the render's cost, not the simulation's, is what
    callers measure)."""
    start = (now // 86_400 - days + 1) * 86_400
    spec = MonitorSpec(name="sample", failure_threshold=1)
    bases = [
        simulate("https://example.com/base", start, days, per_day, flaky(seed, outage_every=11 + seed), spec)
        for seed in range(variants)
    ]
    found = []
    for m in range(monitors):
        name = f"service-{m:03d}"
        states, months = [], {}
        for u in range(urls):
            url = f"https://{name}.example.com/health/{u}?token=secret"
            base = bases[(m * urls + u) % len(bases)]
            states.append(replace(base.state, subject=url))
            months[url] = [replace(r, subject=url) for r in base.months.values()]
        summary = {"name": name, "group": f"group-{m % 5}", "public": (public or {}).get(name, True),
                   "last_run_at": None}  # fmt: skip
        found.append(MonitorData(summary, states, months))
    return found


def seed_table(ddb: Any, table: str, monitors: Sequence[MonitorData], now: float) -> int:
    """Write the monitors (summary, URL states, month records) into a monitors table as monitor
    runs would have, with a boto3 DynamoDB client; how many items. Each summary says it ran at
    ``now`` with its URL count, as a run's does."""
    expires = int(now) + 35 * 86_400
    items = []
    for m in monitors:
        name = str(m.summary["name"])
        summary = dict(m.summary) | {"urls": len(m.states), "last_run_at": iso_from_epoch(now)}
        items.append(summary_item(name, summary, expires_at=expires))
        items += [state_item(name, s, version=1, expires_at=expires) for s in m.states]
        items += [month_item(name, r) for records in m.months.values() for r in records]
    for start in range(0, len(items), 25):
        batch = {table: [{"PutRequest": {"Item": i}} for i in items[start : start + 25]]}
        while batch:
            batch = ddb.batch_write_item(RequestItems=batch).get("UnprocessedItems") or {}
    return len(items)
