"""A monitor's maintenance windows on the page: the monitor and its URLs in maintenance while a
window of its stored summary is under way (a failing URL included), and the windows listed on
its page and in its JSON: under way, upcoming and past, in UTC with their length."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

from devtools.status_sample import sample_monitors
from fanout.core.maintenance import Window
from fanout.core.monitors import Health
from fanout.status.model import MonitorData, State, StatusDocument
from fanout.status.site import render_site

NOW = datetime(2026, 12, 6, 1, 30, tzinfo=UTC).timestamp()  # a Sunday, 02:30 in Berlin
SUNDAYS = Window(cron="0 2 * * SUN", duration="1h", timezone="Europe/Berlin")
DONE = Window(start="2026-11-20T22:00:00Z", end="2026-11-21T01:00:00Z")
NEXT = Window(start="2026-12-24T22:00:00Z", end="2026-12-25T02:00:00Z")


def _monitor(windows: list[Window], *, down: bool = True) -> MonitorData:
    """A monitor whose first URL is down, its summary's windows stored as a monitor run stores them."""
    (data,) = sample_monitors(NOW, 1, 2, days=10)
    states = [replace(data.states[0], status=Health.DOWN, since=NOW - 600)] if down else []
    summary = dict(data.summary) | {"maintenance": [w.model_dump(exclude_none=True) for w in windows]}
    return MonitorData(summary, [*states, *data.states[len(states) :]], data.months)


def test_a_monitor_in_an_active_window_is_in_maintenance_and_so_are_its_urls() -> None:
    site = render_site([_monitor([SUNDAYS, DONE, NEXT])], NOW)
    (m,) = site.document.monitors
    assert m.state is State.MAINTENANCE
    assert {u.state for u in m.urls} == {State.MAINTENANCE}  # the down one included
    assert m.open_incidents == 0
    assert site.document.state is State.MAINTENANCE
    active = m.maintenance.active
    assert active is not None
    assert (active.start, active.end, active.duration_s) == (
        "2026-12-06T01:00:00Z",
        "2026-12-06T02:00:00Z",
        3600,
    )
    assert (active.cron, active.timezone) == ("0 2 * * SUN", "Europe/Berlin")
    assert json.loads(site.files["badges/service-000/status.json"])["message"] == "maintenance"
    assert "Maintenance under way until 2026-12-06 02:00 UTC" in site.files["index.html"].decode()


def test_outside_its_windows_a_down_url_is_down() -> None:
    later = NOW + 3 * 3_600
    (m,) = render_site([_monitor([SUNDAYS, DONE, NEXT])], later).document.monitors
    assert m.maintenance.active is None
    assert (m.state, m.open_incidents) == (State.DEGRADED, 1)
    assert sorted(u.state.value for u in m.urls) == ["down", "operational"]


def test_upcoming_and_past_windows_are_listed_in_the_json_and_on_the_page() -> None:
    site = render_site([_monitor([SUNDAYS, DONE, NEXT])], NOW)
    detail = json.loads(site.files["monitors/service-000.json"])["maintenance"]
    assert [(w["start"], w["duration_s"], w["cron"]) for w in detail["upcoming"]] == [
        ("2026-12-13T01:00:00Z", 3600, "0 2 * * SUN"),
        ("2026-12-20T01:00:00Z", 3600, "0 2 * * SUN"),
        ("2026-12-24T22:00:00Z", 14400, None),
        ("2026-12-27T01:00:00Z", 3600, "0 2 * * SUN"),
    ]
    assert [(w["start"], w["end"], w["timezone"]) for w in detail["past"]] == [
        ("2026-11-29T01:00:00Z", "2026-11-29T02:00:00Z", "Europe/Berlin"),
        ("2026-11-22T01:00:00Z", "2026-11-22T02:00:00Z", "Europe/Berlin"),
        ("2026-11-20T22:00:00Z", "2026-11-21T01:00:00Z", None),
        ("2026-11-15T01:00:00Z", "2026-11-15T02:00:00Z", "Europe/Berlin"),
    ]
    status = StatusDocument.from_bytes(site.files["status.json"])
    assert status.monitors[0].maintenance.upcoming[0].start == "2026-12-13T01:00:00Z"
    page = site.files["monitors/service-000.html"].decode()
    assert "<caption>Upcoming maintenance</caption>" in page
    assert "<caption>Past maintenance</caption>" in page
    assert "<td>2026-12-24 22:00 UTC</td><td>2026-12-25 02:00 UTC</td><td>4 h</td><td>one-off</td>" in page
    assert "every <code>0 2 * * SUN</code> (Europe/Berlin)" in page


def test_a_monitor_without_windows_says_so_and_a_window_it_cannot_read_is_left_out() -> None:
    data = _monitor([], down=False)
    data = replace(data, summary=dict(data.summary) | {"maintenance": [{"cron": "not a cron"}]})
    site = render_site([data], NOW)
    (m,) = site.document.monitors
    assert m.state is State.OPERATIONAL
    assert (m.maintenance.active, m.maintenance.upcoming, m.maintenance.past) == (None, (), ())
    assert "No maintenance windows." in site.files["monitors/service-000.html"].decode()


def test_a_monitor_json_written_before_the_windows_still_reads() -> None:
    site = render_site([_monitor([], down=False)], NOW)
    older = json.loads(site.files["monitors/service-000.json"])
    del older["maintenance"]
    (m,) = StatusDocument.from_json(
        {"generated_at": "x", "state": "operational", "monitors": [older]}
    ).monitors
    assert m.maintenance.active is None
