"""Powertools' idempotency utility on DynamoDB, its calls on the invocation's own event loop.

Powertools' utility is synchronous: it wraps the synchronous function that runs a request.
Its DynamoDB calls do not go through boto3 (urllib3 resolves names with a blocking
``getaddrinfo`` that no timeout bounds): the persistence layer gets ``LoopClient``, a client
of the boto3 shape whose calls run on the invocation's loop through an aiobotocore client
(its names resolved as the caller's ``AwsClients`` resolve them), each bounded by
``reserve_s`` and by the run's deadline.

This module imports boto3 (through Powertools), a large part of a cold start: it is imported
only when a request has a key and the table is configured (the cost: docs/benchmarks.md).
"""

from __future__ import annotations

import asyncio
import enum
import json
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from functools import partial
from typing import Any, cast

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

from fanout.aws.session import AwsClients
from fanout.core.answers import fit
from fanout.core.documents import RunDocument
from fanout.errors import IdempotencyInProgress, IdempotencyKeyReused

KEY_PREFIX = "fanout.run"
_OPERATIONS = frozenset({"get_item", "put_item", "update_item", "delete_item"})
LoopRunner = Callable[[Coroutine[Any, Any, Any], str], Any]
"""Runs a coroutine to completion on the invocation's loop (``runs.invocation.Invocation.run``)."""


class LoopClient:
    """The boto3-shaped DynamoDB client Powertools' persistence layer calls.

    Each call runs on the invocation's event loop (``run``) with the DynamoDB client of
    ``clients``, within ``reserve_s`` and never past ``limit_at`` (monotonic seconds);
    botocore's own errors (``ConditionalCheckFailedException``) reach Powertools as they are.
    """

    def __init__(self, run: LoopRunner, clients: AwsClients, *, reserve_s: float, limit_at: float) -> None:
        self._run = run
        self._clients = clients
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
                ddb = await self._clients.client("dynamodb")
                return await getattr(ddb, operation)(**kwargs)

        return self._run(call(), f"idempotency {operation}")


class IdempotencyStatus(enum.Enum):
    """How ``run_once`` answered."""

    FIRST = "first"  # ran, and the answer is recorded for duplicates
    REPLAYED = "replayed"  # a duplicate: the first run's answer
    NOT_RECORDED = "not_recorded"  # ran, but the answer could not be recorded
    WITHOUT_TABLE = "without_table"  # the table could not be reached: ran without it


@dataclass(frozen=True, slots=True)
class IdempotentAnswer:
    answer: RunDocument
    how: IdempotencyStatus
    store_error: str | None = None


class _CompactAnswer(BaseIdempotencySerializer):
    """Records the answer as it was, unless it would not fit a DynamoDB item: then with the
    results cut to fit (the full results stay in the report, ``GET /runs/{run_id}``)."""

    def __init__(self, limit_bytes: int) -> None:
        self.limit_bytes = limit_bytes

    def to_dict(self, data: Any) -> dict[str, Any]:
        answer = cast(RunDocument, data)
        if answer.results is not None:
            answer = fit(answer, limit_bytes=self.limit_bytes, report_url=None)
        return answer.to_json()

    def from_dict(self, data: dict[str, Any]) -> Any:
        return RunDocument.from_json(data)


def _mark_replay(response: Any, record: Any) -> Any:
    return cast(RunDocument, response).replaced(replayed=True)


def run_once(
    key: str,
    payload: Any,
    run: Callable[[], RunDocument],
    *,
    table: str,
    expires_s: int,
    max_answer_bytes: int,
    context: Any,
    client: LoopClient,
) -> IdempotentAnswer:
    """``run()`` once per ``key``; a duplicate gets the first answer (``replayed``).

    ``payload`` is the request: the same key with another payload is refused. Failing open:
    when the table cannot be reached before the run, the run happens anyway (a possible
    duplicate beats a lost run); when the answer cannot be recorded after it, it is still
    returned. ``how`` says which happened.
    """
    config = IdempotencyConfig(
        event_key_jmespath="key",
        payload_validation_jmespath="request",
        expires_after_seconds=expires_s,
        response_hook=cast(Any, _mark_replay),
    )
    config.register_lambda_context(context)
    answer: RunDocument | None = None

    def first_run(*, idempotency: dict[str, Any]) -> RunDocument:
        nonlocal answer
        answer = run()
        return answer

    once = idempotent_function(
        first_run,
        data_keyword_argument="idempotency",
        persistence_store=DynamoDBPersistenceLayer(table_name=table, boto3_client=cast(Any, client)),
        config=config,
        output_serializer=_CompactAnswer(max_answer_bytes),
        key_prefix=KEY_PREFIX,
    )
    try:
        result: RunDocument = once(idempotency={"key": key, "request": json.loads(json.dumps(payload))})
    except IdempotencyValidationError:
        raise IdempotencyKeyReused() from None
    except IdempotencyAlreadyInProgressError:
        raise IdempotencyInProgress() from None
    except IdempotencyPersistenceLayerError as exc:
        if answer is not None:
            return IdempotentAnswer(answer, IdempotencyStatus.NOT_RECORDED, str(exc))
        return IdempotentAnswer(run(), IdempotencyStatus.WITHOUT_TABLE, str(exc))
    return IdempotentAnswer(
        result, IdempotencyStatus.REPLAYED if result.replayed else IdempotencyStatus.FIRST
    )
