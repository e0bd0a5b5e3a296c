"""Listing cursors: one opaque, URL-safe token for "the page after this key", for every listing.

A cursor is the page's last DynamoDB key (its string attributes) as compact JSON in unpadded
base64url, so it travels in a query string as is. It is not signed: it only says where a query
starts, within the listing it belongs to, and a decoded cursor must name exactly the listing's key
attributes, each a non-empty string, with the values the listing fixes (a monitor's partition);
anything else is ``CursorInvalid`` (a 422 problem), never a query started at a forged key.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fanout.errors import CursorInvalid

MAX_CURSOR_CHARS = 2_048
"""The longest cursor read (the API's query limit too): a key is a few hundred characters at most."""
_URL_SAFE = re.compile(r"[A-Za-z0-9_-]+")


@dataclass(frozen=True, slots=True)
class ListingCursor:
    """The cursor codec of one listing.

    ``carried`` are the key attributes a cursor holds; ``fixed`` are the ones the listing decides
    (a GSI's partition, a monitor's ``pk``): checked when carried, added to the key when not.
    """

    carried: tuple[str, ...]
    fixed: Mapping[str, str] = field(default_factory=dict)

    def encode(self, last_key: Mapping[str, Any]) -> str:
        """The cursor of the page after ``last_key`` (a ``LastEvaluatedKey``)."""
        plain = {name: last_key[name]["S"] for name in self.carried}
        text = json.dumps(plain, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(text).decode().rstrip("=")

    def decode(self, cursor: str) -> dict[str, Any]:
        """The ``ExclusiveStartKey`` of ``cursor``; ``CursorInvalid`` if this listing never handed it out."""
        plain = _plain(cursor)
        if not (
            isinstance(plain, dict)
            and set(plain) == set(self.carried)
            and all(isinstance(v, str) and v for v in plain.values())
            and all(plain.get(k, v) == v for k, v in self.fixed.items())
        ):
            raise CursorInvalid()
        return {name: {"S": value} for name, value in (plain | dict(self.fixed)).items()}


def _plain(cursor: str) -> Any:
    if not (isinstance(cursor, str) and len(cursor) <= MAX_CURSOR_CHARS and _URL_SAFE.fullmatch(cursor)):
        raise CursorInvalid()
    try:
        return json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error, RecursionError):  # not base64, not UTF-8, not JSON, nested too deep
        raise CursorInvalid() from None
