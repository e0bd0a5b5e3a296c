"""The entries as they are sent: ``options.headers`` merged under each entry's own, and secret
references replaced by their values (docs/contract.md).

The request keeps its references: its document, report, record, shard messages and logs say
what was written. What is made here goes to the fetcher only. An entry whose reference has no
value is not sent: it fails alone, ``secret_unavailable``, and the run goes on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

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

SECRET_UNAVAILABLE = "secret_unavailable"
RESOLVE_BUDGET_S = 5.0  # at most this much of the fetch budget goes to reading secrets

Sendable = UrlEntry | ErrorInfo
"""An entry ready to send, or why it cannot be sent."""


def _merged(entry: UrlEntry, under: Mapping[str, str] | None) -> UrlEntry:
    if not under:
        return entry
    return entry.model_copy(update={"headers": headers_under(under, entry.headers)})


def _substituted(entry: UrlEntry, values: Mapping[Reference, str | Unresolved]) -> Sendable:
    if not references(entry.headers, entry.json_body):
        return entry
    try:
        return entry.model_copy(
            update={
                "headers": resolved_headers(entry.headers, values),
                "json_body": resolved_body(entry.json_body, values),
            }
        )
    except Unresolved as exc:
        return ErrorInfo(SECRET_UNAVAILABLE, str(exc))


async def outgoing(
    entries: Sequence[UrlEntry], options: Options, settings: Settings, *, before: float
) -> list[Sendable]:
    """What to send for each entry (``before``: loop time by which the secrets are read)."""
    merged = [_merged(e, options.headers) for e in entries]
    wanted: set[Reference] = set()
    for entry in merged:
        wanted |= references(entry.headers, entry.json_body)
    if not wanted:
        return list(merged)
    values = await _values(wanted, settings, before=before)
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
