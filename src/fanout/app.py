"""From a Lambda event to an answer: adapters -> validation -> deadline -> one run.

The Lambda handler (``handler``) is decorators plus one call to ``handle_event``.
Each invocation runs its own event loop (``asyncio.run``): the httpx/aiohttp client
is created and closed inside it, so nothing (tasks, sockets, sessions) can carry
over to the next warm invocation. After the run, any task still alive would be a
bug; it is logged and cancelled by ``asyncio.run`` rather than left as a zombie.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Protocol

from aws_lambda_powertools import Logger

from fanout.adapters import Inbound, classify
from fanout.config import SETTINGS
from fanout.contract import parse_request, validation_error_document
from fanout.deadline import compute_deadline
from fanout.errors import RequestInvalid
from fanout.service import RunContext, run_fanout

logger = Logger(service="fanout")


class LambdaContextLike(Protocol):
    def get_remaining_time_in_millis(self) -> int: ...


async def _run_and_check(coro: Any) -> dict[str, Any]:
    document: dict[str, Any] = await coro
    current = asyncio.current_task()
    leftovers = [t for t in asyncio.all_tasks() if t is not current]
    if leftovers:  # pragma: no cover - would be a bug in the engine
        logger.error("tasks alive after the run", extra={"tasks": [repr(t) for t in leftovers]})
    return document


def handle_event(event: object, context: LambdaContextLike) -> dict[str, Any]:
    """Answer a direct or scheduled invoke with the result document or a typed error."""
    remaining_ms = context.get_remaining_time_in_millis()
    now = time.monotonic()
    inbound: Inbound = classify(event)
    try:
        request = parse_request(inbound.payload)
    except RequestInvalid as exc:
        logger.warning("invalid request", extra={"source": inbound.source, "errors": exc.errors})
        return validation_error_document(exc.detail, exc.errors)
    deadline = compute_deadline(remaining_ms, n_urls=len(request.urls), settings=SETTINGS, now=now)
    ctx = RunContext(source=inbound.source, deadline=deadline.at, budget_s=deadline.budget_s)
    document = asyncio.run(_run_and_check(run_fanout(request, ctx)))
    logger.info("run finished", extra={"run_id": document["run_id"], "summary": document["summary"]})
    return document
