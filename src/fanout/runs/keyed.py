"""Duplicates get the first answer: a run once per idempotency key (``aws.idempotency``).

EventBridge delivers at least once and Lambda retries failed asynchronous invokes; an API
client may retry a POST. Each carries a key: the EventBridge event id (or the schedule's
``event_id``, built from EventBridge Scheduler's schedule ARN and scheduled time, stable
across retries), or the ``Idempotency-Key`` header of an API request (scoped to the caller).
No key, no idempotency. ``IDEMPOTENCY_TABLE_NAME`` unset: off.

The table's calls run on the invocation's loop, each within ``reserve_s`` (the worst case of
one attempt: connect + read) and never past the run's deadline; the run keeps ``reserve_s``
at the end of its budget for the record of its answer. Failing open: a table that cannot be
reached costs a possible duplicate, never the run or its answer; both are logged and counted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fanout.aws.session import AwsClients, ClientConfig
from fanout.config import Settings
from fanout.core.documents import RunDocument
from fanout.observability.log import logger
from fanout.runs import report
from fanout.runs.invocation import Invocation
from fanout.runs.stores import c_ares


def reserve_s(settings: Settings) -> float:
    """The worst case of recording the answer after the run: one attempt, connect + read."""
    return settings.store_connect_timeout_s + settings.store_read_timeout_s


def run_once(
    key: str,
    payload: Any,
    run: Callable[[float], RunDocument],
    invocation: Invocation,
    *,
    n_urls: int,
    cap_s: float | None,
) -> RunDocument:
    """``run(after_s)`` once per ``key``; a duplicate gets the first answer (``replayed``)."""
    from fanout.aws import idempotency  # boto3 and Powertools' utility: only when used

    settings = invocation.settings
    reserve = reserve_s(settings)
    clients = AwsClients(ClientConfig.from_settings(settings, max_attempts=1), dns=c_ares)
    client = idempotency.LoopClient(
        invocation.run,
        clients,
        reserve_s=reserve,
        limit_at=invocation.clock.deadline(n_urls, settings, cap_s=cap_s).work_by,
    )
    try:
        once = idempotency.run_once(
            key,
            payload,
            lambda: run(reserve),
            table=settings.idempotency_table_name,
            expires_s=settings.idempotency_expires_s,
            max_answer_bytes=settings.idempotency_max_answer_bytes,
            context=invocation.context,
            client=client,
        )
    finally:
        invocation.run(clients.__aexit__(None, None, None), "idempotency clients")
    if once.how is idempotency.IdempotencyStatus.REPLAYED:
        report.count("idempotent_replays")
        logger.info("duplicate answered with the first run's answer", extra={"run_id": once.answer.run_id})
    elif once.how is idempotency.IdempotencyStatus.NOT_RECORDED:
        report.count("idempotency_store_failures")
        logger.warning("answer not recorded for duplicates", extra={"error": once.store_error})
    elif once.how is idempotency.IdempotencyStatus.WITHOUT_TABLE:
        report.count("idempotency_store_failures")
        logger.warning("idempotency store unreachable: running without it", extra={"error": once.store_error})
    return once.answer
