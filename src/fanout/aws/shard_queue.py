"""SQS: the shard queue. Messages go in ``SendMessageBatch`` calls of at most 10 messages and
256 KiB; entries the queue refuses are sent again, a few times, then ``ShardsNotSent``."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from fanout.aws.session import AwsClients
from fanout.config import SQS_MAX_MESSAGE_BYTES
from fanout.errors import ShardsNotSent

SQS_MAX_BATCH_ENTRIES = 10
SEND_ATTEMPTS = 3


def batches(bodies: Sequence[str], *, max_bytes: int = SQS_MAX_MESSAGE_BYTES) -> list[list[str]]:
    """``SendMessageBatch`` calls: at most 10 messages and ``max_bytes`` in all per call."""
    calls: list[list[str]] = []
    size = 0
    for body in bodies:
        if not calls or len(calls[-1]) >= SQS_MAX_BATCH_ENTRIES or size + len(body) > max_bytes:
            calls.append([])
            size = 0
        calls[-1].append(body)
        size += len(body)
    return calls


class ShardQueue:
    def __init__(self, clients: AwsClients, url: str) -> None:
        self._clients = clients
        self.url = url

    async def send(self, bodies: Sequence[str], before: float) -> None:
        """Send every body, batched, before ``before``; ``ShardsNotSent`` when some are refused."""
        for group in batches(bodies):
            await self._send_batch(group, before)

    async def _send_batch(self, group: list[str], before: float) -> None:
        pending = {str(i): body for i, body in enumerate(group)}
        failed: list[dict[str, Any]] = []
        for attempt in range(SEND_ATTEMPTS):
            entries = [{"Id": k, "MessageBody": v} for k, v in pending.items()]

            async def send(entries: list[dict[str, str]] = entries) -> dict[str, Any]:
                sqs = await self._clients.client("sqs")
                response: dict[str, Any] = await sqs.send_message_batch(QueueUrl=self.url, Entries=entries)
                return response

            response = await self._clients.call("shard queue", before, send)
            failed = response.get("Failed") or []
            pending = {f["Id"]: pending[f["Id"]] for f in failed}
            if not pending:
                return
            if attempt + 1 < SEND_ATTEMPTS:
                await asyncio.sleep(0.1 * 2**attempt)
        reasons = sorted({f"{f.get('Code')}: {f.get('Message')}" for f in failed})
        raise ShardsNotSent(f"{len(pending)} shard message(s) refused by the queue: {'; '.join(reasons)}")
