"""What runs and shards report: one log line each, a WARNING per URL that failed on its own,
and their metrics (EMF, dimension ``source``).

A WARNING line costs CPU (Powertools' JSON formatting; docs/benchmarks.md), after the run's
deadline: so at most ``MAX_URL_WARNINGS`` a run or shard, and none for ``cancelled`` or
``not_started`` URLs (the run's doing, not the URL's: the summary counts them). URLs are
logged redacted (no userinfo, no query string). URL metrics count final results only, once
per URL: a shard's leftovers are counted by the shard that finishes them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from fanout.core.documents import RunDocument, Source
from fanout.core.results import UrlResult
from fanout.observability.log import MetricUnit, logger, metrics, single_metric
from fanout.observability.redact import redact_url
from fanout.runs.shards.outcome import ShardReport
from fanout.runs.shards.plan import ShardMessage

MAX_URL_WARNINGS = 100
"""Per-URL WARNING lines of one run or shard, at most; the summary counts every URL."""


def warn_failed_urls(results: Iterable[tuple[int | None, UrlResult]], context: Mapping[str, Any]) -> int:
    """A WARNING per URL that failed on its own, at most ``MAX_URL_WARNINGS``; how many were left out."""
    logged = omitted = 0
    for index, result in results:
        if not result.outcome.is_a_failure:
            continue
        if logged >= MAX_URL_WARNINGS:
            omitted += 1
            continue
        logged += 1
        extra = dict(context) | ({} if index is None else {"index": index})
        extra |= {
            "url": redact_url(result.url),
            "outcome": result.outcome.value,
            "status_code": result.status_code,
            "error": None if result.error is None else result.error.to_json(),
            "attempts": result.attempts,
        }
        if result.failed_checks:
            extra["checks_failed"] = list(result.failed_checks)
        logger.warning("url did not succeed", extra=extra)
    return omitted


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _count_urls(counts: Mapping[str, int]) -> None:
    for outcome, count in counts.items():
        metrics.add_metric(name=f"urls_{outcome}", unit=MetricUnit.Count, value=count)


def report_run(document: RunDocument, *, slack_ms: float) -> None:
    """Log an inline run and its failures, and add its metrics. ``slack_ms``: the time left
    before the Lambda timeout when the run returned."""
    results = document.results or ()
    omitted = warn_failed_urls(((None, r) for r in results), {"run_id": document.run_id})
    summary = document.summary
    logger.info(
        "run finished",
        extra={
            "run_id": document.run_id,
            "source": document.source.value,
            "summary": summary.to_json(),
            "elapsed_ms": _ms(document.elapsed_ms),
            "budget_ms": _ms(document.budget_ms),
            "deadline_reached": document.deadline_reached,
            "deadline_slack_ms": round(slack_ms, 1),
            "url_warnings_omitted": omitted,
        },
    )
    metrics.add_dimension(name="source", value=document.source.value)
    _count_urls({"total": summary.total, "degraded": document.degraded or 0} | summary.outcome_counts())
    metrics.add_metric(name="run_duration", unit=MetricUnit.Milliseconds, value=document.elapsed_ms or 0.0)
    metrics.add_metric(name="deadline_slack", unit=MetricUnit.Milliseconds, value=slack_ms)
    report_monitoring(document)


def report_monitoring(document: RunDocument) -> None:
    """A run's thresholds and monitor: counts, and the monitor's heartbeat (``monitor_runs``, its
    own dimension ``monitor``: the template's alarm fires when it stops)."""
    if document.thresholds:
        failed = sum(t.ok is False for t in document.thresholds)
        metrics.add_metric(name="threshold_failures", unit=MetricUnit.Count, value=failed)
    monitor = document.monitor
    if monitor is None:
        return
    for name, value in (
        ("monitor_transitions", monitor.transitions_total),
        ("alerts_sent", monitor.notified),
        ("alert_failures", monitor.notify_errors),
        ("monitor_state_errors", monitor.state_errors),
    ):
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    with single_metric(
        name="monitor_runs", unit=MetricUnit.Count, value=1, namespace=metrics.namespace
    ) as beat:
        beat.add_dimension(name="monitor", value=monitor.name)
    logger.info("monitor updated", extra={"run_id": document.run_id, "monitor": monitor.to_json()})


def report_shard(message: ShardMessage, report: ShardReport, *, slack_ms: float) -> None:
    """The shard's log line and metrics; a duplicate counts nothing again."""
    h = message.header
    extra: dict[str, Any] = {
        "run_id": h.run_id,
        "shard": message.shard,
        "generation": message.generation,
        "status": report.status,
        "deadline_slack_ms": round(slack_ms, 1),
    }
    metrics.add_dimension(name="source", value=h.source.value)
    metrics.add_metric(name=f"shards_{report.status}", unit=MetricUnit.Count, value=1)
    outcome = report.outcome
    if outcome is not None and report.status != "duplicate":
        counts = outcome.counts()
        extra |= {"counts": counts, "leftovers": len(outcome.leftovers), "given_up": outcome.given_up}
        _count_urls(counts | {"degraded": sum(r.degraded for _, r in outcome.results)})
        if outcome.given_up:
            metrics.add_metric(name="urls_given_up", unit=MetricUnit.Count, value=outcome.given_up)
        context = {"run_id": h.run_id, "shard": message.shard}
        extra["url_warnings_omitted"] = warn_failed_urls(outcome.results, context)
    document = report.document
    if document is not None:
        extra |= {
            "elapsed_ms": _ms(document.elapsed_ms),
            "budget_ms": _ms(document.budget_ms),
            "deadline_reached": document.deadline_reached,
        }
        metrics.add_metric(
            name="run_duration", unit=MetricUnit.Milliseconds, value=document.elapsed_ms or 0.0
        )
    metrics.add_metric(name="deadline_slack", unit=MetricUnit.Milliseconds, value=slack_ms)
    logger.info("shard finished", extra=extra)


def report_invalid(source: str, detail: str, errors: list[dict[str, Any]], total: int | None = None) -> None:
    """Log a refused request: its detail and the problems listed (the first ones), with the total."""
    extra = {"source": source, "detail": detail, "errors": errors, "errors_total": total or len(errors)}
    logger.warning("invalid request", extra=extra)
    metrics.add_dimension(name="source", value=source)
    metrics.add_metric(name="invalid_requests", unit=MetricUnit.Count, value=1)


def dimension_source(source: Source) -> None:
    metrics.add_dimension(name="source", value=source.value)


def count(name: str, value: float = 1, unit: MetricUnit = MetricUnit.Count) -> None:
    """One metric of the orchestration (``persist_duration``, ``shards_sent``, ...)."""
    metrics.add_metric(name=name, unit=unit, value=value)
