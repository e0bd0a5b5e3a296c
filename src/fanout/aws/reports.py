"""S3: run reports (gzip JSON), shard outcomes beside them, presigned links, target lists.

- A run's report is at ``reports/YYYY/MM/DD/<run_id>.json.gz`` (the date is the run's
  ``started_at``, UTC); the bucket's lifecycle rule expires ``reports/`` after
  ``RunRetentionDays``. A sharded run's shard outcomes are under
  ``reports/YYYY/MM/DD/<run_id>/shards/``: the same rule, the same least-privilege policy.
- Payloads are JSON objects here: the orchestration turns typed documents into them.
"""

from __future__ import annotations

import gzip
from collections.abc import Mapping
from typing import Any

import msgspec

from fanout.aws.session import AwsClients
from fanout.core import model
from fanout.core.model import Document

REPORT_PREFIX = "reports/"
SHARDS_DIR = "shards"


def report_key(run_id: str, started_at: str) -> str:
    """``reports/YYYY/MM/DD/<run_id>.json.gz``, dated by the run's UTC start."""
    day = started_at[:10]  # "YYYY-MM-DD" of an ISO 8601 UTC timestamp
    return f"{REPORT_PREFIX}{day[0:4]}/{day[5:7]}/{day[8:10]}/{run_id}.json.gz"


def shard_key(run_id: str, started_at: str, shard: str) -> str:
    """``reports/YYYY/MM/DD/<run_id>/shards/<shard>.json.gz``: next to the run's report."""
    return f"{report_key(run_id, started_at).removesuffix('.json.gz')}/{SHARDS_DIR}/{shard}.json.gz"


def encode(payload: Document | Mapping[str, Any]) -> bytes:
    """A document (or plain data holding documents) as gzipped compact JSON."""
    return gzip.compress(model.encode(payload), compresslevel=6)


def decode(body: bytes) -> dict[str, Any]:
    if body[:2] == b"\x1f\x8b":
        body = gzip.decompress(body)
    payload: dict[str, Any] = msgspec.json.decode(body)
    return payload


class Reports:
    """The reports bucket."""

    def __init__(self, clients: AwsClients, bucket: str) -> None:
        self._clients = clients
        self.bucket = bucket

    async def _read(self, key: str, *, missing_ok: bool) -> bytes | None:
        s3 = await self._clients.client("s3")
        try:
            response = await s3.get_object(Bucket=self.bucket, Key=key)
        except s3.exceptions.NoSuchKey:
            if missing_ok:
                return None
            raise
        async with response["Body"] as stream:
            data: bytes = await stream.read()
        return data

    async def put(self, key: str, payload: Document | Mapping[str, Any], before: float) -> None:
        body = encode(payload)

        async def put() -> None:
            s3 = await self._clients.client("s3")
            await s3.put_object(
                Bucket=self.bucket, Key=key, Body=body, ContentType="application/json", ContentEncoding="gzip"
            )

        await self._clients.call("report", before, put)

    async def get(self, key: str, before: float) -> dict[str, Any]:
        body = await self._clients.call("report", before, lambda: self._read(key, missing_ok=False))
        assert body is not None
        return decode(body)

    async def find(self, key: str, before: float) -> dict[str, Any] | None:
        """The object at ``key``, or None when there is none."""
        body = await self._clients.call(key, before, lambda: self._read(key, missing_ok=True))
        return None if body is None else decode(body)

    async def put_once(self, key: str, payload: Document | Mapping[str, Any], before: float) -> bool:
        """Store ``payload`` at ``key`` unless an object is there already (S3 conditional write,
        ``If-None-Match: *``): True when this call stored it, False when another had."""
        body = encode(payload)

        async def put() -> bool:
            from botocore.exceptions import ClientError

            s3 = await self._clients.client("s3")
            try:
                await s3.put_object(
                    Bucket=self.bucket,
                    Key=key,
                    Body=body,
                    ContentType="application/json",
                    ContentEncoding="gzip",
                    IfNoneMatch="*",
                )
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") == "PreconditionFailed":
                    return False
                raise
            return True

        return await self._clients.call(key, before, put)

    async def presign(self, key: str, expires_s: int, before: float) -> str:
        async def sign() -> str:
            s3 = await self._clients.client("s3")
            url: str = await s3.generate_presigned_url(
                "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=expires_s
            )
            return url

        return await self._clients.call("presigned URL", before, sign)


async def read_object(clients: AwsClients, bucket: str, key: str, *, max_bytes: int, before: float) -> bytes:
    """The bytes of ``s3://bucket/key`` (a target list), refused above ``max_bytes``."""

    async def read() -> bytes:
        s3 = await clients.client("s3")
        response = await s3.get_object(Bucket=bucket, Key=key)
        async with response["Body"] as stream:
            if int(response.get("ContentLength") or 0) > max_bytes:
                raise ValueError(f"the object is larger than {max_bytes} bytes")
            data: bytes = await stream.read()
        return data

    return await clients.call(f"s3://{bucket}/{key}", before, read)
