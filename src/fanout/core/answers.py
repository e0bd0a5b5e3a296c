"""Answers that fit: Lambda returns at most 6 MB, and an API answer travels escaped once more.

``fit`` keeps an answer as it is when it fits in ``limit_bytes``; otherwise it replaces the
results by a pointer to the stored report (``report_url``) or, without one, keeps the first
results that fit. Either way ``results_omitted`` says what is missing and why.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from fanout.core.documents import ResultsOmitted, RunDocument
from fanout.core.model import Document, encode
from fanout.core.records import RunView

Answer = TypeVar("Answer", RunDocument, RunView)

ROOM_FOR_THE_REST = 64
"""Bytes kept free when results are cut, for what the size estimate leaves out."""


def answer_size(payload: Document | Mapping[str, Any]) -> int:
    """Bytes of ``payload`` as JSON once more escaped as an API Gateway response ``body``.

    The larger of the two ways it travels (a direct invoke returns it as plain JSON, whose
    separators' spaces add fewer bytes than escaping its quotes does), so one threshold protects
    both from Lambda's 6 MB response cap.
    """
    body = encode(payload)
    return len(body) + body.count(b'"') + body.count(b"\\")


def size_of(answer: Document) -> int:
    return answer_size(answer)


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
        return answer.replaced(results=(), results_omitted=omitted)
    room = limit_bytes - size_of(answer.replaced(results=(), results_omitted=omitted)) - ROOM_FOR_THE_REST
    kept = 0
    for result in results:
        room -= answer_size(result) + 2
        if room < 0:
            break
        kept += 1
    omitted = omitted.replaced(kept=kept, omitted=len(results) - kept)
    return answer.replaced(results=results[:kept], results_omitted=omitted)
