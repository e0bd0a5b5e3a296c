"""The status page's AWS side: the render claim (one item of the monitors table) and the site's
bucket (S3, served by CloudFront; docs/status-page.md).

The claim is a conditional ``PutItem`` on ``pk "status-page"``, ``sk "render"``: a run may render
when the last claim is older than its interval, and its write is what tells the others; two
overlapping runs cannot both win. Publishing uploads only the files whose content changed since
the last render (their hashes are kept in ``site-manifest.json``, written last), HTML and JSON
with a short cache lifetime so CloudFront serves the new figures within a minute. An upload that
runs out of time keeps what went up in the manifest: the next render uploads the rest.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

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


@dataclass(frozen=True, slots=True)
class Manifest:
    """What the bucket holds: each file's hash, and each monitor's ``last_run_at`` when its files
    were last rendered and all uploaded."""

    files: dict[str, str] = field(default_factory=dict)
    rendered: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, body: bytes) -> Manifest:
        found = json.loads(body)
        if "files" not in found:  # written by the version before "rendered": hashes only
            return cls(dict(found), {})
        return cls(dict(found["files"]), dict(found["rendered"]))

    def to_bytes(self) -> bytes:
        return json.dumps({"files": self.files, "rendered": self.rendered}, separators=(",", ":")).encode()


def upload_order(path: str) -> tuple[int, str]:
    """Monitors' pages and JSON first, then the index (which links to them), badges last: an
    upload cut short leaves the most looked-at files newest."""
    rank = 0 if path.startswith("monitors/") else 2 if path.startswith("badges/") else 1
    return rank, path


class SiteBucket:
    """The bucket the status page is served from."""

    def __init__(self, clients: AwsClients, bucket: str) -> None:
        self._clients = clients
        self.bucket = bucket

    async def _get(self, key: str) -> bytes | None:
        s3 = await self._clients.client("s3")
        try:
            response = await s3.get_object(Bucket=self.bucket, Key=key)
            body: bytes = await response["Body"].read()
        except Exception as exc:
            if error_type(exc) in ("NoSuchKey", "404", "AccessDenied"):
                return None
            raise
        return body

    async def manifest(self, before: float) -> Manifest:
        body = await self._clients.call("status page manifest", before, lambda: self._get(MANIFEST))
        return Manifest() if body is None else Manifest.of(body)

    async def monitor_documents(
        self, names: Sequence[str], before: float, *, concurrency: int = 16
    ) -> dict[str, bytes]:
        """Each monitor's ``monitors/<name>.json`` as the last render left it (those missing left out)."""
        slots = asyncio.Semaphore(concurrency)

        async def one(name: str) -> tuple[str, bytes | None]:
            async with slots:
                return name, await self._get(f"monitors/{name}.json")

        async def run() -> dict[str, bytes]:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(one(n)) for n in names]
            return {name: body for name, body in (t.result() for t in tasks) if body is not None}

        return await self._clients.call("status page read", before, run)

    async def publish(
        self,
        files: Mapping[str, bytes],
        content_type: Callable[[str], str],
        known: Manifest,
        rendered: Mapping[str, str],
        *,
        upload_by: float,
        before: float,
        concurrency: int = 16,
    ) -> tuple[int, int]:
        """Upload the files that changed since ``known`` until ``upload_by``, then the manifest of
        what the bucket now holds (by ``before``): a monitor of ``rendered`` (its ``last_run_at``)
        counts as rendered once all its files are up. How many files went up, how many are left."""
        hashes = {path: hashlib.sha256(body).hexdigest()[:32] for path, body in files.items()}
        changed = sorted((p for p, h in hashes.items() if known.files.get(p) != h), key=upload_order)
        done: set[str] = set()

        async def run() -> Manifest:
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
                done.add(path)

            try:
                async with asyncio.timeout_at(upload_by) as scope, asyncio.TaskGroup() as group:
                    for path in changed:
                        group.create_task(put(path))
            except TimeoutError:
                if not scope.expired():
                    raise
            missing = {owner(p) for p in changed if p not in done}
            complete = {m: at for m, at in rendered.items() if m not in missing}
            held = Manifest(known.files | {p: hashes[p] for p in done}, known.rendered | complete)
            if held != known:
                await s3.put_object(
                    Bucket=self.bucket,
                    Key=MANIFEST,
                    Body=held.to_bytes(),
                    ContentType="application/json",
                    CacheControl="no-store",
                )
            return held

        await self._clients.call("status page upload", before, run)
        return len(done), len(changed) - len(done)


def owner(path: str) -> str | None:
    """The monitor a file belongs to (``monitors/<name>.*``, ``badges/<name>/...``), if any."""
    parts = path.split("/")
    if parts[0] == "monitors":
        return parts[1].rsplit(".", 1)[0]
    return parts[1] if parts[0] == "badges" else None
