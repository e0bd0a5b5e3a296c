"""The values of secret references (``fanout.core.secret_refs``): Secrets Manager's secrets and
SSM's parameters, read with the invocation's aioboto3 clients and kept for ``CACHE_S``.

Not Powertools' parameters utility: its providers are boto3's, synchronous, so each read would
block the loop (or hold a thread that the run's deadline cannot cancel), and they would not share
the clients' endpoint, timeouts and c-ares resolver. Here every read is one bounded call on the
loop (``AwsClients.call``), the reads of a run go concurrently, and a process keeps what it read
for a bounded time, as Powertools' ``max_age`` would. A failed read is not kept: the next run
tries again. The values never leave this module but in the entries the fetcher sends.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Iterable

from fanout.aws.session import AwsClients
from fanout.core.secret_refs import Reference, Unresolved
from fanout.errors import StoreError


class _NoSecretBodies(logging.Filter):
    """botocore logs every response body at DEBUG (a deployment's ``LogLevel=DEBUG`` turns it on
    in Lambda): those of Secrets Manager and SSM reads are dropped, never written."""

    MARKERS = (b'"SecretString"', b'"SecretBinary"', b'"Parameter"', b'"Parameters"')

    def filter(self, record: logging.LogRecord) -> bool:
        if not str(record.msg).startswith("Response body") or not record.args:
            return True
        args = record.args if isinstance(record.args, tuple) else (record.args,)
        body = args[0]
        text = body if isinstance(body, bytes) else str(body).encode()
        return not any(marker in text for marker in self.MARKERS)


_BODIES = logging.getLogger("botocore.parsers")  # aiobotocore's parsers log through it too
if not any(isinstance(f, _NoSecretBodies) for f in _BODIES.filters):
    _BODIES.addFilter(_NoSecretBodies())

CACHE_S = 300.0
MAX_CACHED = 256
_cache: dict[tuple[str, str], tuple[float, str]] = {}  # (store, name) -> (read at, raw value)


def forget() -> None:
    """Empty the cache (a test's, or a rotated secret's)."""
    _cache.clear()


def _cached(store: str, name: str) -> str | None:
    kept = _cache.get((store, name))
    if kept is None or time.monotonic() - kept[0] > CACHE_S:
        return None
    return kept[1]


def _keep(store: str, name: str, raw: str) -> None:
    if len(_cache) >= MAX_CACHED:
        del _cache[min(_cache, key=lambda k: _cache[k][0])]
    _cache[(store, name)] = (time.monotonic(), raw)


async def _read(clients: AwsClients, store: str, name: str, before: float) -> str:
    """The secret's string, or the parameter's (decrypted) value."""
    if (raw := _cached(store, name)) is not None:
        return raw
    if store == "ssm":
        ssm = await clients.client("ssm")
        answer = await clients.call(
            f"ssm {name}", before, lambda: ssm.get_parameter(Name=name, WithDecryption=True)
        )
        raw = str(answer["Parameter"]["Value"])
    else:
        manager = await clients.client("secretsmanager")
        answer = await clients.call(
            f"secretsmanager {name}", before, lambda: manager.get_secret_value(SecretId=name)
        )
        if "SecretString" not in answer:
            raise Unresolved("a binary secret cannot be referenced")
        raw = str(answer["SecretString"])
    _keep(store, name, raw)
    return raw


def _value(reference: Reference, raw: str) -> str:
    if reference.key is None:
        return raw
    try:
        document = json.loads(raw)
    except ValueError:
        raise Unresolved("the secret is not a JSON object (it has a #key)") from None
    value = document.get(reference.key) if isinstance(document, dict) else None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise Unresolved(f"the secret has no string or number under {reference.key!r}")
    return str(value)


async def _raw(clients: AwsClients, store: str, name: str, before: float) -> str | Unresolved:
    try:
        return await _read(clients, store, name, before)
    except StoreError as exc:
        return Unresolved(f"cannot be read ({exc.error_type})")
    except Unresolved as exc:
        return exc


def _of(reference: Reference, raw: str | Unresolved) -> str | Unresolved:
    try:
        if isinstance(raw, Unresolved):
            raise raw
        return _value(reference, raw)
    except Unresolved as exc:
        return Unresolved(f"{reference}: {exc}")


async def resolve(
    references: Iterable[Reference], clients: AwsClients, *, before: float
) -> dict[Reference, str | Unresolved]:
    """Each reference's value, or why it has none: each secret or parameter read once, the reads
    concurrent, each before ``before``."""
    wanted = list(references)
    names = sorted({(r.store, r.name) for r in wanted})
    async with asyncio.TaskGroup() as group:
        reads = {n: group.create_task(_raw(clients, n[0], n[1], before)) for n in names}
    return {r: _of(r, reads[(r.store, r.name)].result()) for r in wanted}
