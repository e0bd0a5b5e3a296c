"""Run thresholds (k6-style): ``options.thresholds`` maps a run metric to a condition,
``{"failed_rate": "<0.05", "p95_ms": "<800"}``, evaluated once per run over its results.

Rates are over the URLs the run judged (``cancelled`` and ``not_started`` are the run's doing
and count in none); latencies are over the URLs that got a final response (the final
attempt's ``total_ms`` when the entry has timings, else the URL's ``elapsed_ms``), exact
nearest-rank percentiles. A metric with nothing to measure is not evaluated (``ok`` null).
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated

from msgspec import Meta
from pydantic import AfterValidator, Field

from fanout.core.model import Document
from fanout.core.results import Outcome, UrlResult

_CONDITION = re.compile(r"^\s*(<=|>=|<|>|==)\s*(-?\d+(?:\.\d+)?)\s*$")
_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
}


def _judged(results: Sequence[UrlResult]) -> list[UrlResult]:
    return [r for r in results if not r.outcome.is_cut_by_run]


def _rate(predicate: Callable[[UrlResult], bool]) -> Callable[[Sequence[UrlResult]], float | None]:
    def rate(results: Sequence[UrlResult]) -> float | None:
        judged = _judged(results)
        return None if not judged else round(sum(map(predicate, judged)) / len(judged), 6)

    return rate


def _latencies(results: Sequence[UrlResult]) -> list[float]:
    values = []
    for r in results:
        if r.status_code is None:
            continue
        value = r.latency_ms
        if value is not None:
            values.append(value)
    return sorted(values)


def _percentile(q: float) -> Callable[[Sequence[UrlResult]], float | None]:
    def percentile(results: Sequence[UrlResult]) -> float | None:
        values = _latencies(results)
        if not values:
            return None
        return round(values[max(0, math.ceil(q * len(values)) - 1)], 1)

    return percentile


def _average(results: Sequence[UrlResult]) -> float | None:
    values = _latencies(results)
    return round(sum(values) / len(values), 1) if values else None


METRICS: dict[str, Callable[[Sequence[UrlResult]], float | None]] = {
    "failed_rate": _rate(lambda r: r.outcome is not Outcome.OK),
    "ok_rate": _rate(lambda r: r.outcome is Outcome.OK),
    "check_failed_rate": _rate(lambda r: r.outcome is Outcome.CHECK_FAILED),
    "degraded_rate": _rate(lambda r: r.degraded is True),
    "p50_ms": _percentile(0.50),
    "p90_ms": _percentile(0.90),
    "p95_ms": _percentile(0.95),
    "p99_ms": _percentile(0.99),
    "max_ms": _percentile(1.0),
    "avg_ms": _average,
}


def _valid(thresholds: dict[str, str]) -> dict[str, str]:
    for name, condition in thresholds.items():
        if name not in METRICS:
            raise ValueError(f"{name!r} is not a run metric (one of {', '.join(METRICS)})")
        if not _CONDITION.match(condition):
            raise ValueError(f"{name}: {condition!r} is not a condition like '<0.05' or '>=0.99'")
    return thresholds


CONDITION_PATTERN = _CONDITION.pattern
Thresholds = Annotated[
    dict[str, Annotated[str, Field(pattern=CONDITION_PATTERN)]],
    Field(
        min_length=1, max_length=len(METRICS), json_schema_extra={"propertyNames": {"enum": list(METRICS)}}
    ),
    AfterValidator(_valid),
]


class ThresholdResult(Document, frozen=True):
    """One run threshold, evaluated over the run's results."""

    name: Annotated[str, Meta(description="The run metric: failed_rate, p95_ms, ...")]
    condition: Annotated[str, Meta(description="The condition, as given without spaces: <0.05")]
    ok: Annotated[bool | None, Meta(description="Whether the run met it; null: nothing to measure")]
    value: Annotated[float | None, Meta(description="The metric's value in this run")]

    @property
    def subject(self) -> str:
        """The monitor subject this threshold is (its state is kept beside the URLs')."""
        return f"threshold:{self.name}{self.condition}"


def evaluate(
    thresholds: Mapping[str, str] | None, results: Sequence[UrlResult]
) -> tuple[ThresholdResult, ...]:
    """Every threshold of the run, in the request's order."""
    out = []
    for name, condition in (thresholds or {}).items():
        match = _CONDITION.match(condition)
        assert match is not None  # validated with the request
        value = METRICS[name](results)
        ok = None if value is None else _OPERATORS[match[1]](value, float(match[2]))
        out.append(ThresholdResult(name, condition.replace(" ", ""), ok, value))
    return tuple(out)
