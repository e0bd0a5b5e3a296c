"""DynamoDB items of the runs table, by hand (no ``Decimal`` round trips).

A record is its JSON fields as attributes, plus ``kind`` (the GSI's partition, always
``"run"``), ``expires_at`` (the table's TTL, epoch seconds) and, for a sharded run,
``done_shards`` (a string set: the shards counted, never shown).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from fanout.core.records import RunRecord

RUN_KIND = "run"
TTL_ATTRIBUTE = "expires_at"
DONE_SHARDS = "done_shards"
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
    return item


def item_record(item: Mapping[str, Any]) -> RunRecord:
    fields = {
        k: json.loads(v["S"]) if k in JSON_TEXT and "S" in v else from_attr(v)
        for k, v in item.items()
        if k not in ("kind", DONE_SHARDS)
    }
    done = frozenset(item.get(DONE_SHARDS, {}).get("SS", ()))
    return RunRecord.from_json(fields, done_shards=done)


def expired(item: Mapping[str, Any], now: float) -> bool:
    """DynamoDB deletes expired items lazily (within days): hide them meanwhile."""
    expires = from_attr(item.get(TTL_ATTRIBUTE, {"NULL": True}))
    return isinstance(expires, int | float) and expires < now
