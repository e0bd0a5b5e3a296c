"""Where runs outlive the invocation: reports in S3, run records in DynamoDB (aioboto3).

- **Report**: the full result document, gzip JSON, at
  ``s3://$REPORTS_BUCKET_NAME/reports/YYYY/MM/DD/<run_id>.json.gz`` (the date is the
  run's ``started_at``, UTC). The bucket's lifecycle rule expires ``reports/`` after
  ``RunRetentionDays``.
- **Record**: one DynamoDB item per run in ``$RUNS_TABLE_NAME``: the document without
  its results, plus ``finished_at``, the report's location and ``expires_at`` (the
  table's TTL attribute, epoch seconds). Key: ``run_id``. Recent runs are a Query on
  the GSI ``by-started-at`` (partition ``kind = "run"``, sort ``started_at``), newest
  first: never a Scan.

An empty bucket or table name turns that store off; the document says so in its
``persisted`` section, as it says when a store failed or ran out of time.

The clients are created inside the running event loop (they hold aiohttp sessions
bound to it) and closed when the ``Stores`` context exits, so nothing outlives the
invocation. ``aioboto3`` is imported on first use only: a run with every store off
never pays for it. Botocore's data loader (the parsed service models, pure data) is
kept for the process, so a warm invocation makes its clients in ~10 ms.

Every call is bounded twice: by botocore (connect/read timeouts, standard retry mode,
``store_max_attempts``) and by ``asyncio.timeout_at`` at the slice of the deadline
the caller gives it. A store that fails or hangs costs at most that slice.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import gzip
import json
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Literal

from aws_lambda_powertools.metrics import MetricUnit

from fanout.config import Settings
from fanout.dns import AresResolver, ConnectorResolver
from fanout.observe import logger, metrics

REPORT_PREFIX = "reports/"
RUNS_INDEX = "by-started-at"
RUN_KIND = "run"
TTL_ATTRIBUTE = "expires_at"
_RECORD_DROPS = ("results", "results_omitted", "persisted", "replayed")

StoreStatus = Literal["off", "stored", "failed", "timed_out"]

_loader: Any = None  # botocore's data loader: parsed service models, reused by every session


@dataclass(frozen=True, slots=True)
class StoreConfig:
    """Which stores are on, and how their clients behave (from ``Settings``)."""

    reports_bucket: str = ""
    runs_table: str = ""
    connect_timeout_s: float = 0.5
    read_timeout_s: float = 1.0
    max_attempts: int = 3
    retention_days: int = 30
    report_url_expires_s: int = 3_600

    @classmethod
    def from_settings(cls, settings: Settings) -> StoreConfig:
        return cls(
            reports_bucket=settings.reports_bucket_name,
            runs_table=settings.runs_table_name,
            connect_timeout_s=settings.store_connect_timeout_s,
            read_timeout_s=settings.store_read_timeout_s,
            max_attempts=settings.store_max_attempts,
            retention_days=settings.run_retention_days,
            report_url_expires_s=settings.report_url_expires_s,
        )

    @property
    def reports_on(self) -> bool:
        return bool(self.reports_bucket)

    @property
    def runs_on(self) -> bool:
        return bool(self.runs_table)

    @property
    def any_on(self) -> bool:
        return self.reports_on or self.runs_on


class StoreError(Exception):
    """A store call failed or ran out of its slice; ``timed_out`` tells which."""

    def __init__(self, message: str, *, error_type: str, timed_out: bool = False) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.timed_out = timed_out


def report_key(run_id: str, started_at: str) -> str:
    """``reports/YYYY/MM/DD/<run_id>.json.gz``, dated by the run's UTC start."""
    day = started_at[:10]  # "YYYY-MM-DD" of an ISO 8601 UTC timestamp
    return f"{REPORT_PREFIX}{day[0:4]}/{day[5:7]}/{day[8:10]}/{run_id}.json.gz"


