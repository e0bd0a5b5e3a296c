"""Duplicates get the first answer: Powertools' idempotency utility on DynamoDB.

EventBridge delivers at least once and Lambda retries failed asynchronous invokes; an
API client may retry a POST. Each carries a key: the EventBridge event id (or the
schedule's ``event_id``, built from EventBridge Scheduler's schedule ARN and scheduled
time, stable across retries), or the ``Idempotency-Key`` header of an API request
(scoped to the caller). No key, no idempotency. ``IDEMPOTENCY_TABLE_NAME`` unset: off.

Powertools' utility is synchronous (boto3): it wraps the synchronous function that
runs a request, around the run's own event loop. Its calls are bounded by botocore
(connect and read timeouts, one attempt): ``reserve_s`` is what the run leaves for the
record of its answer after it, out of its deadline.

Failing open: when the table cannot be reached before the run, the run happens
anyway (a possible duplicate beats a lost run); when the answer cannot be recorded
after it, the answer is still returned. Both are logged and counted.

This module imports boto3 (~150 ms): ``app`` imports it only when a request has a key
and the table is configured.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any, cast

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyPersistenceLayerError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.idempotency.serialization.base import BaseIdempotencySerializer
from botocore.config import Config

from fanout import problems
from fanout.config import Settings
from fanout.observe import logger, metrics
from fanout.problems import ProblemError
from fanout.store import fit_answer

KEY_PREFIX = "fanout.run"


def reserve_s(settings: Settings) -> float:
    """The worst case of recording the answer after the run: one attempt, connect + read."""
    return settings.store_connect_timeout_s + settings.store_read_timeout_s


_LAYERS: dict[tuple[str, float, float, str | None], DynamoDBPersistenceLayer] = {}


def _persistence(settings: Settings) -> DynamoDBPersistenceLayer:
    """One persistence layer (and boto3 client) per table for the process, as Powertools advises.

    The endpoint is only part of the key: botocore reads ``AWS_ENDPOINT_URL`` itself; a
    local run pointed elsewhere (moto) gets a client of its own.
    """
    endpoint = os.environ.get("AWS_ENDPOINT_URL_DYNAMODB") or os.environ.get("AWS_ENDPOINT_URL")
    key = (
        settings.idempotency_table_name,
        settings.store_connect_timeout_s,
        settings.store_read_timeout_s,
        endpoint,
    )
    if key not in _LAYERS:
        config = Config(
            connect_timeout=settings.store_connect_timeout_s,
            read_timeout=settings.store_read_timeout_s,
            retries={"mode": "standard", "total_max_attempts": 1},
        )
        _LAYERS[key] = DynamoDBPersistenceLayer(
            table_name=settings.idempotency_table_name, boto_config=config
        )
    return _LAYERS[key]


def close_clients() -> None:
    """Close the process's boto3 clients (tests and tools; Lambda keeps them for warm starts)."""
    while _LAYERS:
        _, layer = _LAYERS.popitem()
        layer.client.close()


class _CompactAnswer(BaseIdempotencySerializer):
    """Stores the answer as it was, unless it would not fit a DynamoDB item: then with the
    results cut to fit (the full results stay in the report, ``GET /runs/{run_id}``)."""

    def __init__(self, limit_bytes: int) -> None:
        self.limit_bytes = limit_bytes

    def to_dict(self, data: Any) -> dict[str, Any]:
        answer = cast(dict[str, Any], data)
        if "results" not in answer:
            return answer
        return fit_answer(answer, limit_bytes=self.limit_bytes, report_url=None)

    def from_dict(self, data: dict[str, Any]) -> Any:
        return data


def _mark_replay(response: Any, record: Any) -> Any:
    """A duplicate: answered from the record of the first run, marked as such."""
    metrics.add_metric(name="idempotent_replays", unit=MetricUnit.Count, value=1)
    if not isinstance(response, dict):  # pragma: no cover - every answer is a document
        return response
    logger.info("duplicate answered with the first run's answer", extra={"run_id": response.get("run_id")})
    return {**response, "replayed": True}


def run_once(
    key: str,
    payload: Any,
    run: Callable[[], dict[str, Any]],
    *,
    settings: Settings,
    context: Any,
) -> dict[str, Any]:
    """``run()`` once per ``key``; a duplicate gets the first answer (``"replayed": true``).

    ``payload`` is the request: the same key with another payload is refused.
    """
    config = IdempotencyConfig(
        event_key_jmespath="key",
        payload_validation_jmespath="request",
        expires_after_seconds=settings.idempotency_expires_s,
        response_hook=cast(Any, _mark_replay),
    )
    config.register_lambda_context(context)
    answer: dict[str, Any] | None = None

    def first_run(*, idempotency: dict[str, Any]) -> dict[str, Any]:
        nonlocal answer
        answer = run()
        return answer

    once = idempotent_function(
        first_run,
        data_keyword_argument="idempotency",
        persistence_store=_persistence(settings),
        config=config,
        output_serializer=_CompactAnswer(settings.idempotency_max_answer_bytes),
        key_prefix=KEY_PREFIX,
    )
    try:
        result: dict[str, Any] = once(idempotency={"key": key, "request": json.loads(json.dumps(payload))})
    except IdempotencyValidationError:
        raise ProblemError(problems.idempotency_key_reused()) from None
    except IdempotencyAlreadyInProgressError:
        raise ProblemError(problems.idempotency_in_progress()) from None
    except IdempotencyPersistenceLayerError as exc:
        metrics.add_metric(name="idempotency_store_failures", unit=MetricUnit.Count, value=1)
        if answer is not None:
            logger.warning("answer not recorded for duplicates", extra={"error": str(exc)})
            return answer
        logger.warning("idempotency store unreachable: running without it", extra={"error": str(exc)})
        return run()
    return result
