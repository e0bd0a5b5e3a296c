"""Response checks: what a response must be to count as healthy (``expect``), judged in pure code.

``Expect`` is the request's model (``options.expect``, and an entry's own, merged over it field
by field); ``compile_expect`` turns it into a ``Checker`` once per run (regexes compiled once,
pointers parsed once); ``Checker.judge`` looks at a response's facts and says which checks
passed. Regexes are bounded three ways: a length cap on the pattern, the bounded text they run
on (the first ``inspect_bytes`` of the decoded body, a header's value) and a time limit per
match (the ``regex`` module's ``timeout``): a pattern that backtracks forever fails its check
instead of holding the run.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Annotated, Any

import jsonpointer
import msgspec
import regex
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_serializer

from fanout.core.facts import Check
from fanout.core.json_values import MISSING, Pointer, parse_json, same_json

MAX_PATTERN_CHARS = 1_000
MATCH_TIMEOUT_S = 0.05
ACTUAL_CHARS = 200
MAX_REMEMBERED = 1_024  # header values whose match a checker keeps
MAX_REMEMBERED_CHARS = 256  # of a value, at most

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


def _compile(pattern: str) -> regex.Pattern[str]:
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
                _compile(pattern)
            except ValueError as exc:
                raise ValueError(f"{name}: {exc}") from None
        return value

    @field_validator("body_regex")
    @classmethod
    def _body_pattern(cls, value: str | None) -> str | None:
        if value is not None:
            _compile(value)
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


class ResponseFacts(msgspec.Struct, frozen=True, gc=False):
    """What a check can look at: the final response, its decoded body (bounded), its timing.

    A struct, not a frozen dataclass: made for every checked response, and a frozen dataclass
    sets each field through ``object.__setattr__`` (several times the cost)."""

    status_code: int
    headers: Mapping[str, str]
    total_ms: float
    body: str | None = None
    days_to_expiry: float | None = None
    https: bool = False


class Verdict(msgspec.Struct, frozen=True, gc=False):
    checks: tuple[Check, ...]
    passed: bool
    degraded: bool


def _clip(value: Any) -> Any:
    """``value`` as it is, unless it is longer than ``ACTUAL_CHARS``: then its first characters
    (a structure's as JSON text) and an ellipsis."""
    text = json.dumps(value, separators=(",", ":")) if isinstance(value, dict | list) else value
    if isinstance(text, str) and len(text) > ACTUAL_CHARS:
        return text[: ACTUAL_CHARS - 1] + "…"
    return value


def _search(pattern: regex.Pattern[str], text: str) -> bool | None:
    """Whether ``pattern`` matches in ``text``; None when it ran out of its time."""
    try:
        # ``concurrent=False``: with a timeout, ``regex`` otherwise lets go of the GIL for every
        # search, and taking it back behind any other thread cost ~70 us a header check
        # (docs/benchmarks.md, the checks row); the timeout holds either way.
        return pattern.search(text, timeout=MATCH_TIMEOUT_S, concurrent=False) is not None
    except TimeoutError:
        return None


def _failed(name: str, expected: Any, actual: Any) -> Check:
    return Check(name, False, _clip(expected), _clip(actual))


class Checker:
    """An ``Expect`` compiled once per run; ``judge`` a response's facts against it.

    Everything a response does not change is made here, once: the status sets, the regexes, the
    pointers, the checks' names; ``judge`` runs on every response of the run.
    """

    def __init__(self, expect: Expect) -> None:
        self.expect = expect
        self.needs_body = expect.needs_body
        self._codes, self._ranges = set(), []
        for spec in expect.status or ():
            if isinstance(spec, int):
                self._codes.add(spec)
            elif "-" in spec:
                low, high = spec.split("-")
                self._ranges.append((int(low), int(high)))
            else:
                self._codes.add(int(spec))
        self._pointers = [(f"json:{p}", Pointer(p), v) for p, v in (expect.json_ or {}).items()]
        self._headers = [
            (n.lower(), f"header:{n.lower()}", _compile(p), p) for n, p in (expect.headers or {}).items()
        ]
        self._header_found: dict[tuple[str, str], bool] = {}
        self._body_regex = None if expect.body_regex is None else _compile(expect.body_regex)
        self._passed: dict[str, Check] = {}  # one passed check of each name, shared by the run's results

    def _check(self, name: str, ok: bool, expected: Any = None, actual: Any = None) -> Check:
        if not ok:
            return _failed(name, expected, actual)
        passed = self._passed.get(name)
        if passed is None:
            passed = self._passed[name] = Check(name, True)
        return passed

    def status_ok(self, status_code: int) -> bool | None:
        """Whether the status passes ``expect.status`` (None: it says nothing about the status)."""
        if self.expect.status is None:
            return None
        return status_code in self._codes or any(low <= status_code <= high for low, high in self._ranges)

    def judge(self, facts: ResponseFacts) -> Verdict:
        e = self.expect
        checks: list[Check] = []
        status_ok = self.status_ok(facts.status_code)
        if status_ok is not None:
            checks.append(self._check("status", status_ok, e.status, facts.status_code))
        if self._headers:
            self._header_checks(facts.headers, checks)
        if self.needs_body:
            self._body_checks(facts.body or "", checks)
        if e.max_latency_ms is not None:
            if facts.total_ms <= e.max_latency_ms:
                checks.append(self._check("max_latency_ms", True))
            else:
                checks.append(
                    self._check("max_latency_ms", False, e.max_latency_ms, round(facts.total_ms, 1))
                )
        if e.cert_min_days is not None and facts.https:
            days = facts.days_to_expiry
            checks.append(
                self._check(
                    "cert_min_days", days is not None and days >= e.cert_min_days, e.cert_min_days, days
                )
            )
        passed = all(c.ok for c in checks)
        slow = e.degraded_latency_ms is not None and facts.total_ms > e.degraded_latency_ms
        return Verdict(tuple(checks), passed, passed and slow)

    def _header_checks(self, headers: Mapping[str, str], checks: list[Check]) -> None:
        for name, check, pattern, text in self._headers:
            value = headers.get(name)
            if value is None:
                checks.append(self._check(check, False, text, None))
                continue
            found = self._header_matches(pattern, text, value)
            actual = value if found is not None else "<no match within the time limit>"
            checks.append(self._check(check, bool(found), text, actual))

    def _header_matches(self, pattern: regex.Pattern[str], text: str, value: str) -> bool | None:
        """``_search``, remembered per pattern and value: a run's responses mostly repeat their
        headers' values (one content-type), and a search costs more than the lookup."""
        key = (text, value)
        found = self._header_found.get(key)
        if found is None:
            found = _search(pattern, value)
            remembered = self._header_found
            if found is not None and len(value) <= MAX_REMEMBERED_CHARS and len(remembered) < MAX_REMEMBERED:
                remembered[key] = found  # a search that ran out of time is not remembered
        return found

    def _body_checks(self, text: str, checks: list[Check]) -> None:
        e = self.expect
        if self._pointers:
            self._json_checks(text, checks)
        if e.body_contains is not None:
            checks.append(self._check("body_contains", e.body_contains in text, e.body_contains, text))
        if self._body_regex is not None:
            found = _search(self._body_regex, text)
            actual = text if found is not None else "<no match within the time limit>"
            checks.append(self._check("body_regex", bool(found), e.body_regex, actual))

    def _json_checks(self, text: str, checks: list[Check]) -> None:
        document = parse_json(text)
        for check, pointer, expected in self._pointers:
            if document is MISSING:
                checks.append(self._check(check, False, expected, "<the body is not JSON>"))
                continue
            actual = pointer.resolve(document)
            ok = actual is not MISSING and same_json(actual, expected)
            checks.append(self._check(check, ok, expected, None if actual is MISSING else actual))


class Checkers:
    """One ``Checker`` per distinct merged expectation of a run: each compiled once (entries
    without an ``expect`` of their own share the options' checker, looked up for free)."""

    def __init__(self, base: Expect | None) -> None:
        self._base = base
        self._base_checker = None if base is None else Checker(base)
        self._compiled: dict[str, Checker] = {}

    def for_entry(self, own: Expect | None) -> Checker | None:
        if own is None:
            return self._base_checker
        expect = own if self._base is None else self._base.merged(own)
        key = expect.model_dump_json()
        checker = self._compiled.get(key)
        if checker is None:
            checker = self._compiled[key] = Checker(expect)
        return checker
