"""X-Ray tracing: a subsegment per run and one per URL, correct under concurrency.

Why not ``@tracer.capture_method`` on the fetch coroutine: the X-Ray SDK keeps "the
current entity" on one stack per thread, and concurrently running coroutines push
and pop it out of order (aws-xray-sdk-python#164: wrong parents, then
``AlreadyEndedException``). So the run's subsegment is opened the documented way, on
the invocation's thread before the event loop starts, and each URL's subsegment is
created *explicitly* as its child and closed by hand: no coroutine ever touches the
shared stack.

Powertools' Tracer is costly to import (it loads the X-Ray SDK and botocore; the figure is
in docs/benchmarks.md), so it is built on first use, only when tracing is on (in Lambda, not disabled by
``POWERTOOLS_TRACE_DISABLED``): runs without tracing never import it.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from fanout.observability.log import SERVICE
from fanout.observability.redact import redact_url

OnResult = Callable[[str, int | None], None]
"""Records a URL's outcome and status code on its subsegment."""
OK = "ok"
WAITING = "waiting"
"""The outcome of a URL's subsegment that ends with the URL waiting, without a worker, for its
host's turn (a retry told ``Retry-After``): not an error; it goes on in a subsegment of its own."""


def tracing_enabled() -> bool:
    disabled = os.environ.get("POWERTOOLS_TRACE_DISABLED", "").lower() in {"1", "true", "yes", "on"}
    in_lambda = bool(os.environ.get("LAMBDA_TASK_ROOT")) and not os.environ.get("AWS_SAM_LOCAL")
    return in_lambda and not disabled


@cache
def get_tracer() -> Any:
    from aws_lambda_powertools import Tracer

    return Tracer(service=SERVICE, auto_patch=False)


class RunTrace:
    """The run's subsegment, and a factory of per-URL child subsegments.

    Only a sampled trace gets them: in an unsampled one (most invocations under X-Ray's
    default sampling rule, and every one without a trace header) the SDK hands out a dummy
    run subsegment, and a real child of it would be sent alone, orphaned, for every URL.
    """

    def __init__(self, run_subsegment: Any | None) -> None:
        self._parent = run_subsegment

    @property
    def records(self) -> bool:
        """Whether ``url`` makes subsegments: a run that records none needs no context per URL."""
        return self._parent is not None and bool(self._parent.sampled)

    @asynccontextmanager
    async def url(self, url: str, method: str) -> AsyncIterator[OnResult]:
        """A subsegment for one URL (one for each stretch of it between waits: ``WAITING``);
        cancelled or failing fetches still close it."""
        parent = self._parent
        if parent is None or not parent.sampled:
            yield _ignore  # an unsampled trace records nothing: no orphaned subsegments
            return
        from aws_xray_sdk.core.models.subsegment import Subsegment

        sub = Subsegment(urlsplit(url).hostname or "invalid-url", "remote", parent.parent_segment)
        parent.add_subsegment(sub)
        sub.put_http_meta("url", redact_url(url))
        sub.put_http_meta("method", method)
        outcome = "cancelled"

        def on_result(result_outcome: str, status_code: int | None) -> None:
            nonlocal outcome
            outcome = result_outcome
            if status_code is not None:
                sub.put_http_meta("status", status_code)

        try:
            yield on_result
        finally:
            sub.put_annotation("outcome", outcome)
            if outcome not in (OK, WAITING):
                sub.add_error_flag()
            sub.close()


def _ignore(outcome: str, status_code: int | None) -> None:
    return None


@contextmanager
def run_trace(run_name: str, *, n_urls: int, source: str) -> Iterator[RunTrace]:
    """Open the run's subsegment (when tracing is on) around a whole run."""
    if not tracing_enabled():
        yield RunTrace(None)
        return
    tracer = get_tracer()
    with tracer.provider.in_subsegment(run_name) as subsegment:
        subsegment.put_annotation("source", source)
        subsegment.put_annotation("urls", n_urls)
        yield RunTrace(subsegment)
