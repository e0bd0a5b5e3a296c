"""From a Lambda event to an answer: adapters -> validation -> deadline -> one run.

The Lambda handler (``handler``) is decorators plus one call to ``handle_event``.
The invocation's clock starts here: the remaining time is read once, on entry, and
the absolute deadline derived from it is passed down.

Each run gets its own event loop (``asyncio.run``): the HTTP client is created and
closed inside it, so nothing (tasks, sockets, sessions) carries over to the next
warm invocation. A task still alive after the run would be an engine bug: it is
logged, and ``asyncio.run`` cancels it rather than leaving a zombie.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, Protocol

from fanout import http_api
from fanout.adapters import classify, is_http_api_event
from fanout.config import SETTINGS
from fanout.contract import FanoutRequest, Source, parse_request
from fanout.deadline import clamp_remaining_ms, compute_deadline
from fanout.errors import RequestInvalid
from fanout.observe import logger, report_invalid, report_run
from fanout.problems import validation_problem
from fanout.service import RunContext, run_fanout
from fanout.tracing import run_trace


class LambdaContextLike(Protocol):
    def get_remaining_time_in_millis(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Invocation:
    """When the invocation started (monotonic) and how long Lambda gave it."""

    started: float
    remaining_ms: float

    @classmethod
    def begin(cls, context: LambdaContextLike) -> Invocation:
        return cls(
            started=time.monotonic(), remaining_ms=clamp_remaining_ms(context.get_remaining_time_in_millis())
        )

    def slack_ms(self) -> float:
        """Time left before the Lambda timeout, now."""
        return self.remaining_ms - (time.monotonic() - self.started) * 1000


async def _run_and_check(coro: Coroutine[Any, Any, dict[str, Any]]) -> dict[str, Any]:
    document = await coro
    current = asyncio.current_task()
    leftovers = [t for t in asyncio.all_tasks() if t is not current]
    if leftovers:  # pragma: no cover - would be an engine bug
        logger.error("tasks alive after the run", extra={"tasks": [repr(t) for t in leftovers]})
    return document


def run_request(
    request: FanoutRequest, source: Source, invocation: Invocation, *, cap_s: float | None = None
) -> dict[str, Any]:
    """Run one validated request to completion within the invocation's deadline."""
    deadline = compute_deadline(
        invocation.remaining_ms,
        n_urls=len(request.urls),
        settings=SETTINGS,
        cap_s=cap_s,
        now=invocation.started,
    )
    ctx = RunContext(source=source, deadline=deadline.at, budget_s=deadline.budget_s)
    with run_trace("## fanout run", n_urls=len(request.urls), source=source) as trace:
        document = asyncio.run(_run_and_check(run_fanout(request, ctx, trace=trace)))
    report_run(document, slack_ms=invocation.slack_ms())
    return document


def handle_event(event: object, context: LambdaContextLike) -> dict[str, Any]:
    """Answer any of the three ways in; bad input gets a typed error, never an exception."""
    invocation = Invocation.begin(context)
    if is_http_api_event(event):
        assert isinstance(event, dict)
        return http_api.resolve(
            event,
            context,
            lambda request, source: run_request(
                request, source, invocation, cap_s=SETTINGS.api_deadline_cap_s
            ),
        )
    inbound = classify(event)
    try:
        request = parse_request(inbound.payload)
    except RequestInvalid as exc:
        report_invalid(inbound.source, exc.detail, exc.errors)
        return validation_problem(exc.detail, exc.errors).invoke_error()
    return run_request(request, inbound.source, invocation)