def encode_report(document: dict[str, Any]) -> bytes:
    return gzip.compress(json.dumps(document, separators=(",", ":")).encode(), compresslevel=6)


def decode_report(body: bytes) -> dict[str, Any]:
    if body[:2] == b"\x1f\x8b":
        body = gzip.decompress(body)
    document: dict[str, Any] = json.loads(body)
    return document


# -- large answers ---------------------------------------------------------------------


def answer_size(document: dict[str, Any]) -> int:
    """Bytes of ``document`` as JSON once more escaped as an API Gateway response ``body``.

    The larger of the two ways it travels (a direct invoke returns it as plain JSON), so
    one threshold protects both from Lambda's 6 MB response cap.
    """
    body = json.dumps(document)
    return len(body) + body.count('"') + body.count("\\")


def fit_answer(
    document: dict[str, Any],
    *,
    limit_bytes: int,
    report_url: str | None,
    url_expires_s: int | None = None,
    size: int | None = None,
) -> dict[str, Any]:
    """``document`` if it fits in ``limit_bytes``; else the summary and a pointer, or cut results.

    With ``report_url`` (the report is stored) the results are replaced by the URL;
    without it, the first results that fit are kept. Either way ``results_omitted``
    says what is missing and why.
    """
    size = answer_size(document) if size is None else size
    if size <= limit_bytes:
        return document
    results: list[Any] = document.get("results") or []
    base = {k: v for k, v in document.items() if k not in ("results", "results_omitted")}
    omitted: dict[str, Any] = {
        "reason": "answer_too_large",
        "answer_bytes": size,
        "limit_bytes": limit_bytes,
        "kept": 0,
        "omitted": len(results),
        "report_url": report_url,
        "report_url_expires_in_s": url_expires_s if report_url else None,
    }
    if report_url is not None:
        return {**base, "results_omitted": omitted, "results": []}
    room = limit_bytes - answer_size({**base, "results_omitted": omitted, "results": []}) - 64
    kept = 0
    for result in results:
        room -= answer_size(result) + 2
        if room < 0:
            break
        kept += 1
    omitted |= {"kept": kept, "omitted": len(results) - kept}
    return {**base, "results_omitted": omitted, "results": results[:kept]}


# -- DynamoDB items, by hand (no Decimal round trips) --------------------------------


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


def from_attr(attr: dict[str, Any]) -> Any:
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
    return value  # S, BOOL


def run_record(
    document: dict[str, Any], *, finished_at: str, report: dict[str, str] | None
) -> dict[str, Any]:
    """The record of a run: its document without the results, and where the report is."""
    record = {k: v for k, v in document.items() if k not in _RECORD_DROPS}
    record["finished_at"] = finished_at
    record["report"] = report
    return record


def public_record(item: dict[str, Any]) -> dict[str, Any]:
    """A stored item as the API shows it (``expires_at`` as ISO 8601)."""
    record = {k: from_attr(v) for k, v in item.items() if k != "kind"}
    expires = record.get(TTL_ATTRIBUTE)
    if isinstance(expires, int | float):
        record[TTL_ATTRIBUTE] = datetime.fromtimestamp(expires, UTC).isoformat().replace("+00:00", "Z")
    return record


def _expired(item: dict[str, Any], now: float) -> bool:
    """DynamoDB deletes expired items lazily (within days): hide them meanwhile."""
    expires = from_attr(item.get(TTL_ATTRIBUTE, {"NULL": True}))
    return isinstance(expires, int | float) and expires < now


