"""A request's ``monitor`` (``MonitorSpec``): which monitor its results feed, its thresholds, and
what its alerts do (routes, maintenance, reminders, dependencies, grouping, regions). The model
only; ``core.monitors`` moves a subject's state by it.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from fanout.core.maintenance import Window, duration_s
from fanout.core.regions import MAX_REGIONS, SILENT_AFTER_DEFAULT, Region, majority
from fanout.core.routes import Route

MIN_REMINDER_S = 300
GROUP_OVER = 5


def _reminder_period(value: str) -> str:
    if duration_s(value) < MIN_REMINDER_S:
        raise ValueError("remind at most every 5m")
    return value


ReminderPeriod = Annotated[str, Field(max_length=8), AfterValidator(_reminder_period)]
Dependency = Annotated[
    str,
    Field(
        min_length=1,
        max_length=2_200,
        pattern=r"^[a-z0-9-]{1,64}(/https?://.+)?$",
        description="A monitor's name, or name/url for one of its URLs.",
    ),
]


class MonitorSpec(BaseModel):
    """A request's ``monitor``: which monitor its results feed, and its thresholds."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    name: Annotated[str, Field(pattern=r"^[a-z0-9-]{1,64}$")]
    failure_threshold: Annotated[int, Field(ge=1, le=10)] = 2
    success_threshold: Annotated[int, Field(ge=1, le=10)] = 1
    group: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    tags: Annotated[dict[str, str], Field(max_length=50)] | None = None
    public: bool | None = None  # False: left off the status page (None: shown)
    display_names: (
        Annotated[dict[str, Annotated[str, Field(min_length=1, max_length=128)]], Field(max_length=1_000)]
        | None
    ) = None  # URL -> the name the status page shows
    alerts: Annotated[list[Route], Field(max_length=10)] | None = Field(
        default=None, description="Routes its alerts take besides the deployment's topic and bus."
    )
    maintenance: Annotated[list[Window], Field(max_length=20)] | None = Field(
        default=None, description="Windows during which no DOWN/UP alert is sent (checks still run)."
    )
    remind_every: ReminderPeriod | None = Field(
        default=None, description="While a URL stays down, 'STILL DOWN' this often: 4h, 30m, 1d."
    )
    depends_on: Annotated[list[Dependency], Field(max_length=10)] | None = Field(
        default=None, description="Monitors (or monitor/url) whose being down holds its DOWN alerts."
    )
    group_over: Annotated[int, Field(ge=1, le=10_000)] | None = Field(
        default=None, description="More URL alerts than this in one run go as one grouped alert (5)."
    )

    regions: Annotated[list[Region], Field(min_length=1, max_length=MAX_REGIONS)] | None = Field(
        default=None,
        description="Checked from these regions; a URL is down only when 'quorum' of them agree.",
    )
    quorum: Annotated[int, Field(ge=1, le=MAX_REGIONS)] | None = Field(
        default=None, description="Regions that must agree on a round (a majority of 'regions')."
    )
    region_silent_after: Annotated[int, Field(ge=1, le=100)] | None = Field(
        default=None, description="Rounds a region may miss before 'region silent' is alerted (3)."
    )

    @model_validator(mode="after")
    def _regional(self) -> MonitorSpec:
        if self.regions is None:
            if self.quorum is not None or self.region_silent_after is not None:
                raise ValueError("'quorum' and 'region_silent_after' need 'regions'")
            return self
        if len(set(self.regions)) != len(self.regions):
            raise ValueError("'regions' lists a region twice")
        if self.quorum is not None and self.quorum > len(self.regions):
            raise ValueError(f"quorum {self.quorum} is more than the {len(self.regions)} regions")
        return self

    @property
    def is_regional(self) -> bool:
        """Checked from several regions (its state moves by rounds, not by runs)."""
        return self.regions is not None

    @property
    def round_quorum(self) -> int:
        """``quorum``, or a majority of ``regions`` (1 for a monitor without regions)."""
        if self.quorum is not None:
            return self.quorum
        return majority(len(self.regions)) if self.regions else 1

    @property
    def silent_after(self) -> int:
        """``region_silent_after``, or its default."""
        return SILENT_AFTER_DEFAULT if self.region_silent_after is None else self.region_silent_after

    @property
    def storm_over(self) -> int:
        """``group_over``, or its default."""
        return GROUP_OVER if self.group_over is None else self.group_over
