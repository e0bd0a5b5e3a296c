"""Target lists: ``"targets": "s3://bucket/key"`` instead of inline ``urls``, the parsing.

The object holds either a JSON list of entries (exactly what ``urls`` accepts: URL strings or
``{"url": ..., "method": ..., ...}`` objects) or plain text with one URL per line (blank lines
and lines starting with ``#`` are skipped). Every way it can fail is ``TargetsUnreadable``
naming the URI: the run does not start. Reading the object is ``fanout.runs.targets``'s
(sitemaps, the other kind of target, are ``fanout.fetch.sitemap``'s).

A request file (``fanout run FILE``) is either such a list or a whole request object
(``parse_request_file``): the same parsing, so a list reads the same from S3 and from a file.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from fanout.core.limits import RequestLimits
from fanout.core.requests import FanoutRequest, TargetsRequest, problems_of
from fanout.errors import TargetsUnreadable


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/some/key`` -> ``("bucket", "some/key")`` (the contract checked the shape)."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def parse_target_list(uri: str, body: bytes, *, max_urls: int) -> list[Any]:
    """The entries listed in ``body``: a JSON list, or one URL per line."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise TargetsUnreadable(uri, "the list is not UTF-8 text") from None
    if text.lstrip().startswith("["):
        try:
            entries = json.loads(text)
        except (ValueError, RecursionError):
            raise TargetsUnreadable(uri, "the list starts like JSON but is not valid JSON") from None
        if not isinstance(entries, list):  # pragma: no cover - "[" guarantees a list
            raise TargetsUnreadable(uri, "a JSON target list must be a list")
    else:
        entries = [line.strip() for line in text.splitlines()]
        entries = [line for line in entries if line and not line.startswith("#")]
    if not entries:
        raise TargetsUnreadable(uri, "the list is empty")
    if len(entries) > max_urls:
        raise TargetsUnreadable(uri, f"the list has {len(entries)} entries; at most {max_urls} are allowed")
    return entries


def parse_request_file(name: str, body: bytes, *, max_urls: int) -> dict[str, Any]:
    """The request in a file: a JSON object as it is, or a target list as ``{"urls": [...]}``.

    The object is not validated here (``parse_request`` does that, with the service's errors);
    ``name`` names the file in ``TargetsUnreadable``.
    """
    head = body.removeprefix(b"\xef\xbb\xbf").lstrip()[:1]  # after any UTF-8 byte order mark
    if head != b"{":
        return {"urls": parse_target_list(name, body, max_urls=max_urls)}
    try:
        document = json.loads(body.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise TargetsUnreadable(name, "the request is not UTF-8 text") from None
    except (ValueError, RecursionError):
        raise TargetsUnreadable(name, "the request starts like a JSON object but is not valid JSON") from None
    if not isinstance(document, dict):  # pragma: no cover - "{" guarantees an object
        raise TargetsUnreadable(name, "a JSON request must be an object")
    return document


def request_for(request: TargetsRequest, entries: list[Any], limits: RequestLimits) -> FanoutRequest:
    """The request to run: the listed entries with the request's own options, within ``limits``."""
    try:
        return request.with_entries(entries, limits)
    except ValidationError as exc:
        errors, total = problems_of(exc, root="targets")
        detail = f"{total} invalid entr(ies) in the list"
        raise TargetsUnreadable(request.targets, detail, errors, total=total) from None
