"""DynamoDB: the runs table (one item per run, key ``run_id``; GSI ``by-started-at`` for listing).

Recent runs are a Query on the GSI (partition ``kind = "run"``, sort ``started_at``), newest
first: never a Scan. A sharded run's progress is counted with one conditional ``UpdateItem``
per shard (``ADD`` counts, ``shards_done``, the shard's id to ``done_shards`` and, when it left
leftovers, to ``cut_shards`` with a place in ``shards_total``, on condition that the id is not
there yet: a duplicate cannot count twice). A generation whose every shard is counted is
collected with one conditional update (``collect``: the generation moves on, once), and the run
moves from ``running`` to ``complete`` or ``failed`` with a conditional update: exactly once.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from fanout.aws.codec import (
    CUT_SHARDS,
    DONE_SHARDS,
    GENERATION,
    RUN_KIND,
    SENT_GENERATION,
    SHARDS_SENT,
    Item,
    expired,
    item_record,
    record_item,
    to_attr,
)
from fanout.aws.cursors import ListingCursor
from fanout.aws.session import AwsClients
from fanout.core.documents import RunStatus
from fanout.core.records import RunRecord
from fanout.errors import StoreError

RUNS_INDEX = "by-started-at"
CONDITION_FAILED = "ConditionalCheckFailedException"
RUN_CURSORS = ListingCursor(("run_id", "started_at"), {"kind": RUN_KIND})
"""A page of the GSI ends at a run (``run_id``, ``started_at``); its partition is always ``kind = "run"``."""


class RunsTable:
    """The runs table; records expire (TTL) ``retention_days`` after they are written."""

    def __init__(self, clients: AwsClients, table: str, *, retention_days: int) -> None:
        self._clients = clients
        self.table = table
        self._retention_s = retention_days * 86_400

    def _item(self, record: RunRecord) -> Item:
        return record_item(record, expires_at=int(time.time()) + self._retention_s)

    async def _ddb(self) -> Any:
        return await self._clients.client("dynamodb")

    async def put(self, record: RunRecord, before: float) -> None:
        """Write ``record`` (an inline run's, or one replacing a continuation that failed)."""
        item = self._item(record)

        async def put() -> None:
            await (await self._ddb()).put_item(TableName=self.table, Item=item)

        await self._clients.call("run record", before, put)

    async def put_new(self, record: RunRecord, before: float) -> None:
        """Write a new record, never over an existing one (a sharded run's start)."""
        item = self._item(record)

        async def put() -> None:
            ddb = await self._ddb()
            await ddb.put_item(
                TableName=self.table, Item=item, ConditionExpression="attribute_not_exists(run_id)"
            )

        await self._clients.call("run record", before, put)

    async def get(self, run_id: str, before: float, *, consistent: bool = False) -> RunRecord | None:
        """The run's record, or None when there is none (or it has expired)."""

        async def get() -> Item | None:
            ddb = await self._ddb()
            response = await ddb.get_item(
                TableName=self.table, Key={"run_id": {"S": run_id}}, ConsistentRead=consistent
            )
            item: Item | None = response.get("Item")
            return item

        item = await self._clients.call("run record", before, get)
        if item is None or expired(item, time.time()):
            return None
        return item_record(item)

    async def list(self, limit: int, cursor: str | None, before: float) -> tuple[list[RunRecord], str | None]:
        """Up to ``limit`` runs, newest first, and the cursor of the next page (if any)."""
        start = None if cursor is None else RUN_CURSORS.decode(cursor)
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": RUNS_INDEX,
            "KeyConditionExpression": "#kind = :kind",
            "ExpressionAttributeNames": {"#kind": "kind"},
            "ExpressionAttributeValues": {":kind": {"S": RUN_KIND}},
            "ScanIndexForward": False,
            "Limit": limit,
        } | ({} if start is None else {"ExclusiveStartKey": start})

        async def query() -> dict[str, Any]:
            response: dict[str, Any] = await (await self._ddb()).query(**kwargs)
            return response

        response = await self._clients.call("run records", before, query)
        now = time.time()
        records = [item_record(i) for i in response.get("Items", []) if not expired(i, now)]
        last = response.get("LastEvaluatedKey")
        return records, RUN_CURSORS.encode(last) if last else None

    async def count_shard(
        self,
        run_id: str,
        shard: str,
        counts: Mapping[str, int],
        *,
        given_up: int,
        continued: bool,
        before: float,
    ) -> RunRecord | None:
        """Add a shard's outcome counts to its run, once per shard id: the record after, or None
        when the shard was counted already (a duplicate)."""
        names = {"#summary": "summary"} | {f"#{name}": name for name in counts}
        values: dict[str, Any] = {
            ":one": {"N": "1"},
            ":new": {"N": "1" if continued else "0"},
            ":given_up": {"N": str(given_up)},
            ":ids": {"SS": [shard]},
            ":id": {"S": shard},
        } | {f":{name}": {"N": str(n)} for name, n in counts.items()}
        adds = ["shards_done :one", "shards_total :new", "given_up :given_up", f"{DONE_SHARDS} :ids"]
        adds += [f"{CUT_SHARDS} :ids"] if continued else []
        adds += [f"#summary.#{name} :{name}" for name in counts]

        async def update() -> dict[str, Any]:
            response: dict[str, Any] = await (await self._ddb()).update_item(
                TableName=self.table,
                Key={"run_id": {"S": run_id}},
                UpdateExpression="ADD " + ", ".join(adds),
                ConditionExpression=f"attribute_exists(run_id) AND NOT contains({DONE_SHARDS}, :id)",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
            )
            return response

        try:
            response = await self._clients.call("run counts", before, update)
        except StoreError as exc:
            if exc.error_type == CONDITION_FAILED:
                return None
            raise
        return item_record(response["Attributes"])

    async def collect(
        self, run_id: str, *, generation: int, placeholders: int, shards: int, collector: str, before: float
    ) -> bool:
        """Move a running run from ``generation`` (every shard of it counted) to the next: its
        ``placeholders`` in ``shards_total`` become the ``shards`` of the continuation. True for
        the one caller that made the move (it sends the continuation)."""
        names = {"#status": "status", "#generation": GENERATION}
        values = {
            ":running": {"S": RunStatus.RUNNING.value},
            ":g": {"N": str(generation)},
            ":next": {"N": str(generation + 1)},
            ":delta": {"N": str(shards - placeholders)},
            ":shards": {"N": str(shards)},
            ":collector": {"S": collector},
        }

        async def update() -> None:
            await (await self._ddb()).update_item(
                TableName=self.table,
                Key={"run_id": {"S": run_id}},
                UpdateExpression=(
                    f"SET #generation = :next, collector = :collector, {SENT_GENERATION} = :g "
                    f"ADD shards_total :delta, {SHARDS_SENT} :shards"
                ),
                ConditionExpression=(
                    f"#status = :running AND #generation = :g AND shards_done = {SHARDS_SENT}"
                ),
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )

        try:
            await self._clients.call("run generation", before, update)
        except StoreError as exc:
            if exc.error_type == CONDITION_FAILED:
                return False
            raise
        return True

    async def mark_sent(self, run_id: str, *, generation: int, before: float) -> None:
        """Every message of ``generation`` was sent: a redelivery of its collector sends none again."""

        async def update() -> None:
            await (await self._ddb()).update_item(
                TableName=self.table,
                Key={"run_id": {"S": run_id}},
                UpdateExpression=f"SET {SENT_GENERATION} = :g",
                ExpressionAttributeValues={":g": {"N": str(generation)}},
            )

        await self._clients.call("run generation", before, update)

    async def transition(
        self, run_id: str, *, to: RunStatus, sets: Mapping[str, Any], when_finished: bool, before: float
    ) -> bool:
        """Move a ``running`` run to ``to``, setting ``sets`` (with ``when_finished``: only when every
        shard is counted). True for the one caller that made the move."""
        names = {"#status": "status"} | {f"#{k}": k for k in sets}
        values = {":to": {"S": to.value}, ":running": {"S": RunStatus.RUNNING.value}}
        values |= {f":{k}": to_attr(v) for k, v in sets.items()}
        condition = "#status = :running" + (" AND shards_done = shards_total" if when_finished else "")

        async def update() -> None:
            await (await self._ddb()).update_item(
                TableName=self.table,
                Key={"run_id": {"S": run_id}},
                UpdateExpression="SET #status = :to" + "".join(f", #{k} = :{k}" for k in sets),
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )

        try:
            await self._clients.call("run status", before, update)
        except StoreError as exc:
            if exc.error_type == CONDITION_FAILED:
                return False
            raise
        return True
