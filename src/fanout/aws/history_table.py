"""DynamoDB: URLs' long history in the monitors table, one item per (monitor, URL, month)
(``fanout.core.history``)::

    pk "monitor#<name>"   sk "history#<subject id>#<YYYY-MM>"

An item holds a day as attribute ``d<DD>`` and an incident as ``i<start ms>`` (its cause, JSON)
and ``e<start ms>`` (its end): every write is an ``UpdateItem`` that sets values under their
keys, so no write needs a read first and a write repeated (a retried run) changes nothing. An
incident is added only while the month has fewer than ``INCIDENTS_PER_MONTH`` (a count ``n``);
past it the month counts it in ``dropped``. The item expires (TTL) ``RETENTION_DAYS`` after its
month ends: a URL has at most ``MONTHS_KEPT`` items.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

from fanout.aws.session import AwsClients, error_type
from fanout.core.history import (
    INCIDENTS_PER_MONTH,
    Archived,
    DailyAggregate,
    Incident,
    MonthRecord,
    expires_at,
    month_of,
)
from fanout.core.monitors import subject_id
from fanout.core.uptime import day_of

Item = dict[str, Any]
PREFIX = "history#"


def history_key(monitor: str, subject: str, month: str) -> Item:
    return {"pk": {"S": f"monitor#{monitor}"}, "sk": {"S": f"{PREFIX}{subject_id(subject)}#{month}"}}


def _day_value(d: DailyAggregate) -> str:
    return json.dumps([d.checks, d.failures, d.maintenance_ms, d.p50_ms, d.p95_ms], separators=(",", ":"))


def _incident_value(i: Incident) -> str:
    cause = [i.outcome, i.status_code, list(i.checks_failed), i.error, list(i.regions)]
    return json.dumps(cause, separators=(",", ":"))


def month_item(monitor: str, record: MonthRecord) -> Item:
    """The item holding ``record`` whole (``item_month``'s inverse: for seeding a table)."""
    item = history_key(monitor, record.subject, record.month) | {
        "subject": {"S": record.subject},
        "expires_at": {"N": str(expires_at(record.month))},
    }
    for day, figures in record.days.items():
        item["d" + day[8:10]] = {"S": _day_value(figures)}
    for key, incident in record.incidents.items():
        item["i" + key] = {"S": _incident_value(incident)}
        if incident.end is not None:
            item["e" + key] = {"N": repr(incident.end)}
    if record.incidents:
        item["n"] = {"N": str(len(record.incidents))}
    if record.dropped_incidents:
        item["dropped"] = {"N": str(record.dropped_incidents)}
    return item


def item_month(item: Mapping[str, Any]) -> MonthRecord:
    """A month's record from its item (attributes it does not know are ignored)."""
    month = item["sk"]["S"].rsplit("#", 1)[1]
    days: dict[str, DailyAggregate] = {}
    incidents: dict[str, Incident] = {}
    for name, value in item.items():
        if name.startswith("d") and name[1:].isdigit():
            checks, failures, maintenance, p50, p95 = json.loads(value["S"])
            day = f"{month}-{name[1:]}"
            days[day] = DailyAggregate(day, int(checks), int(failures), int(maintenance), p50, p95)
        elif name.startswith("i") and name[1:].isdigit():
            outcome, status, checks, error, regions = json.loads(value["S"])
            end = item.get("e" + name[1:])
            incidents[name[1:]] = Incident(
                int(name[1:]) / 1000,
                None if end is None else float(end["N"]),
                outcome,
                status,
                tuple(checks),
                error,
                tuple(regions),
            )
    dropped = int(item.get("dropped", {}).get("N", 0))
    return MonthRecord(item["subject"]["S"], month, days, incidents, dropped)


class HistoryTable:
    """The long-history items of the monitors table."""

    def __init__(self, clients: AwsClients, table: str) -> None:
        self._clients = clients
        self.table = table

    async def _ddb(self) -> Any:
        return await self._clients.client("dynamodb")

    async def record(
        self, monitor: str, changes: Mapping[str, Archived], before: float, *, concurrency: int = 8
    ) -> int:
        """Write every subject's ``changes``; how many writes failed (each is tried once)."""
        calls = [
            c for subject, archived in changes.items() for c in self._updates(monitor, subject, archived)
        ]
        slots = asyncio.Semaphore(concurrency)

        async def one(update: dict[str, Any]) -> bool:
            async with slots:
                try:
                    await self._clients.call("monitor history", before, lambda: self._update(update))
                except Exception:
                    return False
                return True

        done = await asyncio.gather(*(one(u) for u in calls))
        return sum(not ok for ok in done)

    def _updates(self, monitor: str, subject: str, archived: Archived) -> list[dict[str, Any]]:
        """The ``UpdateItem`` calls of one subject: per month, one for its days and incident ends,
        and one per incident opened (conditional on the month's cap)."""
        plain: dict[str, dict[str, Any]] = {}
        for d in archived.days:
            plain.setdefault(month_of(d.day), {})["d" + d.day[8:10]] = {"S": _day_value(d)}
        for i in archived.closed:
            if i.end is not None:
                plain.setdefault(month_of(day_of(i.start)), {})["e" + i.key] = {"N": repr(i.end)}
        calls = [self._set(monitor, subject, month, values) for month, values in plain.items()]
        for i in archived.opened:
            month = month_of(day_of(i.start))
            call = self._set(monitor, subject, month, {"i" + i.key: {"S": _incident_value(i)}})
            call["UpdateExpression"] += " ADD #n :one"
            call["ExpressionAttributeNames"]["#n"] = "n"
            call["ExpressionAttributeValues"] |= {":one": {"N": "1"}, ":cap": {"N": str(INCIDENTS_PER_MONTH)}}
            call["ConditionExpression"] = (
                "attribute_not_exists(#v0) AND (attribute_not_exists(#n) OR #n < :cap)"
            )
            calls.append(call)
        return calls

    def _set(self, monitor: str, subject: str, month: str, values: Mapping[str, Any]) -> dict[str, Any]:
        names = {f"#v{k}": name for k, name in enumerate(values)}
        bound = {f":v{k}": value for k, value in enumerate(values.values())}
        sets = ", ".join(f"#v{k} = :v{k}" for k in range(len(values)))
        return {
            "TableName": self.table,
            "Key": history_key(monitor, subject, month),
            "UpdateExpression": f"SET {sets}, #subject = :subject, #exp = :exp",
            "ExpressionAttributeNames": names | {"#subject": "subject", "#exp": "expires_at"},
            "ExpressionAttributeValues": bound
            | {":subject": {"S": subject}, ":exp": {"N": str(expires_at(month))}},
        }

    async def _update(self, call: dict[str, Any]) -> None:
        ddb = await self._ddb()
        try:
            await ddb.update_item(**call)
        except Exception as exc:
            if error_type(exc) != "ConditionalCheckFailedException":
                raise
            if call["UpdateExpression"].endswith("ADD #n :one"):  # the month is full: count it
                names = {"#v0": call["ExpressionAttributeNames"]["#v0"], "#d": "dropped"}
                try:
                    await ddb.update_item(
                        TableName=call["TableName"],
                        Key=call["Key"],
                        UpdateExpression="ADD #d :one",
                        ConditionExpression="attribute_not_exists(#v0)",
                        ExpressionAttributeNames=names,
                        ExpressionAttributeValues={":one": {"N": "1"}},
                    )
                except Exception as again:
                    if error_type(again) != "ConditionalCheckFailedException":  # already there
                        raise

    async def months(self, monitor: str, before: float, *, subject: str | None = None) -> list[MonthRecord]:
        """The live month records of a monitor's URLs (of one, with ``subject``)."""
        prefix = PREFIX if subject is None else f"{PREFIX}{subject_id(subject)}#"
        now = time.time()

        async def query() -> list[MonthRecord]:
            ddb, found, start = await self._ddb(), [], None
            while True:
                kwargs: dict[str, Any] = {
                    "TableName": self.table,
                    "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
                    "ExpressionAttributeValues": {
                        ":pk": {"S": f"monitor#{monitor}"},
                        ":prefix": {"S": prefix},
                    },
                }
                if start is not None:
                    kwargs["ExclusiveStartKey"] = start
                response = await ddb.query(**kwargs)
                found += [
                    item_month(i) for i in response.get("Items", []) if float(i["expires_at"]["N"]) >= now
                ]
                start = response.get("LastEvaluatedKey")
                if start is None:
                    return found

        return await self._clients.call("monitor history", before, query)


def by_subject(records: Sequence[MonthRecord]) -> dict[str, list[MonthRecord]]:
    grouped: dict[str, list[MonthRecord]] = {}
    for record in records:
        grouped.setdefault(record.subject, []).append(record)
    return grouped
