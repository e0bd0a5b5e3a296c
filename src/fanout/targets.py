"""Scheduled target lists: ``"targets": "s3://bucket/key"`` instead of inline ``urls``.

The object holds either a JSON list of entries (exactly what ``urls`` accepts: URL
strings or ``{"url": ..., "method": ..., ...}`` objects) or plain text with one URL per
line (blank lines and lines starting with ``#`` are skipped). It is read with the
run's S3 client inside the invocation's deadline (``store.Stores.read_object``); this
module only turns its bytes into a validated ``FanoutRequest``. Every way it can fail
is a ``targets-unreadable`` problem naming the URI: the run does not start.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from fanout import problems
from fanout.contract import FanoutRequest, TargetsRequest, format_loc
from fanout.errors import MAX_LISTED_PROBLEMS
from fanout.problems import ProblemError


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/some/key`` -> ``("bucket", "some/key")`` (the contract checked the shape)."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def unreadable(
    uri: str, detail: str, errors: list[dict[str, Any]] | None = None, *, total: int | None = None
) -> ProblemError:
    return ProblemError(problems.targets_unreadable(uri, detail, errors, total=total))


def parse_target_list(uri: str, body: bytes, *, max_urls: int) -> list[Any]:
    """The entries listed in ``body``: a JSON list, or one URL per line."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise unreadable(uri, "the list is not UTF-8 text") from None
    if text.lstrip().startswith("["):
        try:
            entries = json.loads(text)
        except (ValueError, RecursionError):
            raise unreadable(uri, "the list starts like JSON but is not valid JSON") from None
        if not isinstance(entries, list):  # pragma: no cover - "[" guarantees a list
            raise unreadable(uri, "a JSON target list must be a list")
    else:
        entries = [line.strip() for line in text.splitlines()]
        entries = [line for line in entries if line and not line.startswith("#")]
    if not entries:
        raise unreadable(uri, "the list is empty")
    if len(entries) > max_urls:
        raise unreadable(uri, f"the list has {len(entries)} entries; at most {max_urls} are allowed")
    return entries


def resolve(request: TargetsRequest, entries: list[Any]) -> FanoutRequest:
    """The request to run: the listed entries with the request's own options."""
    try:
        return FanoutRequest.model_validate({"urls": entries, "options": request.options})
    except ValidationError as exc:
        total = exc.error_count()
        first = exc.errors(include_url=False, include_input=False)[:MAX_LISTED_PROBLEMS]
        errors = [
            {
                "loc": format_loc(("targets", *e["loc"][1:]))
                if e["loc"][:1] == ("urls",)
                else format_loc(e["loc"]),
                "msg": e["msg"],
                "type": e["type"],
            }
            for e in first
        ]
        detail = f"{total} invalid entr(ies) in the list"
        raise unreadable(request.targets, detail, errors, total=total) from None
