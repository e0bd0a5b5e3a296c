"""Observability: the module-level Powertools logger and metrics, and what a run reports.

- Logs: structured JSON; one line per run with its summary, one WARNING per URL that
  failed on its own (``http_error``, ``failed``, ``timed_out``, ``blocked``), at most
  ``MAX_URL_WARNINGS`` a run (URLs redacted: no userinfo, no query string).
- Metrics (EMF, flushed by ``@metrics.log_metrics`` when the handler returns, which
  the deadline margin guarantees happens before the Lambda timeout): counts by
  outcome, run duration, deadline slack (time left when the run returned).
- Traces: see ``tracing``; X-Ray is imported only when tracing is enabled.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Coroutine
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

T = TypeVar("T")

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "fanout")

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "fanout"), service=SERVICE)


def redact_url(url: str) -> str:
    """``url`` without userinfo or query string (they often carry secrets)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        netloc = host + (f":{parts.port}" if parts.port else "")
        query = "<redacted>" if parts.query else ""
        return urlunsplit((parts.scheme, netloc, parts.path, query, ""))
    except ValueError:
        return "<unparseable url>"


MAX_URL_WARNINGS = 100
"""Per-URL WARNING lines of one run, at most; the summary counts every URL."""

_NOT_THE_URLS_DOING = frozenset({"ok", "cancelled", "not_started"})


def report_run(document: dict[str, Any], *, slack_ms: float) -> None:
    """Log the run and its failures, and add the run's metrics.

    ``slack_ms`` is the time left before the Lambda timeout when the run returned.

    A WARNING line costs ~25-30 us of CPU (Powertools' JSON formatting), after the run's
    deadline: 1,000 of them took ~30 ms of the margin. So at most ``MAX_URL_WARNINGS``
    a run, and none for ``cancelled`` or ``not_started`` URLs: those are the run's doing
    (its deadline, or ``on_error: cancel``), not the URL's, and the summary counts them.
    The "run finished" line says how many warnings were left out.
    """
    summary: dict[str, int] = document["summary"]
    elapsed_ms: float = document["elapsed_ms"]
    logged = unlogged = 0
    for result in document["results"]:
        if result["outcome"] in _NOT_THE_URLS_DOING:
            continue
        if logged >= MAX_URL_WARNINGS:
            unlogged += 1
            continue
        logged += 1
        logger.warning(
            "url did not succeed",
            extra={
                "run_id": document["run_id"],
                "url": redact_url(result["url"]),
                "outcome": result["outcome"],
                "status_code": result["status_code"],
                "error": result["error"],
                "attempts": result["attempts"],
            },
        )
    logger.info(
        "run finished",
        extra={
            "run_id": document["run_id"],
            "source": document["source"],
            "summary": summary,
            "elapsed_ms": elapsed_ms,
            "budget_ms": document["budget_ms"],
            "deadline_reached": document["deadline_reached"],
            "deadline_slack_ms": round(slack_ms, 1),
            "url_warnings_omitted": unlogged,
        },
    )
    metrics.add_dimension(name="source", value=document["source"])
    for outcome, count in summary.items():
        metrics.add_metric(name=f"urls_{outcome}", unit=MetricUnit.Count, value=count)
    metrics.add_metric(name="run_duration", unit=MetricUnit.Milliseconds, value=elapsed_ms)
    metrics.add_metric(name="deadline_slack", unit=MetricUnit.Milliseconds, value=slack_ms)


def report_invalid(source: str, detail: str, errors: list[dict[str, Any]], total: int | None = None) -> None:
    """Log a refused request: its detail and the problems listed (the first ones), with the total."""
    extra = {"source": source, "detail": detail, "errors": errors, "errors_total": total or len(errors)}
    logger.warning("invalid request", extra=extra)
    metrics.add_dimension(name="source", value=source)
    metrics.add_metric(name="invalid_requests", unit=MetricUnit.Count, value=1)


async def awaited_alone(coro: Coroutine[Any, Any, T], what: str) -> T:
    """Await ``coro`` (the whole of an ``asyncio.run``), then log any task still alive.

    Every task a run starts is awaited by the engine; one alive here would be a bug,
    and ``asyncio.run`` then cancels it rather than leaving a zombie for the next
    warm invocation.
    """
    result = await coro
    current = asyncio.current_task()
    leftovers = [t for t in asyncio.all_tasks() if t is not current]
    if leftovers:  # pragma: no cover - would be an engine bug
        logger.error(f"tasks alive after the {what}", extra={"tasks": [repr(t) for t in leftovers]})
    return result
