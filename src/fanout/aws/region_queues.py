"""SQS between regions: the home region's reports queue, and this (probe) region's outbox.

A probe region's run makes one ``SendMessageBatch`` call to the home region's queue (its
report's parts and the outbox's waiting reports together), so a regional round costs one round
trip to the home region, whatever the number of URLs. What cannot reach home waits in the
outbox, a queue of this region: received (a bounded number, hidden for the rest of the run),
deleted once delivered, otherwise visible again for a later run. Every call here raises
``StoreError`` for any failure; the caller (``fanout.runs.region_probe``) decides what it means.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fanout.aws.session import AwsClients
from fanout.aws.shard_queue import SQS_MAX_BATCH_ENTRIES, batches


@dataclass(frozen=True, slots=True)
class Waiting:
    """A report kept in the outbox: its body, and the handle that deletes it."""

    body: str
    receipt: str


@dataclass(frozen=True, slots=True)
class BatchAnswer:
    """What the home queue took of one ``SendMessageBatch`` call: the entries' ids, and why the
    others were refused."""

    sent: frozenset[str]
    failed: Mapping[str, str]


class RegionQueues:
    """The home region's reports queue (a client for that region, at ``home_endpoint_url`` when
    given) and this region's outbox (this region's client)."""

    def __init__(
        self,
        clients: AwsClients,
        *,
        home_region: str,
        reports_url: str,
        outbox_url: str,
        home_endpoint_url: str = "",
    ) -> None:
        self._clients = clients
        self.home_region, self.reports_url, self.outbox_url = home_region, reports_url, outbox_url
        self._home_endpoint_url = home_endpoint_url

    async def _home(self) -> Any:
        region, endpoint = self.home_region, self._home_endpoint_url
        return await self._clients.client("sqs", region=region, endpoint_url=endpoint)

    async def send_home(self, entries: Mapping[str, str], before: float) -> BatchAnswer:
        """One ``SendMessageBatch`` call to the home queue (at most 10 entries: id -> body)."""
        if len(entries) > SQS_MAX_BATCH_ENTRIES:
            raise ValueError(f"{len(entries)} entries: one call takes {SQS_MAX_BATCH_ENTRIES}")

        async def send() -> dict[str, Any]:
            sqs = await self._home()
            batch = [{"Id": k, "MessageBody": v} for k, v in entries.items()]
            answer: dict[str, Any] = await sqs.send_message_batch(QueueUrl=self.reports_url, Entries=batch)
            return answer

        answer = await self._clients.call("home region's reports queue", before, send)
        failed = {f["Id"]: f"{f.get('Code')}: {f.get('Message')}" for f in answer.get("Failed") or ()}
        sent = frozenset(s["Id"] for s in answer.get("Successful") or ())
        return BatchAnswer(sent=sent, failed=failed)

    async def receive(self, limit: int, before: float) -> list[Waiting]:
        """Up to ``limit`` (<= 10) waiting reports, in one call, hidden until ``before`` is past
        (a report this run does not delete is seen again by a later run)."""
        if limit <= 0:
            return []
        hidden_s = max(1, math.ceil(before - asyncio.get_running_loop().time()) + 1)

        async def receive() -> dict[str, Any]:
            sqs = await self._clients.client("sqs")
            answer: dict[str, Any] = await sqs.receive_message(
                QueueUrl=self.outbox_url,
                MaxNumberOfMessages=min(limit, SQS_MAX_BATCH_ENTRIES),
                VisibilityTimeout=hidden_s,
                WaitTimeSeconds=0,
            )
            return answer

        answer = await self._clients.call("region outbox", before, receive)
        return [Waiting(m["Body"], m["ReceiptHandle"]) for m in answer.get("Messages") or ()]

    async def delete(self, receipts: Sequence[str], before: float) -> int:
        """Delete these outbox messages (delivered, or past the round bound); how many were not."""
        refused = 0
        for start in range(0, len(receipts), SQS_MAX_BATCH_ENTRIES):
            group = receipts[start : start + SQS_MAX_BATCH_ENTRIES]

            async def delete(group: Sequence[str] = group) -> dict[str, Any]:
                sqs = await self._clients.client("sqs")
                entries = [{"Id": str(i), "ReceiptHandle": r} for i, r in enumerate(group)]
                answer: dict[str, Any] = await sqs.delete_message_batch(
                    QueueUrl=self.outbox_url, Entries=entries
                )
                return answer

            answer = await self._clients.call("region outbox", before, delete)
            refused += len(answer.get("Failed") or ())
        return refused

    async def keep(self, bodies: Sequence[str], before: float) -> int:
        """Put these reports in the outbox (those the home region did not take); how many it took."""
        kept = 0
        for group in batches(bodies):

            async def send(group: list[str] = group) -> dict[str, Any]:
                sqs = await self._clients.client("sqs")
                entries = [{"Id": str(i), "MessageBody": b} for i, b in enumerate(group)]
                answer: dict[str, Any] = await sqs.send_message_batch(
                    QueueUrl=self.outbox_url, Entries=entries
                )
                return answer

            answer = await self._clients.call("region outbox", before, send)
            kept += len(answer.get("Successful") or ())
        return kept
