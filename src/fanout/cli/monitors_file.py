"""Reading monitors files (``fanout monitors validate|plan|apply``): every problem of every file,
each as ``FILE:LINE:COLUMN: path: message``, and the monitors they describe.

A file's ``defaults`` are checked on their own, then merged under each of its monitors and the
result checked as a ``fanout.core.fleet.Monitor``; a problem is reported where it was written
(in the monitor, else in the defaults, else at the monitor that lacks something), once. Past the
models: names unique across all files, and each URL through the egress guard's URL check (the
checks that need no DNS), so a URL the deployed function would refuse is refused here.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args, get_origin

import httpx
import yaml
from pydantic import BaseModel, ValidationError

from fanout.cli.yaml_marks import Mark, Marked, Path_, load_marked
from fanout.config import get_settings
from fanout.core.fleet import (
    MaintenanceEntry,
    Monitor,
    MonitorEntry,
    MonitorsFile,
    merged,
    regional_problems,
    request_of,
)
from fanout.core.requests import UrlEntry, format_loc
from fanout.errors import EgressBlocked
from fanout.fetch.egress.policy import EgressPolicy, policy_for

YAML_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True, slots=True)
class Problem:
    file: str
    mark: Mark
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.mark.line}:{self.mark.column}: {self.path or '(file)'}: {self.message}"


@dataclass(frozen=True, slots=True)
class FleetMonitor:
    """One monitor of the fleet: its model, the request its schedule sends, where it was written."""

    monitor: Monitor
    request: dict[str, Any]
    file: str
    mark: Mark


@dataclass
class Fleet:
    monitors: list[FleetMonitor] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    files: list[str] = field(default_factory=list)


def files_in(paths: Iterable[str | Path]) -> list[Path]:
    """The files named, and the YAML files under each directory named (sorted)."""
    found: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found.extend(sorted(f for f in p.rglob("*") if f.suffix in YAML_SUFFIXES and f.is_file()))
        else:
            found.append(p)
    return found


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _models_in(arg)] if get_origin(annotation) else []


def _field_names(model: type[BaseModel]) -> dict[str, Any]:
    return {(f.alias or name): f.annotation for name, f in model.model_fields.items()}


def known_keys(model: type[BaseModel], loc: Sequence[int | str]) -> list[str]:
    """The keys the mapping at ``loc`` (a pydantic location below ``model``) may have."""
    candidates = [model]
    for part in loc:
        inner = [m for c in candidates for m in _models_in(_field_names(c).get(str(part)))]
        candidates = inner or candidates  # a list index or a union's tag: the same models
    return sorted({k for c in candidates for k in _field_names(c)})


def _message(error: Any, model: type[BaseModel], loc: tuple[int | str, ...]) -> str:
    if error["type"] == "extra_forbidden":
        key = str(loc[-1])
        close = difflib.get_close_matches(key, known_keys(model, loc[:-1]), n=1, cutoff=0.6)
        return f"unknown key {key!r}" + (f" (did you mean {close[0]!r}?)" if close else "")
    if error["type"] == "missing":
        return f"{loc[-1]!r} is required (here or in defaults)"
    if error["type"] == "string_pattern_mismatch":
        return _PATTERN_MESSAGES.get(_pattern_field(loc), str(error["msg"]))
    return str(error["msg"]).removeprefix("Value error, ")


def _pattern_field(loc: tuple[int | str, ...]) -> str:
    return next((f for f in ("thresholds", "regions") if f in loc), str(loc[-1]))


_PATTERN_MESSAGES = {
    "name": "a name is 1-64 characters of a-z, 0-9 and '-'",
    "thresholds": "not a condition like '<0.05', '>=0.99' or '<800'",
    "sitemap": "a sitemap is an http:// or https:// URL",
    "regions": "not an AWS region like eu-west-1 or us-east-1",
}


TOP_LEVEL = ["defaults", "channels", "maintenance", "monitors"]


class _FileReader:
    def __init__(self, name: str, marked: Marked, fleet: Fleet, policy: EgressPolicy) -> None:
        self.name, self.marked, self.fleet, self.policy = name, marked, fleet, policy
        self.seen: set[tuple[Mark, str, str]] = set()
        self.channels: dict[str, Any] = {}
        self.maintenance: list[MaintenanceEntry] = []

    def problem(self, path: Path_, message: str, *, shown: str | None = None, key: bool = False) -> None:
        mark = self.marked.mark(path, key=key)
        text = shown if shown is not None else format_loc(path)
        if (mark, text, message) not in self.seen:
            self.seen.add((mark, text, message))
            self.fleet.problems.append(Problem(self.name, mark, text, message))

    def errors(self, exc: ValidationError, model: type[BaseModel], bases: Sequence[Path_]) -> None:
        """Each error at the first of ``bases`` under which its location was written."""
        for error in exc.errors(include_url=False, include_input=False):
            loc = tuple(error["loc"])
            written = [(b, self.marked.known((*b, *loc))) for b in bases]
            base = max(written, key=lambda w: len(w[1]) - len(w[0]))[0]
            self.problem(
                (*base, *loc),
                _message(error, model, loc),
                shown=format_loc((*base, *loc)),
                key=error["type"] == "extra_forbidden",
            )

    def read(self) -> None:
        document = self.marked.value
        if document is None:
            return
        if not isinstance(document, dict):
            self.problem((), "a monitors file is a mapping with 'monitors' (and 'defaults')")
            return
        for key in document:
            if key not in TOP_LEVEL:
                close = difflib.get_close_matches(str(key), TOP_LEVEL, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                self.problem((str(key),), f"unknown key {key!r}{hint}", key=True)
        defaults, channels = document.get("defaults"), document.get("channels")
        top = {"defaults": defaults, "channels": channels, "maintenance": document.get("maintenance")}
        try:
            self.maintenance = MonitorsFile.model_validate(top, context=get_settings()).maintenance or []
        except ValidationError as exc:
            self.errors(exc, MonitorsFile, [()])
        self.channels = channels if isinstance(channels, dict) else {}
        monitors = document.get("monitors")
        if not isinstance(monitors, list):
            self.problem(("monitors",), "'monitors' must be a list of monitors")
            return
        for i, own in enumerate(monitors):
            self.monitor(i, own, defaults if isinstance(defaults, dict) else None)

    def monitor(self, i: int, own: Any, defaults: dict[str, Any] | None) -> None:
        here: Path_ = ("monitors", i)
        if not isinstance(own, dict):
            self.problem(here, "a monitor is a mapping with at least a 'name'")
            return
        raw = merged(defaults, own)
        try:
            monitor = Monitor.model_validate(raw, context=get_settings())
        except ValidationError as exc:
            self.errors(exc, MonitorEntry, [here, ("defaults",)])
            return
        self.check_urls(monitor, here)
        regional = regional_problems(monitor)
        for key, message in regional.items():
            base = here if self.marked.known((*here, key)) != here else ("defaults",)
            if monitor.regions is None and base != here:
                continue  # the defaults' quorum is for the monitors with regions
            self.problem((*base, key), message)
            return
        unknown = [(j, n) for j, n in enumerate(monitor.alerts or []) if n not in self.channels]
        for j, name in unknown:
            base = here if self.marked.known((*here, "alerts", j)) != here else ("defaults",)
            known = ", ".join(sorted(self.channels)) or "none"
            self.problem((*base, "alerts", j), f"no channel named {name!r} in 'channels' (there: {known})")
        if unknown:
            return
        mark = self.marked.mark((*here, "name"))
        request = request_of(monitor, raw, self.channels, self.maintenance)
        self.fleet.monitors.append(FleetMonitor(monitor, request, self.name, mark))

    def check_urls(self, monitor: Monitor, here: Path_) -> None:
        urls: list[tuple[Path_, str]] = []
        for i, item in enumerate(monitor.urls or []):
            urls.append((("urls", i, "url"), item.url) if isinstance(item, UrlEntry) else (("urls", i), item))
        if monitor.targets is not None and not isinstance(monitor.targets, str):
            urls.append((("targets", "sitemap"), monitor.targets.sitemap))
        for loc, url in urls:
            base = here if self.marked.known((*here, *loc)) != here else ("defaults",)
            try:
                self.policy.check_url(httpx.URL(url))
            except EgressBlocked as exc:
                self.problem((*base, *loc), f"the egress guard blocks this URL: {exc.detail}")
            except httpx.InvalidURL as exc:
                self.problem((*base, *loc), f"not a URL: {exc}")


def _names_unique(fleet: Fleet) -> None:
    first: dict[str, FleetMonitor] = {}
    for m in fleet.monitors:
        seen = first.setdefault(m.monitor.name, m)
        if seen is not m:
            where = f"{seen.file}:{seen.mark.line}:{seen.mark.column}"
            fleet.problems.append(
                Problem(m.file, m.mark, "name", f"duplicate name {m.monitor.name!r} (first at {where})")
            )


def read_fleet(paths: Iterable[str | Path]) -> Fleet:
    """Every monitor of the files (and directories) named, and every problem they have."""
    fleet = Fleet()
    policy = policy_for(get_settings())
    for path in files_in(paths):
        name = str(path)
        fleet.files.append(name)
        try:
            marked = load_marked(path.read_text(encoding="utf-8"))
        except OSError as exc:
            fleet.problems.append(Problem(name, Mark(1, 1), "", f"cannot read: {exc.strerror or exc}"))
            continue
        except yaml.MarkedYAMLError as exc:
            at = exc.problem_mark or exc.context_mark
            mark = Mark.of(at) if at is not None else Mark(1, 1)
            fleet.problems.append(Problem(name, mark, "", f"not YAML: {exc.problem or exc}"))
            continue
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            fleet.problems.append(Problem(name, Mark(1, 1), "", f"not YAML: {exc}"))
            continue
        for path_, mark in marked.duplicates:
            fleet.problems.append(Problem(name, mark, format_loc(path_), "this key is written twice"))
        _FileReader(name, marked, fleet, policy).read()
    _names_unique(fleet)
    return fleet
