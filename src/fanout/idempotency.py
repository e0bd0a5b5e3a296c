"""Duplicates get the first answer: Powertools' idempotency utility on DynamoDB.

EventBridge delivers at least once and Lambda retries failed asynchronous invokes; an
API client may retry a POST. Each carries a key: the EventBridge event id (or the
schedule's ``event_id``, built from EventBridge Scheduler's schedule ARN and scheduled
time, stable across retries), or the ``Idempotency-Key`` header of an API request
(scoped to the caller). No key, no idempotency. ``IDEMPOTENCY_TABLE_NAME`` unset: off.

Powertools' utility is synchronous: it wraps the synchronous function that runs a request.
Its DynamoDB calls do not go through boto3 (urllib3 resolves names with a blocking
``getaddrinfo`` that no timeout bounds): the persistence layer gets ``LoopClient``, a
client of the boto3 shape whose calls run on the invocation's own event loop through
the run's aiobotocore client (names resolved by c-ares, ``fanout.dns``), each bounded by
``reserve_s`` and by the run's deadline. ``reserve_s`` is what the run leaves for the
record of its answer after it.

Failing open: when the table cannot be reached before the run, the run happens
anyway (a possible duplicate beats a lost run); when the answer cannot be recorded
after it, the answer is still returned. Both are logged and counted.

This module imports boto3 (~150 ms): ``app`` imports it only when a request has a key
and the table is configured.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Coroutine
from functools import partial
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

from fanout import problems
from fanout.config import Settings
from fanout.observe import logger, metrics
from fanout.problems import ProblemError
from fanout.store import StoreConfig, Stores, fit_answer

KEY_PREFIX = "fanout.run"
_OPERATIONS = frozenset({"get_item", "put_item", "update_item", "delete_item"})

LoopRunner = Callable[[Coroutine[Any, Any, Any], str], Any]


def reserve_s(settings: Settings) -> float:
    """The worst case of recording the answer after the run: one attempt, connect + read."""
    return settings.store_connect_timeout_s + settings.store_read_timeout_s


def store_config(settings: Settings) -> StoreConfig:
    """The idempotency table's client: one attempt (the reserve covers no retry)."""
    return StoreConfig(
        connect_timeout_s=settings.store_connect_timeout_s,
        read_timeout_s=settings.store_read_timeout_s,
        max_attempts=1,
    )


class LoopClient:
    """The boto3-shaped DynamoDB client Powertools' persistence layer calls.

    Each call runs on the invocation's event loop (``run``) with the aiobotocore client of
    ``stores``, within ``reserve_s`` and never past ``limit_at`` (monotonic seconds);
    botocore's own errors (``ConditionalCheckFailedException``) reach Powertools as they are.
    """

    def __init__(self, run: LoopRunner, stores: Stores, *, reserve_s: float, limit_at: float) -> None:
        self._run = run
        self._stores = stores
        self._reserve_s = reserve_s
        self._limit_at = limit_at

    def __getattr__(self, operation: str) -> Callable[..., Any]:
        if operation not in _OPERATIONS:
            raise AttributeError(operation)
        return partial(self._call, operation)

    def _call(self, operation: str, **kwargs: Any) -> Any:
        async def call() -> Any:
            until = min(time.monotonic() + self._reserve_s, self._limit_at)
            async with asyncio.timeout_at(until):
                ddb = await self._stores.client("dynamodb")
                return await getattr(ddb, operation)(**kwargs)

        return self._run(call(), f"idempotency {operation}")


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
    client: LoopClient,
) -> dict[str, Any]:
    """``run()`` once per ``key``; a duplicate gets the first answer (``"replayed": true``).

    ``payload`` is the request: the same key with another payload is refused. ``client``
    carries the table's calls (``LoopClient``).
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

    persistence = DynamoDBPersistenceLayer(
        table_name=settings.idempotency_table_name, boto3_client=cast(Any, client)
    )
    once = idempotent_function(
        first_run,
        data_keyword_argument="idempotency",
        persistence_store=persistence,
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
