"""A monitor's maintenance windows on the page (docs/monitors.md#maintenance-windows): the one under
way, the next occurrences and those over, each in UTC with its length; a recurring window's with
its cron and time zone. The windows are the monitor summary's (the monitors file's, as its last
run stored them), read at render time, so a window that opens between two runs shows at the next
render; when each occurs is ``fanout.core.maintenance``'s to say.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from msgspec import Meta
from pydantic import ValidationError

from fanout.core.ids import iso_from_epoch
from fanout.core.maintenance import Occurrence, Window, active_window, past, upcoming
from fanout.core.model import Document


class WindowFigures(Document, frozen=True, omit_defaults=False):
    """One occurrence of a maintenance window."""

    start: Annotated[str, Meta(description="When it starts, ISO 8601 UTC")]
    end: Annotated[str, Meta(description="When it ends, ISO 8601 UTC")]
    duration_s: Annotated[int, Meta(description="How long it lasts, seconds")]
    cron: Annotated[str | None, Meta(description="A recurring window's cron; null: a one-off window")]
    timezone: Annotated[str | None, Meta(description="The time zone its cron is read in; null: one-off")]

    @classmethod
    def of(cls, o: Occurrence) -> WindowFigures:
        zone = None if o.window.cron is None else o.window.timezone
        return cls(
            iso_from_epoch(o.start), iso_from_epoch(o.end), round(o.end - o.start), o.window.cron, zone
        )


class MaintenanceFigures(Document, frozen=True, omit_defaults=False):
    """A monitor's maintenance windows (the monitors file's) as of the render."""

    active: Annotated[WindowFigures | None, Meta(description="The occurrence under way; null: none")] = None
    upcoming: Annotated[
        tuple[WindowFigures, ...],
        Meta(description="The next occurrences (a recurring window's next 3), soonest first"),
    ] = ()
    past: Annotated[
        tuple[WindowFigures, ...], Meta(description="Those over (a recurring window's last 3), latest first")
    ] = ()

    @classmethod
    def of(cls, windows: Sequence[Window], now: float) -> MaintenanceFigures:
        active = active_window(windows, now)
        return cls(
            None if active is None else WindowFigures.of(active),
            tuple(WindowFigures.of(o) for o in upcoming(windows, now)),
            tuple(WindowFigures.of(o) for o in past(windows, now)),
        )


def windows_of(summary: Mapping[str, Any]) -> list[Window]:
    """The maintenance windows a monitor's summary keeps (one it cannot read is left out: the page
    still renders)."""
    found = []
    for raw in summary.get("maintenance") or ():
        try:
            found.append(Window.model_validate(raw))
        except ValidationError:
            continue
    return found
