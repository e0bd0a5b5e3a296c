"""A fleet of monitors described in a file (docs/monitors.md): the models of the file and what each
monitor becomes, the request its schedule sends.

Every field a request has (``urls``, ``targets``, ``options``, the monitor's thresholds) is the
request's own model, so a monitor in the file means exactly what the same request means; the file
adds ``name``, ``group``, ``tags``, ``schedule``, ``timezone``, ``enabled`` and ``defaults``
(merged under every monitor of its file, mapping by mapping: ``defaults.options.expect`` and a
monitor's ``options.expect`` combine key by key, a list replaces). Where the file is read and
how its problems are located is ``fanout.cli.monitors_file``: this module knows no YAML.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    Tag,
    field_validator,
    model_validator,
)

from fanout.core.maintenance import Window
from fanout.core.monitors import Dependency, MonitorSpec, ReminderPeriod
from fanout.core.regions import MAX_REGIONS, Region
from fanout.core.requests import URL_ITEM_KIND, Options, Targets, UrlEntry, UrlText
from fanout.core.routes import Route
from fanout.core.thresholds import Thresholds

MONITOR_NAME_PATTERN = MonitorSpec.model_fields["name"].metadata[0].pattern
_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_AT = re.compile(r"^at\((\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\)$")
_CRON_FIELD = re.compile(r"^[0-9A-Za-z*?,/#L W-]+$")


def _rate_problem(match: re.Match[str]) -> str | None:
    value, unit = int(match[1]), match[2]
    if value < 1:
        return "a rate must be at least 1"
    if (value == 1) != (not unit.endswith("s")):
        return f"write rate({value} {unit.rstrip('s') if value == 1 else unit + 's'})"
    return None


def _cron_problem(body: str) -> str | None:
    fields = body.split()
    if len(fields) != 6:
        return f"cron() takes 6 fields (minutes hours day-of-month month day-of-week year), not {len(fields)}"
    if not all(_CRON_FIELD.match(f) for f in fields):
        return "a cron() field has a character other than digits, letters, * ? , / - # L W"
    if (fields[2] == "?") == (fields[4] == "?"):
        return "exactly one of day-of-month (3rd) and day-of-week (5th) must be '?'"
    return None


def schedule_problem(expression: str) -> str | None:
    """Why ``expression`` is not an EventBridge Scheduler expression, or None when it is one."""
    if match := _RATE.match(expression):
        return _rate_problem(match)
    if expression.startswith("cron(") and expression.endswith(")"):
        return _cron_problem(expression[5:-1])
    if _AT.match(expression):
        return None
    return "not a schedule expression: rate(5 minutes), cron(0 6 * * ? *) or at(2027-01-01T09:00:00)"


def _schedule(value: str) -> str:
    problem = schedule_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{value!r} is not an IANA time zone (Europe/Paris, UTC, ...)") from None
    return value


ScheduleExpression = Annotated[
    str,
    Field(max_length=256, description="rate(), cron() or at(), as EventBridge Scheduler reads it."),
    AfterValidator(_schedule),
]
TimeZone = Annotated[str, Field(max_length=64, description="An IANA time zone."), AfterValidator(_timezone)]
Label = Annotated[str, Field(min_length=1, max_length=128)]
ChannelName = Annotated[str, Field(pattern=r"^[a-z0-9-]{1,64}$")]


class FileUrlEntry(UrlEntry):
    """A URL as the file writes it: the request's entry and the name the status page shows."""

    display_name: Label | None = Field(
        default=None, description="The status page's name for it (default: the URL without its query)."
    )


FileUrlItem = Annotated[Annotated[UrlText, Tag("url")] | Annotated[FileUrlEntry, Tag("entry")], URL_ITEM_KIND]


class _Fields(BaseModel):
    """What a monitor and the defaults share: every field but the name, all optional."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    group: Label | None = Field(default=None, description="For listings and the status page.")
    tags: Annotated[dict[Label, Label], Field(max_length=50)] | None = None
    schedule: ScheduleExpression | None = None
    timezone: TimeZone | None = Field(default=None, description="Of a cron() or at() schedule (UTC).")
    enabled: bool | None = None
    public: bool | None = Field(default=None, description="false: left off the status page.")
    urls: Annotated[list[FileUrlItem], Field(min_length=1)] | None = None
    targets: Targets | None = None
    options: Options | None = Field(default=None, description="The request's options.")
    thresholds: Thresholds | None = Field(default=None, description="The run's options.thresholds.")
    failure_threshold: Annotated[int, Field(ge=1, le=10)] | None = None
    success_threshold: Annotated[int, Field(ge=1, le=10)] | None = None
    alerts: Annotated[list[ChannelName], Field(max_length=10)] | None = Field(
        default=None, description="The file's channels its alerts go to, by name."
    )
    maintenance: Annotated[list[Window], Field(max_length=20)] | None = Field(
        default=None, description="Its maintenance windows (the file's, by group or tag, are added)."
    )
    remind_every: ReminderPeriod | None = Field(
        default=None, description="STILL DOWN reminders this often: 4h."
    )
    depends_on: Annotated[list[Dependency], Field(max_length=10)] | None = None
    group_over: Annotated[int, Field(ge=1, le=10_000)] | None = None
    regions: Annotated[list[Region], Field(min_length=1, max_length=MAX_REGIONS)] | None = Field(
        default=None, description="Checked from these regions (a schedule in each); DOWN when 'quorum' agree."
    )
    quorum: Annotated[int, Field(ge=1, le=MAX_REGIONS)] | None = Field(
        default=None, description="Regions that must agree on a round (a majority of 'regions')."
    )
    region_silent_after: Annotated[int, Field(ge=1, le=100)] | None = Field(
        default=None, description="Rounds a region may miss before 'region silent' is alerted (3)."
    )

    @field_validator("regions")
    @classmethod
    def _regions_once(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and len(set(value)) != len(value):
            twice = sorted({r for r in value if value.count(r) > 1})
            raise ValueError(f"'regions' lists {', '.join(twice)} twice")
        return value


_REGIONAL = ("quorum", "region_silent_after")  # a monitor's without regions: the defaults' left out


def regional_problems(monitor: _Fields) -> dict[str, str]:
    """What is wrong between a merged monitor's ``regions``, ``quorum`` and
    ``region_silent_after`` (field name -> message); the models check each on its own."""
    if monitor.regions is None:
        return {
            f: f"'{f}' needs 'regions'"
            for f in ("quorum", "region_silent_after")
            if getattr(monitor, f) is not None
        }
    if monitor.quorum is not None and monitor.quorum > len(monitor.regions):
        return {"quorum": f"quorum {monitor.quorum} is more than the {len(monitor.regions)} regions"}
    return {}


class MaintenanceEntry(Window):
    """A file-level window and the monitors it covers: those in one of ``groups`` or having one
    of ``tags``."""

    groups: Annotated[list[Label], Field(max_length=50)] | None = None
    tags: Annotated[dict[Label, Label], Field(max_length=50)] | None = None

    @model_validator(mode="after")
    def _selects(self) -> MaintenanceEntry:
        if not self.groups and not self.tags:
            raise ValueError("a file-level window names 'groups' or 'tags' (defaults.maintenance covers all)")
        return self

    def covers(self, group: str | None, tags: Mapping[str, str] | None) -> bool:
        in_group = group is not None and group in (self.groups or ())
        return in_group or any((tags or {}).get(k) == v for k, v in (self.tags or {}).items())

    def window(self) -> dict[str, Any]:
        """The window as a monitor's request writes it."""
        return self.model_dump(exclude_defaults=True, exclude={"groups", "tags"})


