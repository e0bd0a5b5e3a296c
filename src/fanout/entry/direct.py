"""A direct invoke (``aws lambda invoke``, Step Functions, another service) and the schedule's
request, once told apart: the event's request is validated and run; a refusal is a typed
error document, never an exception (Lambda would retry an asynchronous invoke for nothing)."""

from __future__ import annotations

from typing import Any

from fanout.core.documents import Source
from fanout.core.requests import parse_invoke_request
from fanout.errors import FanoutError
from fanout.runs import service
from fanout.runs.invocation import Invocation
from fanout.runs.report import report_invalid


def answer(
    payload: object, source: Source, invocation: Invocation, *, event_id: str | None
) -> dict[str, Any]:
    """Run the request in ``payload``; the result document, or ``{"error": ...}``."""
    key = f"{source.value}:{event_id}" if event_id else None
    try:
        request = parse_invoke_request(payload, invocation.settings)
        return service.run(request, source, invocation, key=key, payload=payload).to_json()
    except FanoutError as exc:
        from fanout.entry.problems import problem_for  # a refusal's: not imported at init

        problem = problem_for(exc)
        if problem is None:
            raise
        report_invalid(source.value, problem.detail, problem.listed_errors(), problem.errors_total)
        return problem.invoke_error()
