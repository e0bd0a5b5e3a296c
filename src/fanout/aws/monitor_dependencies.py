"""Which of a monitor's ``depends_on`` are down now, read from the monitors table in one batch
(docs/monitors.md#dependencies): a monitor is down when its last run left one of its URLs down
(its summary's ``down``); ``monitor/url`` is down when that URL's state is."""

from __future__ import annotations

from collections.abc import Sequence

from fanout.aws.monitor_codec import Item, item_summary, state_key, summary_key
from fanout.aws.monitors_table import BATCH_KEYS, MonitorsTable


def _key(ref: str) -> Item:
    monitor, _, url = ref.partition("/")
    return state_key(monitor, url) if url else summary_key(monitor)


def _down(item: Item) -> bool:
    if "status" in item:
        return bool(item["status"]["S"] == "down")
    return int(item_summary(item).get("down") or 0) > 0


async def dependencies_down(table: MonitorsTable, refs: Sequence[str], before: float) -> tuple[str, ...]:
    """The ``refs`` found down, in the order written (an unknown one is not down)."""
    wanted = list(dict.fromkeys(refs))[:BATCH_KEYS]
    by_key = {(k["pk"]["S"], k["sk"]["S"]): ref for ref in wanted for k in [_key(ref)]}
    items = await table.items([_key(ref) for ref in wanted], before)
    down = {by_key[(i["pk"]["S"], i["sk"]["S"])] for i in items if _down(i)}
    return tuple(ref for ref in wanted if ref in down)
