"""``expect``: what a healthy response is, as a request gives it (``options.expect``, and an
entry's own, merged over it field by field). Validated here, once, when the request is parsed:
status specs, JSON Pointers, header names, regexes that compile within a length cap.
``core.checks`` compiles it into the ``Checker`` that judges responses.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

import jsonpointer
import regex
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_serializer

MAX_PATTERN_CHARS = 1_000

_RANGE = re.compile(r"^([1-5][0-9]{2})(?:-([1-5][0-9]{2}))?$")
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$")

StatusSpec = int | str
HeaderName = Annotated[str, Field(pattern=r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$")]
Pattern = Annotated[str, Field(min_length=1, max_length=MAX_PATTERN_CHARS)]


def _is_status_spec(spec: object) -> bool:
    if isinstance(spec, bool):
        return False
    if isinstance(spec, int):
        return 100 <= spec <= 599
    if isinstance(spec, str):
        match = _RANGE.match(spec)
        return match is not None and (match[2] is None or int(match[1]) <= int(match[2]))
    return False


def compile_pattern(pattern: str) -> regex.Pattern[str]:
    """``pattern`` compiled by ``regex``; ``ValueError`` when it is no regular expression."""
    try:
        return regex.compile(pattern)
    except regex.error as exc:
        raise ValueError(f"not a valid regular expression: {exc}") from None


class Expect(BaseModel):
    """What a healthy response is; every field optional (see docs/contract.md "Checks")."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    status: Annotated[list[StatusSpec], Field(min_length=1, max_length=50)] | None = None
    json_: Annotated[dict[str, Any], Field(min_length=1, max_length=50)] | None = Field(
        default=None, alias="json"
    )
    headers: Annotated[dict[str, Pattern], Field(min_length=1, max_length=50)] | None = None
    body_contains: Annotated[str, Field(min_length=1, max_length=MAX_PATTERN_CHARS)] | None = None
    body_regex: Pattern | None = None
    max_latency_ms: Annotated[float, Field(gt=0, le=900_000, allow_inf_nan=False)] | None = None
    degraded_latency_ms: Annotated[float, Field(gt=0, le=900_000, allow_inf_nan=False)] | None = None
    cert_min_days: Annotated[float, Field(ge=0, le=36_500, allow_inf_nan=False)] | None = None

    @field_validator("status", mode="before")
    @classmethod
    def _codes_and_ranges(cls, value: Any) -> Any:
        if not isinstance(value, list):
            return value  # the list type's own error
        bad = [f"item {i}: {spec!r}" for i, spec in enumerate(value) if not _is_status_spec(spec)]
        if bad:
            raise ValueError(
                f"{'; '.join(bad[:5])}: not a status code (100-599) or a range like '200-299' (low to high)"
            )
        return value

    @field_validator("json_")
    @classmethod
    def _pointers(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        for pointer in value or {}:
            try:
                jsonpointer.JsonPointer(pointer)
            except jsonpointer.JsonPointerException as exc:
                raise ValueError(f"{pointer!r} is not an RFC 6901 JSON Pointer: {exc}") from None
        return value

    @field_validator("headers")
    @classmethod
    def _header_patterns(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        for name, pattern in (value or {}).items():
            if not _HEADER_NAME.match(name):
                raise ValueError(f"{name!r} is not a header name")
            try:
                compile_pattern(pattern)
            except ValueError as exc:
                raise ValueError(f"{name}: {exc}") from None
        return value

    @field_validator("body_regex")
    @classmethod
    def _body_pattern(cls, value: str | None) -> str | None:
        if value is not None:
            compile_pattern(value)
        return value

    @model_serializer(mode="plain")
    def _as_given(self) -> dict[str, Any]:
        """The fields the request gave, by their request names, ``null``s included: an entry's
        ``"json": null`` (drop the options' JSON checks) survives a trip through a shard message."""
        fields = type(self).model_fields
        return {
            (f.alias or name): getattr(self, name)
            for name, f in fields.items()
            if name in self.model_fields_set
        }

    def merged(self, over: Expect | None) -> Expect:
        """This expectation with ``over``'s fields (those it sets) in place of its own."""
        if over is None:
            return self
        return self.model_copy(update={name: getattr(over, name) for name in over.model_fields_set})

    @property
    def needs_body(self) -> bool:
        return self.json_ is not None or self.body_contains is not None or self.body_regex is not None