def encode_cursor(last_key: dict[str, Any]) -> str:
    plain = {"run_id": last_key["run_id"]["S"], "started_at": last_key["started_at"]["S"]}
    return base64.urlsafe_b64encode(json.dumps(plain, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> dict[str, Any] | None:
    """The ``ExclusiveStartKey`` a cursor stands for, or None if it is not one of ours."""
    try:
        plain = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error):
        return None
    if not (
        isinstance(plain, dict)
        and set(plain) == {"run_id", "started_at"}
        and all(isinstance(v, str) and v for v in plain.values())
    ):
        return None
    return {
        "run_id": {"S": plain["run_id"]},
        "started_at": {"S": plain["started_at"]},
        "kind": {"S": RUN_KIND},
    }


# -- the stores ------------------------------------------------------------------------


def _new_session() -> Any:
    """An aioboto3 session per invocation (credentials may be loop-bound), sharing the loader."""
    global _loader
    import aioboto3
    from aiobotocore.session import AioSession

    core = AioSession()
    if _loader is None:
        _loader = core.get_component("data_loader")
    else:
        core.register_component("data_loader", _loader)
    return aioboto3.Session(botocore_session=core)


def preload() -> None:
    """Import aioboto3 and parse the S3, DynamoDB and SQS models now, creating no client.

    For an init that is paid once (SnapStart's before-snapshot hook): the first run's
    clients are then made in milliseconds. Nothing here holds a loop or a connection.
    """
    _new_session()
    for service in ("s3", "dynamodb", "sqs"):
        for kind in ("service-2", "endpoint-rule-set-1"):
            _loader.load_service_model(service, kind)


class Stores:
    """S3, DynamoDB (and SQS) clients for one invocation; use as ``async with Stores(config)``."""

    def __init__(self, config: StoreConfig) -> None:
        self.config = config
        self._stack = AsyncExitStack()
        self._session: Any = None
        self._dns: AresResolver | None = None
        self._clients: dict[str, Any] = {}

    async def __aenter__(self) -> Stores:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._stack.aclose()

    async def client(self, service: Literal["s3", "dynamodb", "sqs"]) -> Any:
        """The service's client, created in this loop on first use.

        Endpoint names are resolved by c-ares on this loop (``fanout.dns``), never by
        aiohttp's threaded ``getaddrinfo``: a store whose name does not resolve costs at most
        the call's slice, and nothing is left running when the ``Stores`` context exits.
        """
        if service not in self._clients:
            from aiobotocore.config import AioConfig
            from botocore.config import Config

            c = self.config
            if self._session is None:
                self._session = _new_session()
                self._dns = AresResolver(budget_s=c.connect_timeout_s + c.read_timeout_s)
                self._stack.push_async_callback(self._dns.aclose)  # closed after every client
            assert self._dns is not None
            config = AioConfig(
                connector_args={"resolver": ConnectorResolver(self._dns)},
                connect_timeout=c.connect_timeout_s,
                read_timeout=c.read_timeout_s,
                retries={"mode": "standard", "total_max_attempts": c.max_attempts},
            )
            if service == "s3":  # presigned URLs in SigV4 (up to 7 days), not legacy SigV2
                config = config.merge(Config(signature_version="s3v4"))
            self._clients[service] = await self._stack.enter_async_context(
                self._session.client(service, config=config)
            )
        return self._clients[service]

    async def open(self, *, s3: bool, dynamodb: bool, before: float) -> None:
        """Make the clients the run will need now, before the fan-out, not in the persist slice.

        Making a client does not touch the network; a failure here is logged, and the
        store's own call fails later, within its slice.
        """
        services: tuple[tuple[Literal["s3", "dynamodb"], bool], ...] = (("s3", s3), ("dynamodb", dynamodb))
        for service, wanted in services:
            if not wanted:
                continue
            try:
                async with asyncio.timeout_at(before):
                    await self.client(service)
            except Exception as exc:
                logger.warning("store client not created", extra={"service": service, "error": repr(exc)})

    # -- calls, each bounded by a deadline on the loop's clock -------------------------

    async def call(self, what: str, before: float, make: Callable[[], Awaitable[Any]]) -> Any:
        """``await make()`` before ``before``; any failure becomes a ``StoreError``."""
        try:
            async with asyncio.timeout_at(before) as scope:
                return await make()
        except TimeoutError:
            if scope.expired():
                raise StoreError(
                    f"{what}: no answer within its time slice", error_type="Timeout", timed_out=True
                ) from None
            raise StoreError(f"{what}: timed out", error_type="TimeoutError") from None
        except Exception as exc:
            raise StoreError(f"{what}: {exc}", error_type=_error_type(exc)) from exc

    async def read_object(self, bucket: str, key: str, *, max_bytes: int, before: float) -> bytes:
        async def read() -> bytes:
            s3 = await self.client("s3")
            response = await s3.get_object(Bucket=bucket, Key=key)
            async with response["Body"] as stream:
                if int(response.get("ContentLength") or 0) > max_bytes:
                    raise ValueError(f"the object is larger than {max_bytes} bytes")
                data: bytes = await stream.read()
            return data

        result: bytes = await self.call(f"s3://{bucket}/{key}", before, read)
        return result

    async def put_report(self, key: str, body: bytes, before: float) -> None:
        async def put() -> None:
            s3 = await self.client("s3")
            await s3.put_object(
                Bucket=self.config.reports_bucket,
                Key=key,
                Body=body,
                ContentType="application/json",
                ContentEncoding="gzip",
            )

        await self.call("report", before, put)

    async def put_record(self, record: dict[str, Any], before: float) -> None:
        expires_at = int(time.time()) + self.config.retention_days * 86_400
        item = {k: to_attr(v) for k, v in record.items()}
        item |= {"kind": {"S": RUN_KIND}, TTL_ATTRIBUTE: {"N": str(expires_at)}}

        async def put() -> None:
            ddb = await self.client("dynamodb")
            await ddb.put_item(TableName=self.config.runs_table, Item=item)

        await self.call("run record", before, put)

    async def presign(self, key: str, before: float) -> str:
        async def sign() -> str:
            s3 = await self.client("s3")
            url: str = await s3.generate_presigned_url(
                "get_object",
                Params={"Bucket": self.config.reports_bucket, "Key": key},
                ExpiresIn=self.config.report_url_expires_s,
            )
            return url

        url: str = await self.call("presigned URL", before, sign)
        return url

    async def get_record(self, run_id: str, before: float) -> dict[str, Any] | None:
        async def get() -> dict[str, Any] | None:
            ddb = await self.client("dynamodb")
            response = await ddb.get_item(TableName=self.config.runs_table, Key={"run_id": {"S": run_id}})
            item: dict[str, Any] | None = response.get("Item")
            return item

        item = await self.call("run record", before, get)
        if item is None or _expired(item, time.time()):
            return None
        return public_record(item)

    async def get_report(self, key: str, before: float) -> dict[str, Any]:
        async def get() -> bytes:
            s3 = await self.client("s3")
            response = await s3.get_object(Bucket=self.config.reports_bucket, Key=key)
            async with response["Body"] as stream:
                data: bytes = await stream.read()
            return data

        body: bytes = await self.call("report", before, get)
        return decode_report(body)

    async def find_report(self, key: str, before: float) -> dict[str, Any] | None:
        """The gzip JSON object at ``key`` in the reports bucket, or None when there is none."""

        async def get() -> bytes | None:
            s3 = await self.client("s3")
            try:
                response = await s3.get_object(Bucket=self.config.reports_bucket, Key=key)
            except s3.exceptions.NoSuchKey:
                return None
            async with response["Body"] as stream:
                data: bytes = await stream.read()
            return data

        body: bytes | None = await self.call(key, before, get)
        return None if body is None else decode_report(body)

    async def put_report_once(self, key: str, document: dict[str, Any], before: float) -> bool:
        """Store ``document`` at ``key`` unless an object is there already (S3 conditional write,
        ``If-None-Match: *``): True when this call stored it, False when another had."""

        async def put() -> bool:
            from botocore.exceptions import ClientError

            s3 = await self.client("s3")
            try:
                await s3.put_object(
                    Bucket=self.config.reports_bucket,
                    Key=key,
                    Body=encode_report(document),
                    ContentType="application/json",
                    ContentEncoding="gzip",
                    IfNoneMatch="*",
                )
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") == "PreconditionFailed":
                    return False
                raise
            return True

        stored: bool = await self.call(key, before, put)
        return stored

    async def list_records(
        self, limit: int, start: dict[str, Any] | None, before: float
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Up to ``limit`` runs, newest first, and the cursor of the next page (if any)."""

        async def query() -> dict[str, Any]:
            ddb = await self.client("dynamodb")
            kwargs: dict[str, Any] = {
                "TableName": self.config.runs_table,
                "IndexName": RUNS_INDEX,
                "KeyConditionExpression": "#kind = :kind",
                "ExpressionAttributeNames": {"#kind": "kind"},
                "ExpressionAttributeValues": {":kind": {"S": RUN_KIND}},
                "ScanIndexForward": False,
                "Limit": limit,
            }
            if start is not None:
                kwargs["ExclusiveStartKey"] = start
            response: dict[str, Any] = await ddb.query(**kwargs)
            return response

        response = await self.call("run records", before, query)
        now = time.time()
        records = [public_record(item) for item in response.get("Items", []) if not _expired(item, now)]
        last = response.get("LastEvaluatedKey")
        return records, encode_cursor(last) if last else None

    # -- a run's persistence -----------------------------------------------------------

    async def persist(self, document: dict[str, Any], *, finished_at: str, before: float) -> dict[str, Any]:
        """Store the report and the record concurrently, before ``before``.

        Never raises (but for cancellation): the answer is the ``persisted`` section.
        """
        c = self.config
        key = report_key(document["run_id"], document["started_at"]) if c.reports_on else None
        location = {"bucket": c.reports_bucket, "key": key} if key else None
        outcomes: dict[str, dict[str, Any]] = {"report": {"status": "off"}, "record": {"status": "off"}}

        async def attempt(name: str, call: Callable[[], Awaitable[None]]) -> None:
            try:
                await call()
            except Exception as exc:  # never lose the run's answer to its persistence
                failure = (
                    exc if isinstance(exc, StoreError) else StoreError(str(exc), error_type=_error_type(exc))
                )
                status: StoreStatus = "timed_out" if failure.timed_out else "failed"
                outcomes[name] = {
                    "status": status,
                    "error": {"type": failure.error_type, "message": str(exc)},
                }
                logger.warning(
                    "run not persisted",
                    extra={"run_id": document["run_id"], "store": name, "status": status, "error": str(exc)},
                )
                metrics.add_metric(name=f"{name}_store_failures", unit=MetricUnit.Count, value=1)
            else:
                outcomes[name] = {"status": "stored"}

        started = time.monotonic()
        async with asyncio.TaskGroup() as group:
            if key is not None:
                group.create_task(
                    attempt("report", lambda: self.put_report(key, encode_report(document), before))
                )
            if c.runs_on:
                record = run_record(document, finished_at=finished_at, report=location)
                group.create_task(attempt("record", lambda: self.put_record(record, before)))
        if c.any_on:
            metrics.add_metric(
                name="persist_duration",
                unit=MetricUnit.Milliseconds,
                value=(time.monotonic() - started) * 1000,
            )
        if location is not None:
            outcomes["report"] |= location
        if c.runs_on:
            outcomes["record"]["table"] = c.runs_table
        stored = all(outcomes[name]["status"] == "stored" for name in ("report", "record"))
        return {"stored": stored, **outcomes}


def _error_type(exc: BaseException) -> str:
    code = getattr(exc, "response", {}).get("Error", {}).get("Code") if hasattr(exc, "response") else None
    return str(code) if code else type(exc).__name__
