"""Secret references in a request's header values and JSON body (docs/contract.md):
``${secretsmanager:NAME}``, ``${secretsmanager:NAME#json-key}`` and ``${ssm:/path}``.

A request carries its references as written, everywhere it is kept (a schedule, a report, a
record, a log line, an alert); only the entry about to be sent has them replaced by their values
(``resolved``), and that entry goes nowhere but the fetcher. This module finds and replaces them;
where the values come from is ``fanout.aws.secrets``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

SecretStore = Literal["secretsmanager", "ssm"]
_NAME = r"[A-Za-z0-9/_+=.@:-]+"
REFERENCE = re.compile(rf"\$\{{(secretsmanager|ssm):({_NAME})(?:#([A-Za-z0-9_.-]+))?\}}")
_OPENING = re.compile(r"\$\{(?:secretsmanager|ssm):")
_FORMS = "write ${secretsmanager:NAME}, ${secretsmanager:NAME#key} or ${ssm:/path}"
_UNSENDABLE_IN_A_HEADER = re.compile(r"[^\t\x20-\x7e]")


@dataclass(frozen=True, slots=True)
class Reference:
    """One reference: the store, the secret's or parameter's name, a JSON key of a secret."""

    store: SecretStore
    name: str
    key: str | None = None

    def __str__(self) -> str:
        return f"${{{self.store}:{self.name}{'' if self.key is None else '#' + self.key}}}"


def _reference(match: re.Match[str]) -> Reference:
    store: SecretStore = "ssm" if match[1] == "ssm" else "secretsmanager"
    return Reference(store, match[2], match[3])


def reference_problem(text: str) -> str | None:
    """Why ``text`` holds a malformed reference (None when every one parses): a typo would
    otherwise be sent as it is."""
    for opening in _OPENING.finditer(text):
        match = REFERENCE.match(text, opening.start())
        if match is None:
            return f"a malformed secret reference at character {opening.start()}: {_FORMS}"
        if match[1] == "ssm" and match[3] is not None:
            return "an SSM parameter reference takes no #key"
    return None


def check_header_references(headers: Mapping[str, str]) -> Mapping[str, str]:
    """Pydantic's after-validator of a headers mapping: every reference in a value parses."""
    for name, value in headers.items():
        problem = reference_problem(value)
        if problem is not None:
            raise ValueError(f"header {name!r} has {problem}")
    return headers


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for inner in value.values():
            yield from _strings(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _strings(inner)


def references(headers: Mapping[str, str], body: Any) -> set[Reference]:
    """The references in header values and the body's strings."""
    found: set[Reference] = set()
    for text in (*headers.values(), *_strings(body)):
        if "${" in text:
            found.update(_reference(m) for m in REFERENCE.finditer(text))
    return found


class Unresolved(Exception):
    """A reference without a usable value; the message names the reference, never a value."""


def _replaced(text: str, values: Mapping[Reference, str | Unresolved]) -> str:
    def value_of(match: re.Match[str]) -> str:
        value = values[_reference(match)]
        if isinstance(value, Unresolved):
            raise value
        return value

    return REFERENCE.sub(value_of, text) if "${" in text else text


def resolved_headers(
    headers: Mapping[str, str], values: Mapping[Reference, str | Unresolved]
) -> dict[str, str]:
    """``headers`` with their references replaced; raises ``Unresolved`` for the first one that
    has no value, or whose value cannot be sent in a header (a control or non-ASCII character:
    the transport's error would quote it)."""
    out: dict[str, str] = {}
    for name, text in headers.items():
        if REFERENCE.search(text) is None:
            out[name] = text
            continue
        value = _replaced(text, values)
        if _UNSENDABLE_IN_A_HEADER.search(value):
            raise Unresolved(f"header {name!r}: a referenced value has a character a header cannot carry")
        out[name] = value
    return out


def resolved_body(body: Any, values: Mapping[Reference, str | Unresolved]) -> Any:
    """The JSON body with the references in its strings replaced (raises ``Unresolved``)."""
    if isinstance(body, str):
        return _replaced(body, values)
    if isinstance(body, Mapping):
        return {k: resolved_body(v, values) for k, v in body.items()}
    if isinstance(body, list):
        return [resolved_body(v, values) for v in body]
    return body


def headers_under(under: Mapping[str, str] | None, own: Mapping[str, str]) -> dict[str, str]:
    """``own`` over ``under`` (``options.headers``), names compared in any case."""
    if not under:
        return dict(own)
    mine = {name.lower() for name in own}
    return {**{k: v for k, v in under.items() if k.lower() not in mine}, **own}
