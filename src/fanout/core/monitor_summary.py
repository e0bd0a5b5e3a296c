"""A monitor's summary (the ``monitors`` item ``GET /monitors`` lists): what its last update
left, its hygiene (windows, dependencies found down) and, for a regional monitor, its regions."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from fanout.core.hygiene import Holds
from fanout.core.ids import iso_from_epoch
from fanout.core.monitors import Health, MonitorSpec, SubjectState
from fanout.core.regional import REGION_PREFIX, regions_summary
from fanout.core.thresholds import ThresholdResult


def summary_of(
    spec: MonitorSpec,
    run_id: str,
    states: Sequence[SubjectState],
    thresholds: Sequence[ThresholdResult],
    holds: Holds,
    routes_gone: Sequence[str],
) -> dict[str, Any]:
    """The summary an update writes: counts of its URLs by status, its settings as the run named
    them, the routes found gone (410), its hygiene and its regions."""
    urls = [s for s in states if not s.subject.startswith(("threshold:", REGION_PREFIX))]
    summary: dict[str, Any] = {
        "last_run_id": run_id,
        "last_run_at": iso_from_epoch(time.time()),
        "urls": len(urls),
        **{h.value: sum(s.status is h for s in urls) for h in Health},
        "failure_threshold": spec.failure_threshold,
        "success_threshold": spec.success_threshold,
        "thresholds": [t.to_json() for t in thresholds],
        "group": spec.group,
        "tags": dict(spec.tags or {}),
        "public": spec.public is not False,
        "display_names": dict(spec.display_names or {}),
    }
    if routes_gone:
        summary["routes_gone"] = list(routes_gone)
    return summary | _hygiene(spec, holds) | regions_summary(spec, states)


def _hygiene(spec: MonitorSpec, holds: Holds) -> dict[str, Any]:
    """The summary's maintenance windows (``GET /monitors/{name}`` says which is active when it is
    read) and the dependencies this run found down."""
    out: dict[str, Any] = {}
    if spec.maintenance:
        out["maintenance"] = [w.model_dump(exclude_none=True) for w in spec.maintenance]
    if spec.depends_on:
        out["depends_on"] = list(spec.depends_on)
        out["dependencies_down"] = list(holds.dependencies)
    return out
