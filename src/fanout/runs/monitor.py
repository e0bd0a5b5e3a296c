"""A monitor run's last step before persistence: move each URL's (and threshold's) state by this
run's observation, send the alerts those moves owe, and say what happened (docs/monitors.md).

The monitor's slice (``before``) is cut in three: state updates (half), sends (to 80 %), and
settling (the rest: sent alerts removed, failed ones released for the next run). States are
written concurrently (``monitor_concurrency`` at a time), each a conditional write on its
version; a write that loses to an overlapping run reads the state again and re-applies.
Nothing here raises for a store: a state that cannot be written, or an alert that cannot be
sent, is counted in the report (and a failed alert stays pending for the next run).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

from fanout.aws.alerts import AlertSinks
from fanout.aws.history_table import HistoryTable
from fanout.aws.monitor_dependencies import dependencies_down
from fanout.aws.monitors_table import MonitorsTable
from fanout.core.hygiene import Holds, governed
from fanout.core.maintenance import ActiveWindow, active_window, duration_s
from fanout.core.monitor_report import MAX_LISTED_TRANSITIONS, MaintenanceNow, MonitorReport, Transition
from fanout.core.monitor_summary import summary_of
from fanout.core.monitors import Alert, Health, Observation, SubjectState, advance, claim, settle
from fanout.core.regional import REGION_PREFIX, is_region_subject, region_heard, voted
from fanout.core.results import UrlResult
from fanout.core.thresholds import ThresholdResult
from fanout.errors import StoreError
from fanout.observability.log import logger
from fanout.runs.alert_sends import AlertSender
from fanout.runs.alerting import AlertRoutes
from fanout.runs.history import archive
from fanout.runs.monitor_run import MonitorRun, observations

__all__ = ["MAX_CONFLICTS", "MonitorRun", "MonitorUpdate", "observations"]

MAX_CONFLICTS = 4  # rounds of read-again-and-apply after losing writes to overlapping runs


@dataclass(frozen=True, slots=True)
class _Written:
    state: SubjectState
    alerts: tuple[Alert, ...]  # changes this run made
    owned: tuple[Alert, ...]  # pending alerts this run now sends
    reminders: int = 0  # STILL DOWN reminders this run made
    prior: SubjectState | None = None  # the state this run's observations moved (for the history)


class MonitorUpdate:
    """One monitor run's update, over the table and the alert targets."""

    def __init__(
        self,
        table: MonitorsTable,
        sinks: AlertSinks,
        run: MonitorRun,
        *,
        concurrency: int,
        routes: AlertRoutes | None = None,
        history: HistoryTable | None = None,
    ) -> None:
        self._table, self._sinks, self._run, self._concurrency = table, sinks, run, concurrency
        self._routes = routes
        self._name, self._history = run.spec.name, history
        self._window: ActiveWindow | None = None
        self._holds = Holds()
        self._sender = AlertSender(sinks, routes, run.spec, report=run.report)

    @property
    def _targets(self) -> frozenset[str]:
        return self._sender.targets

    async def apply(
        self, results: Sequence[UrlResult], thresholds: Sequence[ThresholdResult], *, before: float
    ) -> MonitorReport:
        wanted = observations(self._run, results, thresholds)
        return await self.apply_observed(wanted, thresholds, before=before)

    async def apply_observed(
        self,
        wanted: dict[str, list[Observation]],
        thresholds: Sequence[ThresholdResult] | None,
        *,
        before: float,
    ) -> MonitorReport:
        """Each subject moved by its observations (a regional monitor's: votes in their rounds);
        ``thresholds``: the run's, for the summary (None: a region report's, which has none)."""
        loop = asyncio.get_running_loop()
        span = max(0.0, before - loop.time())
        states_by, send_by = loop.time() + span * 0.5, loop.time() + span * 0.8
        await self._hold(states_by)
        written, failed = await self._write_all(wanted, states_by)
        async with asyncio.TaskGroup() as group:  # the long history is written while alerts are sent
            moves = [
                (w.prior, w.state, w.alerts)
                for w in written
                if w.prior is not None and not is_region_subject(w.state.subject)
            ]
            group.create_task(archive(self._history, self._name, moves, send_by))
            sending = group.create_task(self._send_all(written, send_by))
        delivered = sending.result()
        settled = await self._settle_all(written, delivered, before)
        await self._summarize(settled, thresholds or (), before)
        sent = sum(self._complete(d) for d in delivered.values()) if self._targets else 0
        errors = len(delivered) - sent if self._targets else 0
        return self._report(settled, written, state_errors=failed, sent=sent, failed=errors)

    async def _hold(self, before: float) -> None:
        """What holds this run's alerts: an active maintenance window, dependencies down."""
        spec = self._run.spec
        self._window = active_window(spec.maintenance, time.time())
        down: tuple[str, ...] = ()
        if spec.depends_on:
            try:
                down = await dependencies_down(self._table, spec.depends_on, before)
            except StoreError as exc:  # unknown: hold nothing (an alert too many, never one lost)
                logger.warning(
                    "monitor dependencies not read", extra={"monitor": self._name, "error": str(exc)}
                )
        self._holds = Holds(maintenance=self._window is not None, dependencies=down)

    def _moved(self, state: SubjectState, observed: Sequence[Observation]) -> _Written:
        """``state`` after this run's observations, with the pending alerts it now claims (the
        alerts it owes once windows, dependencies and reminders are counted: ``governed``)."""
        now = time.time()
        new, alerts = state, []
        for obs in observed:
            new, made = self._step(new, obs, now)
            if made is not None:
                alerts.append(made)
        if not observed and not is_region_subject(state.subject):
            new = governed(new, None, self._holds, now=now, remind_every_s=self._remind_s)
        before_ids = {a.id for a in state.pending}
        reminders = sum(a.event == "reminder" and a.id not in before_ids for a in new.pending)
        new, owned = claim(new, self._run.claimant or self._run.run_id, until=self._run.claim_until, now=now)
        return _Written(new, tuple(alerts), owned, reminders, prior=state)

    @property
    def _remind_s(self) -> int | None:
        every = self._run.spec.remind_every
        return None if every is None else duration_s(every)

    def _step(self, state: SubjectState, obs: Observation, now: float) -> tuple[SubjectState, Alert | None]:
        """``state`` after one observation, and the change it made: a region's liveness moves on
        its own; a regional vote moves the state machine only when it decides its round."""
        spec = self._run.spec
        if is_region_subject(state.subject):
            heard = region_heard(state, obs, spec)
            return heard.state, heard.alert
        verdict: Observation | None = obs
        if obs.round is not None:
            state, verdict = voted(state, obs, spec, now=now, max_age_s=self._run.round_max_age_s)
        if verdict is None:
            return governed(state, None, self._holds, now=now, remind_every_s=self._remind_s), None
        moved = advance(state, verdict, spec, in_maintenance=self._holds.maintenance)
        governed_state = governed(
            moved.state, moved.alert, self._holds, now=now, remind_every_s=self._remind_s
        )
        return governed_state, moved.alert

    async def _load(self, subjects: Sequence[str], before: float) -> dict[str, SubjectState]:
        stored = await self._table.load(self._name, subjects, before, concurrency=self._concurrency)
        return {s: stored.get(s) or SubjectState(s) for s in subjects}

    async def _write_all(
        self, wanted: dict[str, list[Observation]], before: float
    ) -> tuple[list[_Written], int]:
        """Every subject's new state written (read again and re-applied when another run wrote it
        first); the written states, and how many could not be."""
        done: list[_Written] = []
        failed = 0
        try:
            current = await self._load(list(wanted), before)
        except StoreError as exc:
            logger.warning("monitor states not read", extra={"monitor": self._name, "error": str(exc)})
            return done, len(wanted)
        for _ in range(MAX_CONFLICTS):
            moved = {s: self._moved(state, wanted[s]) for s, state in current.items()}
            done += [w for s, w in moved.items() if w.state is current[s]]  # nothing to write
            changed = [w for s, w in moved.items() if w.state is not current[s]]
            if not changed:
                return done, failed
            saved = await self._table.save_all(
                self._name, [w.state for w in changed], before, concurrency=self._concurrency
            )
            versions = saved.versions
            done += [
                replace(w, state=replace(w.state, version=versions[w.state.subject]))
                for w in changed
                if w.state.subject in versions
            ]
            failed += len(saved.failed)
            for subject, why in list(saved.failed.items())[:5]:
                extra = {"monitor": self._name, "url": subject, "error": why}
                logger.warning("monitor state not written", extra=extra)
            if not saved.stale:
                return done, failed
            try:
                current = await self._load(sorted(saved.stale), before)
            except StoreError:
                return done, failed + len(saved.stale)
        return done, failed + len(current)

    async def _send_all(self, written: Sequence[_Written], before: float) -> dict[str, tuple[str, ...]]:
        """Send every alert this run owns to the targets that lack it; alert id -> targets that have it."""
        return await self._sender.send_all([a for w in written for a in w.owned], before)

    def _complete(self, delivered: tuple[str, ...]) -> bool:
        """Every target that is on has it (with none on, nothing is owed: it is settled)."""
        return self._targets <= set(delivered)

    async def _settle_all(
        self, written: Sequence[_Written], delivered: dict[str, tuple[str, ...]], before: float
    ) -> list[SubjectState]:
        """Every written state, its alerts sent everywhere removed and the others released."""
        tried = {w.state.subject: {a.id: delivered[a.id] for a in w.owned} for w in written if w.owned}
        states = {w.state.subject: w.state for w in written}
        todo = {s: states[s] for s in tried}
        for _ in range(MAX_CONFLICTS):
            if not todo:
                break
            settled = {}
            for subject, state in todo.items():
                sent = frozenset(i for i, d in tried[subject].items() if self._complete(d))
                settled[subject] = settle(
                    state, sent, {i: d for i, d in tried[subject].items() if i not in sent}
                )
            saved = await self._table.save_all(
                self._name, list(settled.values()), before, concurrency=self._concurrency
            )
            states |= {s: replace(settled[s], version=v) for s, v in saved.versions.items()}
            if not saved.stale:
                break
            try:
                todo = await self._load(sorted(saved.stale), before)
            except StoreError:
                break
        return list(states.values())

    async def _summarize(
        self, states: Sequence[SubjectState], thresholds: Sequence[ThresholdResult], before: float
    ) -> None:
        gone = () if self._routes is None else sorted(self._routes.gone)
        summary = summary_of(self._run.spec, self._run.run_id, states, thresholds, self._holds, gone)
        try:
            await self._table.put_summary(self._name, summary, before)
        except StoreError as exc:
            logger.warning("monitor summary not written", extra={"monitor": self._name, "error": str(exc)})

    def _report(
        self,
        states: Sequence[SubjectState],
        written: Sequence[_Written],
        *,
        state_errors: int,
        sent: int,
        failed: int,
    ) -> MonitorReport:
        changes = [
            Transition.of(a.subject, a.from_.value, a.to.value)
            for w in written
            for a in w.alerts
            if not is_region_subject(a.subject)
        ]
        urls = [s for s in states if not s.subject.startswith(("threshold:", REGION_PREFIX))]
        return MonitorReport(
            name=self._name,
            transitions=tuple(changes[:MAX_LISTED_TRANSITIONS]),
            transitions_total=len(changes),
            down=sum(s.status is Health.DOWN for s in urls),
            up=sum(s.status is Health.UP for s in urls),
            unknown=sum(s.status is Health.UNKNOWN for s in urls),
            notified=sent,
            notify_errors=failed,
            state_errors=state_errors,
            pending=sum(len(s.pending) for s in states),
            maintenance_active=self._window is not None,
            maintenance=None if self._window is None else MaintenanceNow.from_json(self._window.to_json()),
            suppressed=sum(bool(s.suppressed_by) for s in states),
            dependencies_down=self._holds.dependencies,
            reminders=sum(w.reminders for w in written),
            grouped=self._sender.grouped,
        )
