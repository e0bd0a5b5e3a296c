"""Reading monitors back (``GET /monitors``, ``GET /monitors/{name}``): only for those routes."""

from __future__ import annotations

import time

from fanout.core.monitor_views import MonitorListing, MonitorView
from fanout.errors import MonitorNotFound, MonitorsOff, StoreError, StoreUnavailable
from fanout.runs.stores import RunStores, StoreConfig


def _config(config: StoreConfig) -> StoreConfig:
    if not config.monitors_on:
        raise MonitorsOff()
    return config


async def list_monitors(
    config: StoreConfig,
    limit: int,
    cursor: str | None,
    *,
    before: float,
    group: str | None = None,
    tag: tuple[str, str] | None = None,
) -> MonitorListing:
    """A page of the monitors, those of ``group`` and with ``tag`` (key, value) when given."""
    async with RunStores(_config(config)) as stores:
        assert stores.monitors is not None
        try:
            found, next_cursor = await stores.monitors.list_summaries(
                limit, cursor, before, group=group, tag=tag
            )
        except StoreError as exc:
            raise StoreUnavailable(str(exc)) from None
    return MonitorListing.of(tuple(found), next_cursor, time.time())


async def get_monitor(
    config: StoreConfig, name: str, limit: int, cursor: str | None, *, before: float
) -> MonitorView:
    async with RunStores(_config(config)) as stores:
        assert stores.monitors is not None
        try:
            summary = await stores.monitors.get_summary(name, before)
            if summary is None:
                raise MonitorNotFound(name)
            states, next_cursor = await stores.monitors.page_states(name, limit, cursor, before)
        except StoreError as exc:
            raise StoreUnavailable(str(exc)) from None
    return MonitorView.at(summary, tuple(states), next_cursor, time.time())
