"""What the front doors ask of the service: run a request (once per idempotency key), read
runs back. The front doors turn events into these calls; nothing here sees an event."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from fanout.config import Settings
from fanout.core.budget import CLEANUP_COST
from fanout.core.documents import RunDocument, Source
from fanout.core.ids import is_run_id
from fanout.core.records import RunView
from fanout.core.requests import FanoutRequest, InvokeRequest
from fanout.errors import MonitorNotFound, RequestInvalid, RunNotFound
from fanout.observability.tracing import run_trace
from fanout.runs import inline, keyed
from fanout.runs.invocation import Invocation
from fanout.runs.report import count, report_run
from fanout.runs.stores import StoreConfig

if TYPE_CHECKING:
    from fanout.core.monitor_views import MonitorListing, MonitorView
    from fanout.core.records import RunListing


def run_request(
    request: InvokeRequest,
    source: Source,
    invocation: Invocation,
    *,
    cap_s: float | None = None,
    after_s: float = 0.0,
    key: str | None = None,
) -> RunDocument:
    """Run one validated request to completion within the invocation's deadline; its answer.

    ``after_s`` is kept at the end of the budget for what follows the run (the idempotency
    record); ``key`` identifies the delivery (a monitor applies each delivery's results once).
    Raises the domain's errors (an unusable target list, sharding off, monitors off, ...).
    """
    n_urls = len(request.urls) if isinstance(request, FanoutRequest) else 0
    with run_trace("## fanout run", n_urls=n_urls, source=source) as trace:
        ran = invocation.run(
            inline.run(
                request, source, invocation, cap_s=cap_s, after_s=after_s, trace=trace, observation_key=key
            ),
            "run",
        )
    if ran.document is not None:  # a sharded run's launch reports itself
        report_run(ran.document, slack_ms=invocation.clock.slack_ms())
    CLEANUP_COST.answered()  # a run cut by its deadline: its cleanup, learned (core/budget.py)
    return ran.answer


def run(
    request: InvokeRequest,
    source: Source,
    invocation: Invocation,
    *,
    key: str | None,
    payload: Any,
    cap_s: float | None = None,
) -> RunDocument:
    """``run_request``, once per idempotency ``key`` when the idempotency table is configured."""
    settings = invocation.settings
    if not key or not settings.idempotency_table_name:
        return run_request(request, source, invocation, cap_s=cap_s, key=key)
    n_urls = len(request.urls) if isinstance(request, FanoutRequest) else settings.max_urls
    return keyed.run_once(
        key,
        payload,
        lambda after_s: run_request(request, source, invocation, cap_s=cap_s, after_s=after_s, key=key),
        invocation,
        n_urls=n_urls,
        cap_s=cap_s,
    )


def read_run(run_id: str, invocation: Invocation, *, cap_s: float | None = None) -> RunView:
    from fanout.runs import readback  # reading runs back: only for GET /runs

    count("run_reads")
    if not is_run_id(run_id):
        raise RunNotFound(run_id)
    settings = invocation.settings
    readback.stores_config(settings)
    before = invocation.clock.deadline(0, settings, cap_s=cap_s).work_by
    return invocation.run(readback.get_run(run_id, settings, before=before), "run read")


def list_runs(
    limit: int | None, cursor: str | None, invocation: Invocation, *, cap_s: float | None = None
) -> RunListing:
    from fanout.runs import readback

    count("run_listings")
    settings = invocation.settings
    limit = _limit(limit, settings)
    readback.stores_config(settings)
    before = invocation.clock.deadline(0, settings, cap_s=cap_s).work_by
    return invocation.run(readback.list_runs(limit, cursor, settings, before=before), "run listing")


MONITOR_NAME = re.compile(r"^[a-z0-9-]{1,64}$")


def _limit(limit: int | None, settings: Settings) -> int:
    limit = settings.default_runs_limit if limit is None else limit
    if limit > settings.max_runs_limit:
        msg = f"Input should be less than or equal to {settings.max_runs_limit}"
        raise RequestInvalid(
            "1 problem(s) in the request", [{"loc": "limit", "msg": msg, "type": "less_than_equal"}]
        )
    return limit


def _tag(tag: str | None) -> tuple[str, str] | None:
    """``key:value`` (the value may hold ':')."""
    if tag is None:
        return None
    key, colon, value = tag.partition(":")
    if not (key and colon and value):
        raise RequestInvalid(
            "1 problem(s) in the request",
            [{"loc": "tag", "msg": "write the tag as key:value", "type": "tag_format"}],
        )
    return key, value


def list_monitors(
    limit: int | None,
    cursor: str | None,
    invocation: Invocation,
    *,
    cap_s: float | None = None,
    group: str | None = None,
    tag: str | None = None,
) -> MonitorListing:
    """A page of the monitors; ``group`` and ``tag`` (``key:value``) keep those that have them."""
    from fanout.runs import monitors_read

    count("monitor_listings")
    settings = invocation.settings
    limit, wanted = _limit(limit, settings), _tag(tag)
    before = invocation.clock.deadline(0, settings, cap_s=cap_s).work_by
    config = StoreConfig.from_settings(settings)
    return invocation.run(
        monitors_read.list_monitors(config, limit, cursor, before=before, group=group, tag=wanted),
        "monitor listing",
    )


def read_monitor(
    name: str, limit: int | None, cursor: str | None, invocation: Invocation, *, cap_s: float | None = None
) -> MonitorView:
    from fanout.runs import monitors_read

    count("monitor_reads")
    settings = invocation.settings
    if not MONITOR_NAME.match(name):
        raise MonitorNotFound(name)
    before = invocation.clock.deadline(0, settings, cap_s=cap_s).work_by
    config = StoreConfig.from_settings(settings)
    return invocation.run(
        monitors_read.get_monitor(config, name, _limit(limit, settings), cursor, before=before),
        "monitor read",
    )
