"""The status page's AWS side: the render claim (one item of the monitors table) and the site's
bucket (S3, served by CloudFront; docs/status-page.md).

The claim is a conditional ``PutItem`` on ``pk "status-page"``, ``sk "render"``: a run may render
when the last claim is older than its interval, and its write is what tells the others; two
overlapping runs cannot both win. Publishing uploads only the files whose content changed since
the last render (their hashes are kept in ``site-manifest.json``, written last), HTML and JSON
with a short cache lifetime so CloudFront serves the new figures within a minute.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from fanout.aws.session import AwsClients, error_type

CLAIM_KEY = {"pk": {"S": "status-page"}, "sk": {"S": "render"}}
MANIFEST = "site-manifest.json"
CACHE_CONTROL = {"html": "max-age=60", "json": "max-age=60", "svg": "max-age=300", "css": "max-age=3600"}


async def claim_render(clients: AwsClients, table: str, now: float, interval_s: float, before: float) -> bool:
    """Claim the next render: True when this run won it (no render within ``interval_s``)."""

    async def put() -> bool:
        ddb = await clients.client("dynamodb")
        try:
            await ddb.put_item(
                TableName=table,
                Item=CLAIM_KEY
                | {"claimed_at": {"N": repr(now)}, "expires_at": {"N": str(int(now) + 86_400)}},
                ConditionExpression="attribute_not_exists(pk) OR claimed_at <= :cutoff",
                ExpressionAttributeValues={":cutoff": {"N": repr(now - interval_s)}},
            )
        except Exception as exc:
            if error_type(exc) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    return await clients.call("status page claim", before, put)


class SiteBucket:
    """The bucket the status page is served from."""

    def __init__(self, clients: AwsClients, bucket: str) -> None:
        self._clients = clients
        self.bucket = bucket

    async def _manifest(self) -> dict[str, str]:
        s3 = await self._clients.client("s3")
        try:
            response = await s3.get_object(Bucket=self.bucket, Key=MANIFEST)
            body = await response["Body"].read()
        except Exception as exc:
            if error_type(exc) in ("NoSuchKey", "404", "AccessDenied"):
                return {}
            raise
        found: dict[str, str] = json.loads(body)
        return found

    async def publish(
        self, files: Mapping[str, bytes], content_type: Any, before: float, *, concurrency: int = 16
    ) -> int:
        """Upload the files that changed since the last render, then the manifest; how many went up."""
        hashes = {path: hashlib.sha256(body).hexdigest()[:32] for path, body in files.items()}

        async def run() -> int:
            known = await self._manifest()
            changed = [p for p, h in hashes.items() if known.get(p) != h]
            s3, slots = await self._clients.client("s3"), asyncio.Semaphore(concurrency)

            async def put(path: str) -> None:
                async with slots:
                    await s3.put_object(
                        Bucket=self.bucket,
                        Key=path,
                        Body=files[path],
                        ContentType=content_type(path),
                        CacheControl=CACHE_CONTROL[path.rsplit(".", 1)[1]],
                    )

            async with asyncio.TaskGroup() as group:
                for path in changed:
                    group.create_task(put(path))
            body = json.dumps(hashes, separators=(",", ":")).encode()
            await s3.put_object(
                Bucket=self.bucket,
                Key=MANIFEST,
                Body=body,
                ContentType="application/json",
                CacheControl="no-store",
            )
            return len(changed)

        return await self._clients.call("status page upload", before, run)
