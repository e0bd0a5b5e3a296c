"""What a grouped alert and a reminder say: the document, the Slack message, the PagerDuty event."""

from __future__ import annotations

import uuid

from fanout.core.alerts import GROUP_LISTED, alert_message, grouped_message
from fanout.core.channels import pagerduty_event, slack_message
from fanout.core.monitors import Alert, Health, Observation

T0 = 1_796_000_000.0


def alert(i: int, to: Health = Health.DOWN, event: str = "changed") -> Alert:
    obs = Observation(f"k{i}", "run-1", T0 + 60, False, "failed", status_code=503, report=("b", "r.json.gz"))
    from_ = Health.UP if to is Health.DOWN else Health.DOWN
    return Alert(uuid.uuid4().hex, f"https://o.example/{i}", from_, to, T0 + i, obs, event=event)


def test_a_storm_is_one_document_listing_the_first_changes_with_an_id_of_its_members() -> None:
    storm = [alert(i) for i in range(25)] + [alert(99, Health.UP)]
    subject, message = grouped_message("prod", storm, group="web", report=("b", "run.json.gz"))
    assert subject == "[fanout] prod: 26 URLs changed (25 DOWN, 1 UP)"
    assert message.changes is not None
    assert (message.event, message.to, message.url) == ("grouped", Health.DOWN, None)
    assert (message.changes.total, message.changes.down, message.changes.up) == (26, 25, 1)
    assert len(message.changes.listed) == GROUP_LISTED
    assert message.report is not None
    assert message.report.key == "run.json.gz"
    again = grouped_message("prod", list(reversed(storm)), group="web", report=None)[1]
    assert again.id == message.id  # the same members: the same alert to a receiver
    assert grouped_message("prod", storm[:-1], group=None, report=None)[1].id != message.id

    slack = slack_message(message, subject)
    assert slack["blocks"][0]["text"]["text"] == "prod: 26 URLs changed (25 DOWN, 1 UP)"
    assert slack["blocks"][1]["text"]["text"].count("\n") == GROUP_LISTED - 1
    assert "and 6 more" in slack["blocks"][2]["elements"][0]["text"]
    event = pagerduty_event(message, subject, "KEY")
    assert (event["event_action"], event["dedup_key"], event["payload"]["severity"]) == (
        "trigger",
        message.id,
        "critical",
    )
    ups = grouped_message("prod", [alert(i, Health.UP) for i in range(6)], group=None, report=None)
    assert pagerduty_event(ups[1], ups[0], "KEY")["payload"]["severity"] == "info"


def test_a_reminder_says_still_down_since_and_keeps_its_incident() -> None:
    down = alert(1)
    reminder = Alert(
        uuid.uuid4().hex,
        down.subject,
        Health.DOWN,
        Health.DOWN,
        down.since,
        down.observation,
        event="reminder",
    )
    subject, message = alert_message("prod", reminder)
    assert subject == f"[fanout] prod: {down.subject} is STILL DOWN since 2026-11-30T00:53:21Z"
    assert message.event == "reminder"
    assert message.incident == alert_message("prod", down)[1].incident
    assert slack_message(message, subject)["blocks"][0]["text"]["text"] == "prod: STILL DOWN"
    event = pagerduty_event(message, subject, "KEY")
    assert (event["event_action"], event["dedup_key"]) == ("trigger", message.incident)


def test_slack_links_the_report_and_the_status_page_when_set() -> None:
    subject, message = alert_message("prod", alert(1))
    context = slack_message(message, subject)["blocks"][-1]["elements"][0]["text"]
    assert "report s3://b/r.json.gz" in context
    assert "status page" not in context
    page = "https://status.example/monitors/prod.html"
    linked = slack_message(message, subject, status_page=page)["blocks"][-1]["elements"][0]["text"]
    assert f"<{page}|status page>" in linked
    storm = [alert(i) for i in range(8)]
    subject, grouped = grouped_message("prod", storm, group=None, report=None)
    grouped_context = slack_message(grouped, subject, status_page=page)["blocks"][-1]["elements"][0]["text"]
    assert f"<{page}|status page>" in grouped_context
