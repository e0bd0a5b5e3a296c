"""A run document's ``monitor`` section: what the run did to its monitor's state."""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

from fanout.core.model import Document
from fanout.core.regions import RegionDelivery

MAX_LISTED_TRANSITIONS = 100
_THRESHOLD = "threshold:"


class Transition(Document, frozen=True):
    """One change of status: a URL's, or a run threshold's."""

    from_: Annotated[str, Meta(description="The status before: unknown, up, down")] = msgspec.field(
        name="from"
    )
    to: Annotated[str, Meta(description="The status after")] = msgspec.field(name="to")
    url: Annotated[str | None, Meta(description="The URL that changed")] = None
    threshold: Annotated[str | None, Meta(description="The threshold that changed: p95_ms<800")] = None

    @classmethod
    def of(cls, subject: str, from_: str, to: str) -> Transition:
        """The transition of ``subject`` (a URL, or ``threshold:<name><condition>``)."""
        if subject.startswith(_THRESHOLD):
            return cls(from_, to, threshold=subject.removeprefix(_THRESHOLD))
        return cls(from_, to, url=subject)

    @property
    def subject(self) -> str:
        return f"{_THRESHOLD}{self.threshold}" if self.url is None else self.url


class MaintenanceNow(Document, frozen=True, kw_only=True):
    """The maintenance window active now: this occurrence's bounds, and the window as written."""

    start: Annotated[str, Meta(description="This occurrence's start, ISO 8601 UTC")]
    end: Annotated[str, Meta(description="Its end, ISO 8601 UTC")]
    cron: Annotated[str | None, Meta(description="A recurring window's cron")] = None
    duration: Annotated[str | None, Meta(description="A recurring window's duration")] = None
    timezone: Annotated[str | None, Meta(description="A recurring window's time zone")] = None


class MonitorReport(Document, frozen=True, kw_only=True):
    """``transitions``: the changes this run made (the first ``MAX_LISTED_TRANSITIONS``);
    ``down``/``up``/``unknown``: the run's URLs by status after it; ``notified`` and
    ``notify_errors``: alerts sent and sends that failed (kept pending for the next run);
    ``state_errors``: URLs whose state could not be updated in the monitor's slice."""

    name: Annotated[str, Meta(description="The monitor")]
    transitions: Annotated[
        tuple[Transition, ...], Meta(description="The changes this run made (the first 100)")
    ]
    transitions_total: Annotated[int | None, Meta(description="All the changes, when more than listed")] = (
        None
    )
    down: Annotated[int, Meta(description="The run's URLs down after it")]
    up: Annotated[int, Meta(description="The run's URLs up after it")]
    unknown: Annotated[int, Meta(description="The run's URLs not yet known")]
    notified: Annotated[int, Meta(description="Alerts sent")]
    notify_errors: Annotated[int, Meta(description="Alerts not sent (kept pending for the next run)")]
    state_errors: Annotated[int, Meta(description="URLs whose state could not be updated")]
    pending: Annotated[int, Meta(description="Alerts pending after this run")]
    maintenance_active: Annotated[
        bool, Meta(description="A maintenance window was active: no alert sent")
    ] = False
    maintenance: Annotated[MaintenanceNow | None, Meta(description="That window")] = None
    suppressed: Annotated[int, Meta(description="Subjects whose owed alert is held (suppressed_by)")] = 0
    dependencies_down: Annotated[
        tuple[str, ...], Meta(description="Its depends_on found down: they hold its DOWN alerts")
    ] = ()
    reminders: Annotated[int, Meta(description="STILL DOWN reminders this run made")] = 0
    grouped: Annotated[int, Meta(description="Alerts sent as one grouped alert (group_over)")] = 0
    region: Annotated[
        RegionDelivery | None,
        Meta(
            description="A probe region's run: its report's way to the home region (docs/monitors.md#regions)"
        ),
    ] = None

    def __post_init__(self) -> None:
        if self.transitions_total is not None and self.transitions_total <= len(self.transitions):
            msgspec.structs.force_setattr(self, "transitions_total", None)

    @property
    def all_transitions(self) -> int:
        """How many changes the run made (listed or not)."""
        return len(self.transitions) if self.transitions_total is None else self.transitions_total
