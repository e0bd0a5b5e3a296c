"""A response body's JSON as the ``json`` checks read it: parsed, pointed into, compared.

Apart from ``core.checks`` because these run on every checked response, and each is written for
that: msgspec parses (``json.loads`` only for what msgspec refuses, so a body reads as it always
did), a pointer through objects is walked with dict lookups (``jsonpointer`` for anything else,
so arrays, strings and ``-`` resolve as RFC 6901 and that library say).
"""

from __future__ import annotations

import json
import math
from typing import Any, Final

import jsonpointer
import msgspec


class _Missing:
    """What a pointer resolves to where the document has nothing (and a body that is not JSON)."""


MISSING: Final = _Missing()
_DECODER = msgspec.json.Decoder()


def parse_json(text: str) -> Any:
    """``text`` as JSON, ``MISSING`` when it is not. msgspec refuses what ``json.loads`` takes
    (``NaN``, ``1e400``, lone surrogates): those go to ``json.loads``."""
    try:
        return _DECODER.decode(text)
    except msgspec.DecodeError:
        pass
    except RecursionError:
        return MISSING
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return MISSING


class Pointer:
    """An RFC 6901 JSON Pointer, parsed once; ``resolve`` a document with it."""

    __slots__ = ("_parsed", "_parts")

    def __init__(self, text: str) -> None:
        self._parsed = jsonpointer.JsonPointer(text)
        self._parts = tuple(self._parsed.parts)

    def resolve(self, document: Any) -> Any:
        """What the pointer names in ``document``; ``MISSING`` when nothing."""
        node = document
        for part in self._parts:
            if type(node) is not dict:  # an array, a string: jsonpointer's rules, from the top
                found = self._parsed.resolve(document, MISSING)
                # "/-" names the element after an array's last: there is nothing there.
                return MISSING if isinstance(found, jsonpointer.EndOfList) else found
            node = node.get(part, MISSING)
            if node is MISSING:
                return MISSING
        return node


def same_json(a: Any, b: Any) -> bool:
    """JSON equality: ``true`` is not ``1``, ``1`` is ``1.0``."""
    if type(a) is str or type(b) is str:  # the common case, first: what the last line says of it
        return type(a) is type(b) and a == b
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return math.isclose(a, b, rel_tol=0, abs_tol=0) or a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_json(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_json(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b
