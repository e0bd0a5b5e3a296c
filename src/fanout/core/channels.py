"""Where a monitor's alerts go besides the deployment's SNS topic and EventBridge bus: its
``alerts`` routes (docs/monitors.md#alerts), and what each route is sent for one alert.

- ``webhook``: the alert document as JSON, signed (Standard Webhooks, ``fanout.core.signing``)
  when the route has a ``secret``.
- ``slack``: an incoming-webhook message in Block Kit, with a plain ``text`` fallback.
- ``pagerduty``: an Events API v2 event, ``trigger`` on DOWN and ``resolve`` on UP with one
  ``dedup_key`` per (monitor, URL, incident), so a resolve closes what its trigger opened; a
  region gone silent triggers and its coming back resolves, the same way.

The routes themselves are ``fanout.core.routes``; sending them is ``fanout.runs.alerting``.
"""

from __future__ import annotations

from typing import Any

from fanout.core.alerts import AlertMessage, RegionSaw

SLACK_FIELD_CHARS = 1_900  # Block Kit: a section's field holds at most 2000 characters
PAGERDUTY_SUMMARY_CHARS = 1_024


def headline(message: AlertMessage) -> str:
    """``DOWN``, ``UP``, ``BREACHED``, ``OK again``, ``CHANNEL GONE``."""
    if message.event == "channel_gone":
        return "CHANNEL GONE"
    if message.event in ("region_silent", "region_back"):
        return "REGION SILENT" if message.event == "region_silent" else "REGION BACK"
    if message.changes is not None:
        return f"{message.changes.total} URLs changed ({message.changes.down} DOWN, {message.changes.up} UP)"
    if message.event == "reminder":
        return "STILL BREACHED" if message.threshold is not None else "STILL DOWN"
    if message.threshold is not None:
        return "BREACHED" if message.to == "down" else "OK again"
    return message.to.value.upper()


def _what(message: AlertMessage) -> str:
    if message.region is not None:
        return f"region {message.region}"
    if message.threshold is not None:
        return f"threshold {message.threshold}"
    return message.url or message.monitor


def _failure(message: AlertMessage) -> str:
    if message.error is not None:
        return f"{message.error.type}: {message.error.message}"
    if message.checks_failed:
        code = "" if message.status_code is None else f" (HTTP {message.status_code})"
        return "failed " + ", ".join(message.checks_failed) + code
    if message.status_code is not None:
        return f"HTTP {message.status_code}"
    return message.outcome


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _links(message: AlertMessage, status_page: str | None) -> list[str]:
    """Where to look: the run's report, the monitor's status page (when the deployment has one)."""
    links = []
    if message.report is not None:
        links.append(f"report s3://{message.report.bucket}/{message.report.key}")
    if status_page:
        links.append(f"<{status_page}|status page>")
    return links


def _grouped_slack(message: AlertMessage, subject: str, status_page: str | None) -> dict[str, Any]:
    """A grouped alert: the counts, one line per listed change, and where the rest are."""
    assert message.changes is not None
    lines = [
        f"{':red_circle:' if c.to == 'down' else ':large_green_circle:'} {c.url} is *{c.to.value.upper()}*"
        for c in message.changes.listed
    ]
    more = message.changes.total - len(message.changes.listed)
    context = [f"run `{message.run_id}` at {message.checked_at}"]
    if more:
        context.insert(0, f"and {more} more")
    context += _links(message, status_page)
    return {
        "text": subject,
        "blocks": [
            {
                "type": "header",
                "text": {"type": "plain_text", "text": _clip(f"{message.monitor}: {headline(message)}", 150)},
            },
            {"type": "section", "text": {"type": "mrkdwn", "text": _clip("\n".join(lines), 3_000)}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(context)}]},
        ],
    }


def slack_message(message: AlertMessage, subject: str, *, status_page: str | None = None) -> dict[str, Any]:
    """The Block Kit message of one alert (``text`` is what notifications show); ``status_page``:
    the monitor's page on the status page, linked."""
    if message.changes is not None:
        return _grouped_slack(message, subject, status_page)
    word = headline(message)
    icon = ":red_circle:" if message.to == "down" else ":large_green_circle:"
    kind = "Region" if message.region else ("Threshold" if message.threshold else "URL")
    fields = [
        f"*Monitor*\n{message.monitor}",
        f"*{kind}*\n{_what(message) if not message.region else message.region}",
        f"*{word} since*\n{message.since}",
        f"*Observed*\n{_failure(message)}",
    ]
    if message.regions:
        fields.append("*Regions*\n" + "\n".join(_region_line(r) for r in message.regions))
    context = [f"run `{message.run_id}` at {message.checked_at}", *_links(message, status_page)]
    title = _clip(f"{message.monitor}: {word}", 150)
    return {
        "text": subject,
        "blocks": [
            {
                "type": "header",
                "text": {"type": "plain_text", "text": title},
            },
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": f"{icon} *{_clip(_what(message), 2_000)}* is *{word}*"},
                "fields": [{"type": "mrkdwn", "text": _clip(f, SLACK_FIELD_CHARS)} for f in fields],
            },
            {"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(context)}]},
        ],
    }


def _region_line(seen: RegionSaw) -> str:
    """One region's word in a regional alert: ``eu-west-1: check_failed, HTTP 503, 120 ms``."""
    parts = [seen.outcome]
    if seen.status_code is not None:
        parts.append(f"HTTP {seen.status_code}")
    if seen.latency_ms is not None:
        parts.append(f"{seen.latency_ms:.0f} ms")
    return f"{seen.region}: {', '.join(parts)}"


def pagerduty_event(message: AlertMessage, subject: str, routing_key: str) -> dict[str, Any]:
    """The Events API v2 event of one alert: a DOWN (or a reminder) triggers, an UP resolves; a
    grouped alert triggers one incident of its own (``info`` when it lists only recoveries)."""
    grouped = message.changes is not None
    action = "resolve" if message.to == "up" and not grouped else "trigger"
    event: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": action,
        "dedup_key": message.incident,
    }
    if action == "trigger":
        event["payload"] = {
            "summary": _clip(subject, PAGERDUTY_SUMMARY_CHARS),
            "source": message.url or message.region or message.monitor,
            "severity": _severity(message),
            "component": message.monitor,
            "group": message.group or message.monitor,
            "class": message.outcome,
            "custom_details": message.to_json(),
        }
    return event


def _severity(message: AlertMessage) -> str:
    if message.event in ("channel_gone", "region_silent"):
        return "warning"
    return "info" if message.to == "up" else "critical"
