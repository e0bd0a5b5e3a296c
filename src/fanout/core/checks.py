"""Response checks: what a response must be to count as healthy (``expect``), judged in pure code.

``Expect`` is the request's model (``core.expect``: ``options.expect``, and an entry's own,
merged over it field by field); a ``Checker`` is it compiled once per run (regexes compiled,
pointers parsed; ``Checkers`` keeps one per distinct expectation); ``Checker.judge`` looks at
a response's facts and says which checks passed. Regexes are bounded three ways: a length cap
on the pattern, the bounded text they run on (the first ``inspect_bytes`` of the decoded body, a
header's value) and a time limit per match (the ``regex`` module's ``timeout``): a pattern that
backtracks forever fails its check instead of holding the run.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import msgspec
import regex

from fanout.core.expect import Expect, compile_pattern
from fanout.core.facts import Check
from fanout.core.json_values import MISSING, Pointer, parse_json, same_json

__all__ = ["ACTUAL_CHARS", "Checker", "Checkers", "Expect", "ResponseFacts", "Verdict"]

MATCH_TIMEOUT_S = 0.05
ACTUAL_CHARS = 200
MAX_REMEMBERED = 1_024  # header values whose match a checker keeps
MAX_REMEMBERED_CHARS = 256  # of a value, at most


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
            (n.lower(), f"header:{n.lower()}", compile_pattern(p), p)
            for n, p in (expect.headers or {}).items()
        ]
        self._header_found: dict[tuple[str, str], bool] = {}
        self._body_regex = None if expect.body_regex is None else compile_pattern(expect.body_regex)
        self._passed: dict[str, Check] = {}  # one passed check of each name, shared by the run's results
        # Every check this checker runs adds one entry, so a response that passes them all has the
        # same tuple of shared passed checks as any other (one for https, one without): kept once.
        self._all_passed: dict[bool, tuple[Check, ...]] = {}

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
        slow = e.degraded_latency_ms is not None and facts.total_ms > e.degraded_latency_ms
        if not all(c.ok for c in checks):
            return Verdict(tuple(checks), False, False)
        kept = self._all_passed.get(facts.https)
        if kept is None:
            kept = self._all_passed[facts.https] = tuple(checks)
        return Verdict(kept, True, slow)

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
