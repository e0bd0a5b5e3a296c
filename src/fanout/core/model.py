"""The base of every output document: one msgspec ``Struct`` is a document's fields, its JSON form
and its JSON Schema, so the three cannot drift apart.

A field without a default is always in the JSON (``null`` included); a field with a default is
left out while it holds it (``omit_defaults``), which is how "left out when it does not apply"
is written once. A document that must show every field says ``omit_defaults=False``.
msgspec was chosen by measurement (docs/benchmarks.md, the ``serialise`` row).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Self

import msgspec

_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder()
_DECODERS: dict[type[Any], msgspec.json.Decoder[Any]] = {}
SCHEMA_REF = "#/components/schemas/{name}"


class Document(msgspec.Struct, frozen=True, omit_defaults=True, forbid_unknown_fields=True):
    """An output document: ``to_json`` (plain data), ``to_bytes`` (JSON), and back."""

    def to_json(self) -> dict[str, Any]:
        """The document as the JSON values it is written as (lists, not tuples; what a direct invoke
        returns and a DynamoDB codec takes)."""
        data: dict[str, Any] = _DECODER.decode(_ENCODER.encode(self))
        return data

    def to_bytes(self) -> bytes:
        return encode(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        """A document back from data (a stored item's fields, a parsed answer): numbers written as
        text or floats holding whole numbers read as the field's type (``strict=False``)."""
        return msgspec.convert(data, cls, strict=False)

    @classmethod
    def from_bytes(cls, text: bytes | str) -> Self:
        decoder = _DECODERS.get(cls)
        if decoder is None:
            decoder = _DECODERS[cls] = msgspec.json.Decoder(cls)
        return decoder.decode(text)  # type: ignore[no-any-return]

    def replaced(self, **changes: Any) -> Self:
        """A copy with ``changes`` (``dataclasses.replace`` for documents)."""
        return msgspec.structs.replace(self, **changes)


def encode(value: Any) -> bytes:
    """Any document, or plain data holding documents, as compact JSON."""
    return _ENCODER.encode(value)


def schemas(documents: Iterable[type[Document]]) -> dict[str, Any]:
    """The JSON Schemas of ``documents`` and of every document they hold, by name, each reference
    written as an OpenAPI component (``#/components/schemas/<name>``)."""
    _, components = msgspec.json.schema_components(tuple(documents), ref_template=SCHEMA_REF)
    return components
