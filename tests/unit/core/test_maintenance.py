"""Maintenance windows: one-off and recurring (5-field cron in a time zone), what the models
accept and refuse, which occurrence covers an instant (DST included), and the next and last
occurrences the status page lists."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from fanout.core.maintenance import Cron, Window, active_window, duration_s, past, upcoming
from fanout.core.monitors import MonitorSpec


def utc(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def test_a_one_off_window_covers_start_up_to_end() -> None:
    window = Window(start="2026-12-24T22:00:00Z", end="2026-12-25T02:00:00Z")
    assert window.active_at(utc("2026-12-24T21:59:59")) is None
    assert window.active_at(utc("2026-12-24T22:00:00")) == (
        utc("2026-12-24T22:00:00"),
        utc("2026-12-25T02:00:00"),
    )
    assert window.active_at(utc("2026-12-25T01:59:59")) is not None
    assert window.active_at(utc("2026-12-25T02:00:00")) is None


def test_a_recurring_window_is_read_in_its_time_zone() -> None:
    window = Window(cron="0 2 * * SUN", duration="1h", timezone="Europe/Berlin")
    # Sunday 2026-12-06 02:00 in Berlin (CET, UTC+1) is 01:00 UTC.
    assert window.active_at(utc("2026-12-06T00:59:00")) is None
    assert window.active_at(utc("2026-12-06T01:00:00")) == (
        utc("2026-12-06T01:00:00"),
        utc("2026-12-06T02:00:00"),
    )
    assert window.active_at(utc("2026-12-06T01:59:59")) is not None
    assert window.active_at(utc("2026-12-06T02:00:00")) is None
    assert window.active_at(utc("2026-12-07T01:30:00")) is None  # a Monday
    # Summer time (CEST, UTC+2): Sunday 2026-07-05 02:00 Berlin is 00:00 UTC.
    assert window.active_at(utc("2026-07-05T00:30:00")) is not None
    assert window.active_at(utc("2026-07-05T01:30:00")) is None


def test_cron_fields_ranges_steps_lists_and_names() -> None:
    cron = Cron.parse("*/15 9-17 * JAN,jul 1-5")
    berlin = ZoneInfo("Europe/Berlin")
    assert cron.matches(datetime(2027, 1, 4, 9, 45, tzinfo=berlin))  # a Monday in January
    assert not cron.matches(datetime(2027, 1, 4, 9, 50, tzinfo=berlin))
    assert not cron.matches(datetime(2027, 1, 3, 9, 45, tzinfo=berlin))  # a Sunday
    assert not cron.matches(datetime(2027, 2, 1, 9, 45, tzinfo=berlin))
    # Both day fields restricted: either matches (cron's rule); 7 is Sunday too.
    either = Cron.parse("0 0 1 * 7")
    assert either.matches(datetime(2027, 2, 1, 0, 0, tzinfo=UTC))  # the 1st, a Monday
    assert either.matches(datetime(2027, 2, 7, 0, 0, tzinfo=UTC))  # a Sunday
    assert not either.matches(datetime(2027, 2, 8, 0, 0, tzinfo=UTC))


def test_a_window_spanning_midnight_and_days() -> None:
    window = Window(cron="30 23 * * FRI", duration="2d")
    assert window.active_at(utc("2026-12-05T12:00:00")) is not None  # Saturday noon
    assert window.active_at(utc("2026-12-06T23:29:00")) is not None  # Sunday, a minute before the end
    assert window.active_at(utc("2026-12-06T23:30:00")) is None


@pytest.mark.parametrize(
    ("window", "says"),
    [
        ({"start": "2026-12-24T22:00:00Z"}, "needs both"),
        ({"start": "2026-12-24T22:00:00", "end": "2026-12-25T02:00:00Z"}, "no offset"),
        ({"start": "2026-12-25T02:00:00Z", "end": "2026-12-24T22:00:00Z"}, "after 'start'"),
        ({"cron": "0 2 * *", "duration": "1h"}, "5 fields"),
        ({"cron": "0 25 * * *", "duration": "1h"}, "outside 0-23"),
        ({"cron": "0 2 * * FUN", "duration": "1h"}, "not a number"),
        ({"cron": "0 2 * * *", "duration": "1 hour"}, "not a duration"),
        ({"cron": "0 2 * * *", "duration": "8d"}, "at most 7d"),
        ({"cron": "0 2 * * *", "duration": "1h", "timezone": "Mars/Olympus"}, "IANA"),
        ({"cron": "0 2 * * *", "duration": "1h", "start": "2026-12-24T22:00:00Z"}, "either"),
    ],
)
def test_bad_windows_are_refused_with_a_reason(window: dict[str, str], says: str) -> None:
    with pytest.raises(ValidationError, match=says):
        Window.model_validate(window)


def test_the_window_active_is_the_one_ending_last_and_says_so() -> None:
    windows = [
        Window(start="2026-12-24T22:00:00Z", end="2026-12-25T02:00:00Z"),
        Window(cron="0 23 * * *", duration="4h"),
    ]
    active = active_window(windows, utc("2026-12-25T01:00:00"))
    assert active is not None
    assert active.to_json() == {
        "start": "2026-12-24T23:00:00Z",
        "end": "2026-12-25T03:00:00Z",
        "cron": "0 23 * * *",
        "duration": "4h",
        "timezone": "UTC",
    }
    assert active_window(windows, utc("2026-12-25T12:00:00")) is None
    assert active_window(None, 0.0) is None


def test_durations_and_the_spec_fields() -> None:
    assert [duration_s(d) for d in ("30m", "4h", "1d")] == [1_800, 14_400, 86_400]
    spec = MonitorSpec.model_validate(
        {"name": "p", "remind_every": "4h", "depends_on": ["core-network", "dns/https://a.example/x"],
         "maintenance": [{"cron": "0 2 * * SUN", "duration": "1h", "timezone": "Europe/Berlin"}]}
    )  # fmt: skip
    assert spec.storm_over == 5
    with pytest.raises(ValidationError, match="at most every 5m"):
        MonitorSpec.model_validate({"name": "p", "remind_every": "1m"})
    with pytest.raises(ValidationError, match="depends_on"):
        MonitorSpec.model_validate({"name": "p", "depends_on": ["Not A Name"]})


def test_upcoming_and_past_occurrences_skip_a_time_the_clock_skips() -> None:
    """02:30 Berlin time does not exist on 2026-03-29 (clocks go from 02:00 to 03:00): that day has
    no occurrence, as ``active_at`` never finds one."""
    daily = Window(cron="30 2 * * *", duration="1h", timezone="Europe/Berlin")
    once = Window(start="2026-03-01T00:00:00Z", end="2026-03-01T02:00:00Z")
    later = Window(start="2026-04-10T00:00:00Z", end="2026-04-10T06:00:00Z")
    at = utc("2026-03-28T12:00:00")
    assert [(o.start, o.end) for o in upcoming([daily, once, later], at)] == [
        (utc("2026-03-30T00:30:00"), utc("2026-03-30T01:30:00")),  # CEST: UTC+2
        (utc("2026-03-31T00:30:00"), utc("2026-03-31T01:30:00")),
        (utc("2026-04-01T00:30:00"), utc("2026-04-01T01:30:00")),
        (utc("2026-04-10T00:00:00"), utc("2026-04-10T06:00:00")),
    ]
    assert [(o.start, o.window) for o in past([daily, once, later], at)] == [
        (utc("2026-03-28T01:30:00"), daily),  # CET: UTC+1
        (utc("2026-03-27T01:30:00"), daily),
        (utc("2026-03-26T01:30:00"), daily),
        (utc("2026-03-01T00:00:00"), once),
    ]
    assert daily.active_at(utc("2026-03-29T00:45:00")) is None
    assert daily.active_at(utc("2026-03-29T01:45:00")) is None


def test_listed_occurrences_are_those_active_at_reads() -> None:
    """Every start listed is covered by the window from that instant; one under way is neither
    upcoming nor past."""
    window = Window(cron="*/20 9-10 * * MON-FRI", duration="10m", timezone="America/New_York")
    at = utc("2026-11-02T14:05:00")  # Monday 09:05 in New York (EST), inside the 09:00 occurrence
    assert active_window([window], at) is not None
    listed = [*upcoming([window], at, per_window=8), *past([window], at, per_window=8)]
    assert len(listed) == 16
    for o in listed:
        assert window.active_at(o.start) == (o.start, o.end)
        assert window.active_at(o.start - 60) is None
    assert min(o.start for o in listed if o.start > at) == utc("2026-11-02T14:20:00")
    assert max(o.start for o in listed if o.start < at) == utc("2026-10-30T14:40:00")  # Friday, EDT


def test_a_cron_that_never_comes_round_lists_nothing() -> None:
    window = Window(cron="0 0 31 2 *", duration="1h")  # 31 February
    at = utc("2026-12-07T00:00:00")
    assert upcoming([window], at) == past([window], at) == []