class MonitorEntry(_Fields):
    """One monitor as written in the file (missing fields come from ``defaults``)."""

    name: Annotated[str, Field(pattern=MONITOR_NAME_PATTERN, description="Unique in the fleet.")]


class MonitorsFile(BaseModel):
    """A monitors file: ``defaults`` (optional) and ``monitors``."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, title="fanout monitors file")

    defaults: _Fields | None = Field(default=None, description="Merged under every monitor of this file.")
    channels: dict[ChannelName, Annotated[list[Route], Field(min_length=1, max_length=10)]] | None = Field(
        default=None,
        description="Named alert routes (webhook, slack, pagerduty); monitors name them in 'alerts'.",
    )
    maintenance: Annotated[list[MaintenanceEntry], Field(max_length=50)] | None = Field(
        default=None, description="Maintenance windows of the monitors in 'groups' or with 'tags'."
    )
    monitors: list[MonitorEntry] = Field(default_factory=list)


class Monitor(MonitorEntry):
    """A monitor once its file's defaults are merged in: what its schedule is made of."""

    schedule: ScheduleExpression

    @model_validator(mode="after")
    def _one_source(self) -> Monitor:
        if (self.urls is None) == (self.targets is None):
            raise ValueError("give either 'urls' or 'targets' (exactly one)")
        return self


def merged(defaults: Mapping[str, Any] | None, own: Mapping[str, Any]) -> dict[str, Any]:
    """``own`` over ``defaults``, mapping by mapping (a list or a value replaces)."""
    out: dict[str, Any] = dict(defaults or {})
    for key, value in own.items():
        below = out.get(key)
        out[key] = (
            merged(below, value) if isinstance(below, Mapping) and isinstance(value, Mapping) else value
        )
    return out


def request_of(
    monitor: Monitor,
    raw: Mapping[str, Any],
    channels: Mapping[str, list[Any]] | None = None,
    maintenance: Sequence[MaintenanceEntry] = (),
) -> dict[str, Any]:
    """The request a monitor's schedule sends, from its merged fields as written (``raw``): the
    deployed function applies its own defaults, so none of this machine's are written in. Its
    ``alerts`` name the file's ``channels``: their routes go in as written (secrets as references);
    the file's ``maintenance`` windows covering its group or tags are added to its own."""
    options = dict(raw.get("options") or {})
    if "thresholds" in raw:
        options["thresholds"] = raw["thresholds"]
    spec: dict[str, Any] = {"name": monitor.name}
    for key in (
        "failure_threshold",
        "success_threshold",
        "group",
        "tags",
        "remind_every",
        "depends_on",
        "public",
        "regions",
        "quorum",
        "region_silent_after",
    ):
        if raw.get(key) is not None and (monitor.regions or key not in _REGIONAL):
            spec[key] = raw[key]
    if raw.get("group_over") is not None:
        spec["group_over"] = raw["group_over"]
    windows = [*(raw.get("maintenance") or ())]
    windows += [e.window() for e in maintenance if e.covers(monitor.group, monitor.tags)]
    if windows:
        spec["maintenance"] = windows
    if raw.get("alerts"):
        spec["alerts"] = [route for name in raw["alerts"] for route in (channels or {})[name]]
    source: dict[str, Any] = {"targets": raw.get("targets")}
    if monitor.urls is not None:
        source = {"urls": [_request_url(u) for u in raw["urls"]]}
        names = {
            u.url: u.display_name for u in monitor.urls if isinstance(u, FileUrlEntry) and u.display_name
        }
        if names:
            spec["display_names"] = names
    return {**source, **({"options": options} if options else {}), "monitor": spec}


def _request_url(item: Any) -> Any:
    """A file's URL item as the request writes it (the display name goes to the monitor's spec)."""
    if isinstance(item, Mapping) and "display_name" in item:
        return {k: v for k, v in item.items() if k != "display_name"}
    return item
