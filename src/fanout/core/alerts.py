"""What an alert says: its subject line and its JSON body (the SNS message and the EventBridge
detail), built from the alert and the observation that caused it (docs/monitors.md)."""

from __future__ import annotations

import hashlib
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from fanout.core.ids import iso_from_epoch
from fanout.core.model import Document
from fanout.core.monitors import Alert, Health
from fanout.core.records import ReportLocation
from fanout.core.results import ErrorInfo


class Change(Document, frozen=True, omit_defaults=False):
    """One URL's change in a grouped alert."""

    url: Annotated[str, Meta(description="The URL")]
    from_: Annotated[Health, Meta(description="Its status before")] = msgspec.field(name="from")
    to: Annotated[Health, Meta(description="Its status now")]
    since: Annotated[str, Meta(description="Since when, ISO 8601 UTC")]
    outcome: Annotated[str, Meta(description="The observation's outcome")]
    status_code: Annotated[int | None, Meta(description="The observation's final status")]


class GroupedChanges(Document, frozen=True, omit_defaults=False):
    """The changes one grouped alert stands for: counts, and the first ``GROUP_LISTED``."""

    total: Annotated[int, Meta(description="URLs that changed")]
    down: Annotated[int, Meta(description="Of which now down")]
    up: Annotated[int, Meta(description="Of which now up")]
    listed: Annotated[tuple[Change, ...], Meta(description="The first changes (the report has them all)")]


class RegionSaw(Document, frozen=True, omit_defaults=False):
    """What one region saw of the round behind a regional monitor's alert."""

    region: Annotated[str, Meta(description="The region")]
    passed: Annotated[
        bool | None, Meta(description="true ok, false failing, null: neither (its run's doing)")
    ]
    outcome: Annotated[str, Meta(description="Its outcome")]
    status_code: Annotated[int | None, Meta(description="Its final status")]
    latency_ms: Annotated[float | None, Meta(description="Its latency, ms")]


class AlertMessage(Document, frozen=True, omit_defaults=False, kw_only=True):
    """An alert's body: the SNS message, the EventBridge event's detail, the webhook's body."""

    id: Annotated[str, Meta(description="The alert's id: the same on every retry (a webhook's webhook-id)")]
    event: Annotated[
        Literal["changed", "reminder", "grouped", "channel_gone", "region_silent", "region_back"],
        Meta(
            description="changed: a status change; reminder: still down (remind_every); grouped: more "
            "changes in one run than group_over, listed in 'changes'; channel_gone: a route answered 410; "
            "region_silent / region_back: a regional monitor's region stopped / started reporting again"
        ),
    ] = "changed"
    incident: Annotated[
        str,
        Meta(description="The down period it belongs to, per monitor and URL (PagerDuty's dedup_key)"),
    ]
    monitor: Annotated[str, Meta(description="The monitor")]
    url: Annotated[str | None, Meta(description="The URL that changed (null: a threshold did)")]
    threshold: Annotated[str | None, Meta(description="The threshold that changed: p95_ms<800")]
    from_: Annotated[Health, Meta(description="Its status before")] = msgspec.field(name="from")
    to: Annotated[Health, Meta(description="Its status now")]
    since: Annotated[str, Meta(description="Since when, ISO 8601 UTC")]
    outcome: Annotated[str, Meta(description="The observation's outcome (breached/passed: a threshold)")]
    status_code: Annotated[int | None, Meta(description="The observation's final status")]
    error: Annotated[ErrorInfo | None, Meta(description="Why it had no usable response")]
    checks_failed: Annotated[tuple[str, ...], Meta(description="The checks it failed")]
    run_id: Annotated[str, Meta(description="The run that observed it")]
    checked_at: Annotated[str, Meta(description="When, ISO 8601 UTC")]
    report: Annotated[ReportLocation | None, Meta(description="The observing run's report")]
    group: Annotated[str | None, Meta(description="The monitor's group")] = None
    changes: Annotated[
        GroupedChanges | None, Meta(description="A grouped alert's changes (null: one URL's alert)")
    ] = None
    region: Annotated[
        str | None, Meta(description="region_silent / region_back: the region (null: another alert)")
    ] = None
    regions: Annotated[
        tuple[RegionSaw, ...],
        Meta(description="A regional monitor's URL alert: what each region saw of the deciding round"),
    ] = ()

    @property
    def agreeing(self) -> tuple[RegionSaw, ...]:
        """The regions whose word is the alert's: failing for a DOWN, passing for an UP."""
        return tuple(r for r in self.regions if r.passed is (self.to is not Health.DOWN))


def incident_key(monitor: str, subject: str, down_since: float | None) -> str:
    """One key per (monitor, subject, down period): a DOWN and the UP that ends it share it."""
    text = f"{monitor}\n{subject}\n{down_since or 0.0:.3f}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


