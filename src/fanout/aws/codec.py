"""DynamoDB items of the runs table, by hand (no ``Decimal`` round trips).

A record is its JSON fields as attributes, plus ``kind`` (the GSI's partition, always
``"run"``), ``expires_at`` (the table's TTL, epoch seconds) and, for a sharded run,
``done_shards`` (a string set: the shards counted, never shown) and its generations'
bookkeeping (``shards_sent``, ``generation``, ``cut_shards``: a string set, ``collector``,
``sent_generation``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from fanout.core.records import Generations, RunRecord

RUN_KIND = "run"
TTL_ATTRIBUTE = "expires_at"
DONE_SHARDS = "done_shards"
SHARDS_SENT = "shards_sent"
GENERATION = "generation"
CUT_SHARDS = "cut_shards"
COLLECTOR = "collector"
SENT_GENERATION = "sent_generation"
BOOKKEEPING = frozenset(
    {"kind", DONE_SHARDS, SHARDS_SENT, GENERATION, CUT_SHARDS, COLLECTOR, SENT_GENERATION}
)
Item = dict[str, Any]
"""A DynamoDB item in the low-level API's attribute-value form."""


def to_attr(value: Any) -> dict[str, Any]:
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int | float):
        return {"N": repr(value)}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, dict):
        return {"M": {str(k): to_attr(v) for k, v in value.items()}}
    if isinstance(value, list | tuple):
        return {"L": [to_attr(v) for v in value]}
    raise TypeError(f"cannot store a {type(value).__name__}")


def from_attr(attr: Mapping[str, Any]) -> Any:
    (kind, value), *_ = attr.items()
    if kind == "N":
        number = str(value)
        return int(number) if number.lstrip("-").isdigit() else float(number)
    if kind == "M":
        return {k: from_attr(v) for k, v in value.items()}
    if kind == "L":
        return [from_attr(v) for v in value]
    if kind == "NULL":
        return None
    if kind == "SS":
        return sorted(value)
    return value  # S, BOOL


JSON_TEXT = frozenset({"options", "monitor_spec"})
"""Fields stored as JSON text: a request's own numbers, exactly as given (DynamoDB's numbers stop at
38 digits and 1e-130, and an option like ``request_timeout_s: 5e-324`` is valid JSON)."""


def record_item(record: RunRecord, *, expires_at: int) -> Item:
    """The item that stores ``record`` (its TTL at ``expires_at``)."""
    item = {
        k: {"S": json.dumps(v, separators=(",", ":"))} if k in JSON_TEXT else to_attr(v)
        for k, v in record.to_json().items()
    }
    item |= {"kind": {"S": RUN_KIND}, TTL_ATTRIBUTE: {"N": str(expires_at)}}
    if record.done_shards:
        item[DONE_SHARDS] = {"SS": sorted(record.done_shards)}
    if (g := record.generations) is not None:
        item[SHARDS_SENT] = {"N": str(g.sent)}
        item[GENERATION] = {"N": str(g.generation)}
        if g.cut:
            item[CUT_SHARDS] = {"SS": sorted(g.cut)}
        if g.collector is not None:
            item[COLLECTOR] = {"S": g.collector}
        if g.sent_generation is not None:
            item[SENT_GENERATION] = {"N": str(g.sent_generation)}
    return item


def item_generations(item: Mapping[str, Any]) -> Generations | None:
    """A sharded run's generation bookkeeping (None in a record from before it was kept)."""
    if SHARDS_SENT not in item:
        return None
    collector = item.get(COLLECTOR, {}).get("S")
    sent_generation = item.get(SENT_GENERATION, {}).get("N")
    return Generations(
        sent=int(item[SHARDS_SENT]["N"]),
        generation=int(item.get(GENERATION, {"N": "0"})["N"]),
        cut=frozenset(item.get(CUT_SHARDS, {}).get("SS", ())),
        collector=collector if isinstance(collector, str) else None,
        sent_generation=None if sent_generation is None else int(sent_generation),
    )


def item_record(item: Mapping[str, Any]) -> RunRecord:
    fields = {
        k: json.loads(v["S"]) if k in JSON_TEXT and "S" in v else from_attr(v)
        for k, v in item.items()
        if k not in BOOKKEEPING
    }
    done = frozenset(item.get(DONE_SHARDS, {}).get("SS", ()))
    return RunRecord.from_json(fields, done_shards=done, generations=item_generations(item))


def expired(item: Mapping[str, Any], now: float) -> bool:
    """DynamoDB deletes expired items lazily (within days): hide them meanwhile."""
    expires = from_attr(item.get(TTL_ATTRIBUTE, {"NULL": True}))
    return isinstance(expires, int | float) and expires < now
