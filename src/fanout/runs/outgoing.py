"""The entries as they are sent: ``options.headers`` merged under each entry's own,
``options.sign`` given to each entry without its own, and secret references (in headers, bodies
and signing secrets) replaced by their values (docs/contract.md).

The request keeps its references: its document, report, record, shard messages and logs say
what was written. What is made here goes to the fetcher only. An entry whose reference has no
value is not sent: it fails alone, ``secret_unavailable``, and the run goes on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from fanout.config import Settings
from fanout.core.requests import Options, UrlEntry
from fanout.core.results import ErrorInfo
from fanout.core.secret_refs import (
    Reference,
    Unresolved,
    headers_under,
    references,
    resolved_body,
    resolved_headers,
)
from fanout.core.sign_option import REDACTED, SignOption
from fanout.core.signing import BadSecret, secret_key

SECRET_UNAVAILABLE = "secret_unavailable"
RESOLVE_BUDGET_S = 5.0  # at most this much of the fetch budget goes to reading secrets

Sendable = UrlEntry | ErrorInfo
"""An entry ready to send, or why it cannot be sent."""


def _merged(entry: UrlEntry, options: Options) -> UrlEntry:
    update: dict[str, Any] = {}
    if options.headers:
        update["headers"] = headers_under(options.headers, entry.headers)
    if entry.sign is None and options.sign is not None:
        update["sign"] = options.sign
    return entry.model_copy(update=update) if update else entry


def _sign_texts(entry: UrlEntry) -> list[str]:
    return [] if entry.sign is None else entry.sign.secrets


def _signing(entry: UrlEntry, values: Mapping[Reference, str | Unresolved]) -> SignOption | None:
    """The entry's sign option with its secrets' values (raises ``Unresolved``, ``BadSecret``)."""
    if entry.sign is None:
        return None
    if REDACTED in entry.sign.secrets:
        raise Unresolved("a literal signing secret is not kept (a shard continuation): write a reference")
    secrets = [s for text in entry.sign.secrets for s in str(resolved_body(text, values)).split()]
    for secret in secrets:
        secret_key(secret)
    return entry.sign.model_copy(update={"secret": secrets})


def _substituted(entry: UrlEntry, values: Mapping[Reference, str | Unresolved]) -> Sendable:
    if not references(entry.headers, entry.json_body) and entry.sign is None:
        return entry
    try:
        return entry.model_copy(
            update={
                "headers": resolved_headers(entry.headers, values),
                "json_body": resolved_body(entry.json_body, values),
                "sign": _signing(entry, values),
            }
        )
    except Unresolved as exc:
        return ErrorInfo(SECRET_UNAVAILABLE, str(exc))
    except BadSecret as exc:
        return ErrorInfo(SECRET_UNAVAILABLE, f"the signing secret: {exc}")


async def outgoing(
    entries: Sequence[UrlEntry], options: Options, settings: Settings, *, before: float
) -> list[Sendable]:
    """What to send for each entry (``before``: loop time by which the secrets are read)."""
    merged = [_merged(e, options) for e in entries]
    wanted: set[Reference] = set()
    for entry in merged:
        wanted |= references(entry.headers, [entry.json_body, *_sign_texts(entry)])
    if not wanted and not any(e.sign is not None for e in merged):
        return list(merged)
    values = await _values(wanted, settings, before=before) if wanted else {}
    return [_substituted(e, values) for e in merged]


async def _values(
    wanted: set[Reference], settings: Settings, *, before: float
) -> dict[Reference, str | Unresolved]:
    from fanout.aws.secrets import resolve  # AWS clients: only for a request with references
    from fanout.aws.session import AwsClients, ClientConfig
    from fanout.runs.stores import c_ares

    by = min(before, asyncio.get_running_loop().time() + RESOLVE_BUDGET_S)
    async with AwsClients(ClientConfig.from_settings(settings), dns=c_ares) as clients:
        return await resolve(wanted, clients, before=by)
