"""What an alert says: its subject line and its JSON body (the SNS message and the EventBridge
detail), built from the alert and the observation that caused it (docs/monitors.md)."""

from __future__ import annotations

from fanout.core.ids import iso_from_epoch
from fanout.core.monitors import Alert, Health


def alert_message(monitor: str, alert: Alert) -> tuple[str, dict[str, object]]:
    """An alert's SNS subject and its JSON body (the EventBridge detail too)."""
    obs = alert.observation
    threshold = alert.subject.removeprefix("threshold:") if alert.subject.startswith("threshold:") else None
    what = f"threshold {threshold}" if threshold else alert.subject
    word = {Health.DOWN: "DOWN", Health.UP: "UP"}.get(alert.to, alert.to.value.upper())
    if threshold:
        word = "BREACHED" if alert.to is Health.DOWN else "OK again"
    message: dict[str, object] = {
        "monitor": monitor,
        "url": None if threshold else alert.subject,
        "threshold": threshold,
        "from": alert.from_.value,
        "to": alert.to.value,
        "since": iso_from_epoch(alert.since),
        "outcome": obs.outcome,
        "status_code": obs.status_code,
        "error": None if obs.error is None else obs.error.to_json(),
        "checks_failed": list(obs.checks_failed),
        "run_id": obs.run_id,
        "checked_at": iso_from_epoch(obs.at),
        "report": None if obs.report is None else {"bucket": obs.report[0], "key": obs.report[1]},
    }
    return f"[fanout] {monitor}: {what} is {word}", message
