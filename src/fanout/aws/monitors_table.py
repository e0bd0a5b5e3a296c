"""DynamoDB: the monitors table (``pk``/``sk``, TTL ``expires_at``; keys in ``monitor_codec``).

States are read in batches (``BatchGetItem``, 100 keys a call, strongly consistent, unprocessed
keys asked again) and written in transactions of 100 (``TransactWriteItems``), each state with a
condition on its ``version`` (``attribute_not_exists`` for a new one): a transaction that loses a
condition to another run writes nothing and its states come back ``stale``, for the caller to
read again. One call per 100 URLs, not one per URL: botocore's per-call CPU (signing,
serialising, its hooks) is what a per-URL write would cost (``make bench``, "monitor"). Nothing
here decides anything about a state.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fanout.aws.cursors import ListingCursor
from fanout.aws.monitor_codec import (
    MONITORS_PK,
    Item,
    item_state,
    item_summary,
    state_item,
    state_key,
    summary_item,
    summary_key,
)
from fanout.aws.session import AwsClients, error_type
from fanout.core.monitors import SubjectState
from fanout.errors import StoreError

BATCH_KEYS = 100
BATCH_ROUNDS = 5
TRANSACT_ITEMS = 100
CONFLICTS = frozenset({"TransactionCanceledException", "TransactionConflictException"})


@dataclass(frozen=True, slots=True)
class Saved:
    """What became of states handed to ``save_all``, by subject."""

    versions: Mapping[str, int] = field(default_factory=dict)  # written, at this version
    stale: frozenset[str] = frozenset()  # not written: another run wrote one of their transaction's
    failed: Mapping[str, str] = field(default_factory=dict)  # not written: the call failed (why)

    def merged(self, other: Saved) -> Saved:
        return Saved(
            {**self.versions, **other.versions}, self.stale | other.stale, {**self.failed, **other.failed}
        )


@dataclass(frozen=True, slots=True)
class Filter:
    expression: str
    names: dict[str, str]
    values: dict[str, Any]


def _filter(group: str | None, tag: tuple[str, str] | None) -> Filter | None:
    """The listing's filter on the summaries' ``group`` and ``tags`` attributes."""
    parts, names, values = [], {}, {}
    if group is not None:
        parts.append("#group = :group")
        names["#group"], values[":group"] = "group", {"S": group}
    if tag is not None:
        parts.append("#tags.#tag = :tag")
        names |= {"#tags": "tags", "#tag": tag[0]}
        values[":tag"] = {"S": tag[1]}
    return Filter(" AND ".join(parts), names, values) if parts else None


class MonitorsTable:
    """The monitors table; states and summaries expire (TTL) ``retention_days`` after their last write."""

    def __init__(self, clients: AwsClients, table: str, *, retention_days: int = 35) -> None:
        self._clients = clients
        self.table = table
        self._retention_s = retention_days * 86_400

    async def _ddb(self) -> Any:
        return await self._clients.client("dynamodb")

    def _expires_at(self) -> int:
        return int(time.time()) + self._retention_s

    async def load(
        self, monitor: str, subjects: Sequence[str], before: float, *, concurrency: int = 8
    ) -> dict[str, SubjectState]:
        """The stored states of ``subjects`` (absent ones are not in the answer)."""
        chunks = [subjects[i : i + BATCH_KEYS] for i in range(0, len(subjects), BATCH_KEYS)]
        slots = asyncio.Semaphore(concurrency)

        async def one(chunk: Sequence[str]) -> list[SubjectState]:
            async with slots:
                return await self._batch(monitor, chunk, before)

        found: dict[str, SubjectState] = {}
        for states in await asyncio.gather(*(one(c) for c in chunks)):
            found |= {s.subject: s for s in states}
        return found

    async def _batch(self, monitor: str, subjects: Iterable[str], before: float) -> list[SubjectState]:
        keys = [state_key(monitor, s) for s in dict.fromkeys(subjects)]

        async def get() -> list[SubjectState]:
            ddb, wanted, items = await self._ddb(), keys, []
            for round_ in range(BATCH_ROUNDS):
                response = await ddb.batch_get_item(
                    RequestItems={self.table: {"Keys": wanted, "ConsistentRead": True}}
                )
                items += response.get("Responses", {}).get(self.table, [])
                wanted = response.get("UnprocessedKeys", {}).get(self.table, {}).get("Keys", [])
                if not wanted:
                    break
                await asyncio.sleep(0.05 * 2**round_)
            if wanted:
                raise RuntimeError(f"{len(wanted)} state(s) still unprocessed after {BATCH_ROUNDS} rounds")
            return [item_state(i) for i in items]

        return await self._clients.call("monitor states", before, get)

    async def items(self, keys: Sequence[Item], before: float) -> list[Item]:
        """The items at ``keys`` (at most 100; absent ones are not in the answer), one strongly
        consistent ``BatchGetItem`` (unprocessed keys asked again)."""

        async def get() -> list[Item]:
            ddb, wanted, items = await self._ddb(), list(keys), []
            for round_ in range(BATCH_ROUNDS):
                response = await ddb.batch_get_item(
                    RequestItems={self.table: {"Keys": wanted, "ConsistentRead": True}}
                )
                items += response.get("Responses", {}).get(self.table, [])
                wanted = response.get("UnprocessedKeys", {}).get(self.table, {}).get("Keys", [])
                if not wanted:
                    return items
                await asyncio.sleep(0.05 * 2**round_)
            raise RuntimeError(f"{len(wanted)} item(s) still unprocessed after {BATCH_ROUNDS} rounds")

        return await self._clients.call("monitor states", before, get) if keys else []

    async def save_all(
        self, monitor: str, states: Sequence[SubjectState], before: float, *, concurrency: int
    ) -> Saved:
        """Write ``states`` (distinct subjects), each if the stored one is still at its ``version``:
        ``TransactWriteItems`` of up to 100, so one call's overhead is shared by 100 URLs. A
        transaction that loses a condition writes none of its states: they are all ``stale``
        (read them again, apply again); one that fails otherwise leaves them ``failed``."""
        chunks = [states[i : i + TRANSACT_ITEMS] for i in range(0, len(states), TRANSACT_ITEMS)]
        slots = asyncio.Semaphore(concurrency)

        async def one(chunk: Sequence[SubjectState]) -> Saved:
            async with slots:
                try:
                    return await self._transact(monitor, chunk, before)
                except StoreError as exc:
                    return Saved(failed={s.subject: str(exc) for s in chunk})

        saved = Saved()
        for part in await asyncio.gather(*(one(c) for c in chunks)):
            saved = saved.merged(part)
        return saved

    async def _transact(self, monitor: str, chunk: Sequence[SubjectState], before: float) -> Saved:
        expires_at = self._expires_at()
        actions = [{"Put": self._conditional_put(monitor, s, expires_at)} for s in chunk]

        async def write() -> Saved:
            try:
                await (await self._ddb()).transact_write_items(TransactItems=actions)
            except Exception as exc:
                if error_type(exc) in CONFLICTS:
                    return Saved(stale=frozenset(s.subject for s in chunk))
                raise
            return Saved(versions={s.subject: s.version + 1 for s in chunk})

        return await self._clients.call("monitor states", before, write)

    def _conditional_put(self, monitor: str, state: SubjectState, expires_at: int) -> dict[str, Any]:
        put: dict[str, Any] = {
            "TableName": self.table,
            "Item": state_item(monitor, state, version=state.version + 1, expires_at=expires_at),
        }
        if state.version == 0:
            put["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            put["ConditionExpression"] = "version = :seen"
            put["ExpressionAttributeValues"] = {":seen": {"N": str(state.version)}}
        return put

    async def put_summary(self, monitor: str, summary: Mapping[str, Any], before: float) -> None:
        """The summary (its ``group`` and ``tags`` also as attributes, for the listing's filters)."""
        item = summary_item(monitor, summary, expires_at=self._expires_at())
        if summary.get("group"):
            item["group"] = {"S": str(summary["group"])}
        if summary.get("tags"):
            item["tags"] = {"M": {str(k): {"S": str(v)} for k, v in summary["tags"].items()}}

        async def put() -> None:
            await (await self._ddb()).put_item(TableName=self.table, Item=item)

        await self._clients.call("monitor summary", before, put)

    async def get_summary(self, monitor: str, before: float) -> dict[str, Any] | None:
        async def get() -> dict[str, Any] | None:
            response = await (await self._ddb()).get_item(
                TableName=self.table, Key=summary_key(monitor), ConsistentRead=True
            )
            return None if "Item" not in response else item_summary(response["Item"])

        return await self._clients.call("monitor summary", before, get)

    async def list_summaries(
        self,
        limit: int,
        cursor: str | None,
        before: float,
        *,
        group: str | None = None,
        tag: tuple[str, str] | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """A page of summaries by name; with ``group``/``tag``, those that have them (read on
        until the page is full or the monitors end: DynamoDB filters after its ``Limit``)."""
        where = _filter(group, tag)
        found: list[Item] = []
        next_cursor = cursor
        while True:
            items, next_cursor = await self._query(
                MONITORS_PK, None, limit - len(found), next_cursor, before, where=where
            )
            found.extend(items)
            if where is None or len(found) >= limit or next_cursor is None:
                return [item_summary(i) for i in found], next_cursor

    async def page_states(
        self, monitor: str, limit: int, cursor: str | None, before: float
    ) -> tuple[list[SubjectState], str | None]:
        """A page of the monitor's URL states, in key order."""
        items, next_cursor = await self._query(f"monitor#{monitor}", "url#", limit, cursor, before)
        return [item_state(i) for i in items], next_cursor

    async def _query(
        self,
        pk: str,
        prefix: str | None,
        limit: int,
        cursor: str | None,
        before: float,
        *,
        where: Filter | None = None,
    ) -> tuple[list[Item], str | None]:
        cursors = ListingCursor(("pk", "sk"), {"pk": pk})
        start = None if cursor is None else cursors.decode(cursor)
        now = time.time()

        async def query() -> tuple[list[Item], str | None]:
            condition, values = "pk = :pk", {":pk": {"S": pk}}
            if prefix is not None:
                condition += " AND begins_with(sk, :prefix)"
                values[":prefix"] = {"S": prefix}
            kwargs: dict[str, Any] = {
                "TableName": self.table,
                "KeyConditionExpression": condition,
                "ExpressionAttributeValues": values,
                "Limit": limit,
            }
            if start is not None:
                kwargs["ExclusiveStartKey"] = start
            if where is not None:
                kwargs["FilterExpression"] = where.expression
                kwargs["ExpressionAttributeNames"] = where.names
                values.update(where.values)
            response = await (await self._ddb()).query(**kwargs)
            last = response.get("LastEvaluatedKey")
            items = [i for i in response.get("Items", []) if float(i["expires_at"]["N"]) >= now]
            return items, None if last is None else cursors.encode(last)

        return await self._clients.call("monitors", before, query)