REGION_EVENTS = {"region_silent": "SILENT", "region_back": "BACK"}


def alert_message(monitor: str, alert: Alert, *, group: str | None = None) -> tuple[str, AlertMessage]:
    """An alert's SNS subject and its JSON body (the EventBridge detail too)."""
    if alert.event in REGION_EVENTS:
        return _region_message(monitor, alert, group=group)
    obs = alert.observation
    down_since = alert.since if alert.to is Health.DOWN else alert.from_since
    threshold = alert.subject.removeprefix("threshold:") if alert.subject.startswith("threshold:") else None
    what = f"threshold {threshold}" if threshold else alert.subject
    word = {Health.DOWN: "DOWN", Health.UP: "UP"}.get(alert.to, alert.to.value.upper())
    if threshold:
        word = "BREACHED" if alert.to is Health.DOWN else "OK again"
    if alert.event == "reminder":
        word = f"STILL {'BREACHED' if threshold else 'DOWN'} since {iso_from_epoch(alert.since)}"
    message = AlertMessage(
        id=alert.id,
        event="reminder" if alert.event == "reminder" else "changed",
        incident=incident_key(monitor, alert.subject, down_since),
        monitor=monitor,
        url=None if threshold else alert.subject,
        threshold=threshold,
        from_=alert.from_,
        to=alert.to,
        since=iso_from_epoch(alert.since),
        outcome=obs.outcome,
        status_code=obs.status_code,
        error=obs.error,
        checks_failed=obs.checks_failed,
        run_id=obs.run_id,
        checked_at=iso_from_epoch(obs.at),
        report=None if obs.report is None else ReportLocation(*obs.report),
        group=group,
        regions=tuple(
            RegionSaw(v.region, v.passed, v.outcome, v.status_code, v.latency_ms)
            for v in sorted(obs.regions, key=lambda v: v.region)
        ),
    )
    seen_in = ", ".join(r.region for r in message.agreeing)
    return f"[fanout] {monitor}: {what} is {word}" + (f" (in {seen_in})" if seen_in else ""), message


def _region_message(monitor: str, alert: Alert, *, group: str | None) -> tuple[str, AlertMessage]:
    """A region's liveness alert: silent (it reported none of the last rounds), or back."""
    obs = alert.observation
    region = alert.subject.removeprefix("region:")
    down_since = alert.since if alert.to is Health.DOWN else alert.from_since
    message = AlertMessage(
        id=alert.id,
        event="region_silent" if alert.event == "region_silent" else "region_back",
        incident=incident_key(monitor, alert.subject, down_since),
        monitor=monitor,
        url=None,
        threshold=None,
        from_=alert.from_,
        to=alert.to,
        since=iso_from_epoch(alert.since),
        outcome=obs.outcome,
        status_code=None,
        error=None,
        checks_failed=(),
        run_id=obs.run_id,
        checked_at=iso_from_epoch(obs.at),
        report=None,
        group=group,
        region=region,
    )
    word = REGION_EVENTS[alert.event]
    why = f" ({obs.outcome})" if alert.to is Health.DOWN else ""
    return f"[fanout] {monitor}: region {region} is {word}{why}", message


GROUP_LISTED = 20


def grouped_message(
    monitor: str, alerts: list[Alert], *, group: str | None, report: tuple[str, str] | None
) -> tuple[str, AlertMessage]:
    """One alert standing for ``alerts`` (a storm of changes in one run): its id derived from
    theirs, so the same storm retried is the same alert to a receiver."""
    members = sorted(alerts, key=lambda a: a.id)
    digest = hashlib.sha256("\n".join(a.id for a in members).encode()).hexdigest()[:32]
    down = sum(a.to is Health.DOWN for a in alerts)
    listed = tuple(
        Change(
            a.subject,
            a.from_,
            a.to,
            iso_from_epoch(a.since),
            a.observation.outcome,
            a.observation.status_code,
        )
        for a in alerts[:GROUP_LISTED]
    )
    last = max(alerts, key=lambda a: a.observation.at)
    where = report or last.observation.report
    message = AlertMessage(
        id=digest,
        event="grouped",
        incident=digest,
        monitor=monitor,
        url=None,
        threshold=None,
        from_=Health.UP if down else Health.DOWN,
        to=Health.DOWN if down else Health.UP,
        since=iso_from_epoch(min(a.since for a in alerts)),
        outcome=f"{len(alerts)} URLs changed: {down} down, {len(alerts) - down} up",
        status_code=None,
        error=None,
        checks_failed=(),
        run_id=last.observation.run_id,
        checked_at=iso_from_epoch(last.observation.at),
        report=None if where is None else ReportLocation(*where),
        group=group,
        changes=GroupedChanges(len(alerts), down, len(alerts) - down, listed),
    )
    return f"[fanout] {monitor}: {len(alerts)} URLs changed ({down} DOWN, {len(alerts) - down} UP)", message
