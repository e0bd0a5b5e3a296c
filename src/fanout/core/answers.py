"""Answers that fit: Lambda returns at most 6 MB, and an API answer travels escaped once more.

``fit`` keeps an answer as it is when it fits in ``limit_bytes``; otherwise it replaces the
results by a pointer to the stored report (``report_url``) or, without one, keeps the first
results that fit. Either way ``results_omitted`` says what is missing and why.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Protocol, TypeVar

from fanout.core.documents import ResultsOmitted, RunDocument
from fanout.core.records import RunView
from fanout.core.results import UrlResult

Answer = TypeVar("Answer", RunDocument, RunView)

ROOM_FOR_THE_REST = 64
"""Bytes kept free when results are cut, for what the size estimate leaves out."""


class _WithResults(Protocol):
    @property
    def results(self) -> tuple[UrlResult, ...] | None: ...

    def to_json(self) -> dict[str, Any]: ...


def answer_size(payload: Mapping[str, Any]) -> int:
    """Bytes of ``payload`` as JSON once more escaped as an API Gateway response ``body``.

    The larger of the two ways it travels (a direct invoke returns it as plain JSON), so one
    threshold protects both from Lambda's 6 MB response cap.
    """
    body = json.dumps(payload)
    return len(body) + body.count('"') + body.count("\\")


def size_of(answer: _WithResults) -> int:
    return answer_size(answer.to_json())


def fit(
    answer: Answer,
    *,
    limit_bytes: int,
    report_url: str | None,
    url_expires_s: int | None = None,
    size: int | None = None,
) -> Answer:
    """``answer`` if it fits in ``limit_bytes``; else with a pointer instead of its results, or cut."""
    size = size_of(answer) if size is None else size
    if size <= limit_bytes:
        return answer
    results = answer.results or ()
    omitted = ResultsOmitted(
        answer_bytes=size,
        limit_bytes=limit_bytes,
        kept=0,
        omitted=len(results),
        report_url=report_url,
        report_url_expires_in_s=url_expires_s if report_url else None,
    )
    if report_url is not None:
        return replace(answer, results=(), results_omitted=omitted)
    room = limit_bytes - size_of(replace(answer, results=(), results_omitted=omitted)) - ROOM_FOR_THE_REST
    kept = 0
    for result in results:
        room -= answer_size(result.to_json()) + 2
        if room < 0:
            break
        kept += 1
    omitted = replace(omitted, kept=kept, omitted=len(results) - kept)
    return replace(answer, results=results[:kept], results_omitted=omitted)
