"""Sending a monitor run's alerts: each to the deployment's topic and bus and the monitor's live
routes that lack it; more URL changes than ``group_over`` in one run go as ONE grouped alert to
each target (no storm), whose id is derived from theirs (docs/monitors.md#no-storms).

The grouped alert's members stay pending alerts of their URLs' states like any other: each is
settled where the grouped alert went, so a target that missed it gets it from the next run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from functools import partial
from typing import TypeVar

from fanout.aws.alerts import AlertSinks
from fanout.core.alerts import REGION_EVENTS, AlertMessage, alert_message, grouped_message
from fanout.core.monitors import Alert, MonitorSpec
from fanout.observability.log import logger
from fanout.runs.alerting import AlertRoutes, log_route_errors

T = TypeVar("T")
SEND_CONCURRENCY = 8


async def _bounded(items: Iterable[Callable[[], Awaitable[T]]], limit: int) -> list[T | BaseException]:
    """Run each call, ``limit`` at a time; an exception (not a cancellation) is its result."""
    slots = asyncio.Semaphore(limit)

    async def one(call: Callable[[], Awaitable[T]]) -> T | BaseException:
        async with slots:
            try:
                return await call()
            except Exception as exc:
                return exc

    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(one(call)) for call in items]
    return [t.result() for t in tasks]


class AlertSender:
    """One monitor run's alert sends."""

    def __init__(
        self,
        sinks: AlertSinks,
        routes: AlertRoutes | None,
        spec: MonitorSpec,
        *,
        report: tuple[str, str] | None,
    ) -> None:
        self._sinks, self._routes, self._spec, self._report = sinks, routes, spec, report
        self._name = spec.name
        self.grouped = 0  # alerts sent within a grouped alert

    @property
    def targets(self) -> frozenset[str]:
        """Where an alert is owed: the deployment's topic and bus, and the monitor's live routes."""
        return self._sinks.targets | (self._routes.ids if self._routes is not None else frozenset())

    async def send_all(self, owned: Sequence[Alert], before: float) -> dict[str, tuple[str, ...]]:
        """Send every alert this run owns to the targets that lack it; alert id -> targets that have
        it. More URL changes than ``group_over`` go as one grouped alert (no storm)."""
        storm = [a for a in owned if a.event == "changed" and not a.subject.startswith("threshold:")]
        if len(storm) <= self._spec.storm_over:
            storm = []
        single = [a for a in owned if a not in storm]
        outcomes = await _bounded([partial(self._send, a, before) for a in single], SEND_CONCURRENCY)
        delivered = {
            a.id: o if isinstance(o, tuple) else a.delivered for a, o in zip(single, outcomes, strict=True)
        }
        if storm:
            delivered |= await self._send_grouped(storm, before)
        return delivered

    async def _send_grouped(self, storm: list[Alert], before: float) -> dict[str, tuple[str, ...]]:
        """One alert for ``storm`` to each target some of them lack; each of them is then where it went."""
        subject, message = grouped_message(self._name, storm, group=self._spec.group, report=self._report)
        had = frozenset.intersection(*(frozenset(a.delivered) for a in storm))
        try:
            done = await self._deliver(subject, message, message.to.value, had, before)
        except Exception as exc:  # a store's or a route's failure: they stay pending
            logger.warning("alert not sent", extra={"monitor": self._name, "error": str(exc)})
            done = had
        self.grouped += len(storm)
        return {a.id: tuple(sorted(set(a.delivered) | done)) for a in storm}

    async def _send(self, alert: Alert, before: float) -> tuple[str, ...]:
        subject, message = alert_message(self._name, alert, group=self._spec.group)
        to = alert.event if alert.event in REGION_EVENTS else alert.to.value  # the SNS attribute
        done = await self._deliver(subject, message, to, frozenset(alert.delivered), before)
        return tuple(sorted(set(alert.delivered) | done))

    async def _deliver(
        self, subject: str, message: AlertMessage, to: str, had: frozenset[str], before: float
    ) -> frozenset[str]:
        """``message`` to every target not in ``had``; the targets that have it now."""
        attributes = {"monitor": self._name, "to": to}
        missing = self.targets - had
        sent, error = await self._sinks.send(subject, message, attributes, before, targets=missing)
        done = set(sent)
        if self._routes is not None:
            routed = await self._routes.send(message, subject, missing, before)
            log_route_errors(self._name, message, routed)
            done |= routed.done
            for gone in sorted(routed.gone):
                await self._routes.tell_gone(self._sinks, message, gone, before)
        shown = message.to_json()
        extra = {k: shown[k] for k in ("monitor", "url", "threshold", "region", "from", "to", "event")}
        if error is not None:
            logger.warning("alert not sent", extra=extra | {"error": str(error), "sent_to": sorted(done)})
        elif done:
            logger.info("alert sent", extra=extra | {"sent_to": sorted(done)})
        return had | done
