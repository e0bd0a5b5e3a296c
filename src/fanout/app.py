"""From a Lambda event to an answer: adapters -> validation -> deadline -> one run.

The Lambda handler (``handler``) is decorators plus one call to ``handle_event``.
The invocation's clock starts here: the remaining time is read once, on entry, and
the absolute deadline derived from it is passed down.

Each invocation gets its own event loop (``Invocation.run``, an ``asyncio.Runner``
closed before the handler returns): the HTTP client, the store clients (S3, DynamoDB)
and the c-ares channels that resolve their names are created and closed inside it, so
nothing (tasks, sockets, sessions, threads) carries over to the next warm invocation. A
task still alive after a run would be an engine bug: it is logged, and the runner
cancels it rather than leaving a zombie.

A run, in this order (README "Persistence"):

1. the store clients are made (only for stores that are on: ``aioboto3`` is imported
   then, never for a run that persists nothing) and a ``targets`` list is read;
2. the fan-out, until ``fanout_at``;
3. the report (S3) and the record (DynamoDB), concurrently, until ``persist_at``;
4. when the request has an idempotency key, Powertools records the answer (its calls
   run on the same loop, ``idempotency.LoopClient``), within what is left.

The budget is sliced from the end: ``persist_budget_s`` for 3 when a store is on,
the idempotency reserve for 4 when it applies; together never more than half the
budget, so a short invocation still fans out.

A run too large for one invocation (README "Scaling out: sharded runs") is decided
after 1 and launched instead of 2 and 3 (``shard_runs.launch``); an inline run cut by
its deadline with ``carry_over`` hands its leftovers to ``shard_runs.carry_over`` in 3.
The shards themselves arrive as SQS events: ``shard_runs.consume``.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from aws_lambda_powertools.metrics import MetricUnit

from fanout import http_api, problems, shard_runs
from fanout.adapters import classify, is_http_api_event, is_sqs_event
from fanout.config import SETTINGS, Settings
from fanout.contract import (
    FanoutRequest,
    InvokeRequest,
    Source,
    TargetsRequest,
    new_run_id,
    parse_invoke_request,
    utc_now_iso,
)
from fanout.deadline import Deadline, clamp_remaining_ms, compute_deadline
from fanout.errors import RequestInvalid
from fanout.observe import awaited_alone, logger, metrics, report_invalid, report_run
from fanout.problems import ProblemError, validation_problem
from fanout.service import RunContext, run_fanout
from fanout.shards import leftover_indexes
from fanout.store import StoreConfig, StoreError, Stores, answer_size, decode_cursor, fit_answer
from fanout.targets import parse_target_list, resolve, split_s3_uri, unreadable
from fanout.tracing import RunTrace, run_trace

T = TypeVar("T")

_RUN_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


class LambdaContextLike(Protocol):
    def get_remaining_time_in_millis(self) -> int: ...


class Invocation:
    """When the invocation started (monotonic), how long Lambda gave it, and its event loop.

    Everything asynchronous of one invocation runs on one loop (``run``): the fan-out, its
    stores and the idempotency record's calls, each ``run`` awaited alone. ``close`` ends it
    (after the stores' clients are closed in it), before the handler returns.
    """

    __slots__ = ("_runner", "remaining_ms", "started")

    def __init__(self, started: float, remaining_ms: float) -> None:
        self.started = started
        self.remaining_ms = remaining_ms
        self._runner: asyncio.Runner | None = None

    @classmethod
    def begin(cls, context: LambdaContextLike) -> Invocation:
        return cls(
            started=time.monotonic(), remaining_ms=clamp_remaining_ms(context.get_remaining_time_in_millis())
        )

    def run(self, coro: Coroutine[Any, Any, T], what: str) -> T:
        """Run ``coro`` to completion on the invocation's loop; no task of it may outlive it."""
        if self._runner is None:
            self._runner = asyncio.Runner()
        return self._runner.run(awaited_alone(coro, what))

    def close(self) -> None:
        if self._runner is not None:
            self._runner.close()
            self._runner = None

    def slack_ms(self) -> float:
        """Time left before the Lambda timeout, now."""
        return self.remaining_ms - (time.monotonic() - self.started) * 1000

    def deadline(
        self, n_urls: int, settings: Settings, cap_s: float | None = None, in_flight: int | None = None
    ) -> Deadline:
        """The invocation's deadline for ``n_urls``: anchored at its start, whenever asked."""
        return compute_deadline(
            self.remaining_ms,
            n_urls=n_urls,
            settings=settings,
            cap_s=cap_s,
            now=self.started,
            in_flight=in_flight,
        )


@dataclass(frozen=True, slots=True)
class Slices:
    """The run's budget cut from the end: fan-out | persistence | answer record."""

    fanout_at: float
    fanout_budget_s: float
    persist_at: float
    end_at: float

    @classmethod
    def of(cls, deadline: Deadline, *, persist_s: float, after_s: float) -> Slices:
        reserve = persist_s + after_s
        if reserve > deadline.budget_s / 2:
            scale = deadline.budget_s / 2 / reserve
            persist_s, after_s = persist_s * scale, after_s * scale
        return cls(
            fanout_at=deadline.at - persist_s - after_s,
            fanout_budget_s=max(0.0, deadline.budget_s - persist_s - after_s),
            persist_at=deadline.at - after_s,
            end_at=deadline.at,
        )


async def _read_targets(
    stores: Stores, request: TargetsRequest, settings: Settings, before: float
) -> FanoutRequest:
    bucket, key = split_s3_uri(request.targets)
    try:
        body = await stores.read_object(bucket, key, max_bytes=settings.max_targets_bytes, before=before)
    except StoreError as exc:
        raise unreadable(request.targets, f"cannot be read ({exc.error_type}): {exc}") from None
    entries = parse_target_list(request.targets, body, max_urls=settings.max_urls)
    return resolve(request, entries).model_copy(
        update={"mode": request.mode, "carry_over": request.carry_over}
    )


async def _run(
    request: InvokeRequest,
    source: Source,
    invocation: Invocation,
    settings: Settings,
    *,
    cap_s: float | None,
    after_s: float,
    trace: RunTrace,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The run's full document (for the logs and metrics) and its answer."""
    run_id, started_at = new_run_id(), utc_now_iso()
    stores_config = StoreConfig.from_settings(settings)
    persist_s = settings.persist_budget_s if stores_config.any_on else 0.0

    def slices(n_urls: int, in_flight: int | None = None) -> Slices:
        deadline = invocation.deadline(n_urls, settings, cap_s, in_flight)
        return Slices.of(deadline, persist_s=persist_s, after_s=after_s)

    shard_runs.check_request(request.mode, request.carry_over, settings)
    async with Stores(stores_config) as stores:
        targets = request.targets if isinstance(request, TargetsRequest) else None
        if isinstance(request, TargetsRequest):
            # The list's length is unknown yet: the margin of the longest one bounds the read.
            request = await _read_targets(
                stores, request, settings, before=slices(settings.max_urls).fanout_at
            )
        plan = slices(len(request.urls), in_flight=min(len(request.urls), request.options.concurrency))
        mode, header = shard_runs.plan(
            request,
            source,
            settings,
            run_id=run_id,
            started_at=started_at,
            loc="targets" if targets else "urls",
        )
        if mode == "sharded":  # README "Scaling out: sharded runs": answered at once, runs on SQS
            answer = await shard_runs.launch(
                request, header, stores, settings, targets=targets, before=plan.persist_at
            )
            return answer, answer
        await stores.open(s3=stores_config.reports_on, dynamodb=stores_config.runs_on, before=plan.fanout_at)
        ctx = RunContext(
            source=source,
            deadline=plan.fanout_at,
            budget_s=plan.fanout_budget_s,
            run_id=run_id,
            started_at=started_at,
        )
        document = await run_fanout(request, ctx, trace=trace)
        if targets is not None:
            document["targets"] = targets
        leftovers = leftover_indexes(document, request.entries())
        added: dict[str, Any] = {}
        if request.carry_over and leftovers:
            carried = await shard_runs.carry_over(
                document, request, header, leftovers, stores, settings, before=plan.persist_at
            )
            persisted = carried.persisted
            added["continuation"] = carried.continuation or {"status": "not_started", "error": carried.error}
        else:
            persisted = await stores.persist(document, finished_at=utc_now_iso(), before=plan.persist_at)
        if leftovers:
            carried_over = added.get("continuation", {}).get("status") == shard_runs.RUNNING
            added = {
                "leftovers": {"count": len(leftovers), "indexes": leftovers, "carried_over": carried_over}
            } | added
        document = {k: v for k, v in document.items() if k != "results"} | {
            **added,
            "persisted": persisted,
            "results": document["results"],
        }
        report = persisted["report"]
        stored_key = report["key"] if report["status"] == "stored" else None
        return document, await _fit(document, stores, settings, report_key=stored_key, before=plan.end_at)


async def _fit(
    document: dict[str, Any], stores: Stores, settings: Settings, *, report_key: str | None, before: float
) -> dict[str, Any]:
    """The answer: ``document``, or when too large to return, a pointer to its stored report
    (``report_key``), or without one, the results cut to fit."""
    size = answer_size(document)
    if size <= settings.max_answer_bytes:
        return document
    url = None
    if report_key is not None:
        try:
            url = await stores.presign(report_key, before)
        except StoreError as exc:
            logger.warning("report URL not signed", extra={"error": str(exc)})
    return fit_answer(
        document,
        limit_bytes=settings.max_answer_bytes,
        report_url=url,
        url_expires_s=settings.report_url_expires_s,
        size=size,
    )


def run_request(
    request: InvokeRequest,
    source: Source,
    invocation: Invocation,
    *,
    cap_s: float | None = None,
    after_s: float = 0.0,
) -> dict[str, Any]:
    """Run one validated request to completion within the invocation's deadline.

    ``after_s`` is kept at the end of the budget for what follows the run (the
    idempotency record). Raises ``ProblemError`` when a target list is unusable.
    """
    settings = SETTINGS
    n_urls = len(request.urls) if isinstance(request, FanoutRequest) else 0
    with run_trace("## fanout run", n_urls=n_urls, source=source) as trace:
        document, answer = invocation.run(
            _run(request, source, invocation, settings, cap_s=cap_s, after_s=after_s, trace=trace), "run"
        )
    if "results" in document:  # a sharded run's launch reports itself (shard_runs.launch)
        report_run(document, slack_ms=invocation.slack_ms())
    return answer


def run_keyed(
    request: InvokeRequest,
    source: Source,
    invocation: Invocation,
    context: LambdaContextLike,
    *,
    key: str | None,
    payload: Any,
    cap_s: float | None = None,
) -> dict[str, Any]:
    """``run_request``, once per idempotency ``key`` when the idempotency table is configured."""
    settings = SETTINGS
    if not key or not settings.idempotency_table_name:
        return run_request(request, source, invocation, cap_s=cap_s)
    from fanout import idempotency  # boto3 and Powertools' utility: only when used

    n_urls = len(request.urls) if isinstance(request, FanoutRequest) else settings.max_urls
    reserve_s = idempotency.reserve_s(settings)
    stores = Stores(idempotency.store_config(settings))
    client = idempotency.LoopClient(
        invocation.run,
        stores,
        reserve_s=reserve_s,
        limit_at=invocation.deadline(n_urls, settings, cap_s).at,
    )
    try:
        return idempotency.run_once(
            key,
            payload,
            lambda: run_request(request, source, invocation, cap_s=cap_s, after_s=reserve_s),
            settings=settings,
            context=context,
            client=client,
        )
    finally:
        invocation.run(stores.__aexit__(None, None, None), "idempotency clients")


# -- reading runs back (the HTTP API) ---------------------------------------------------


async def _get_run(run_id: str, config: StoreConfig, settings: Settings, deadline: float) -> dict[str, Any]:
    async with Stores(config) as stores:
        try:
            record = await stores.get_record(run_id, deadline)
        except StoreError as exc:
            raise ProblemError(problems.store_unavailable(str(exc))) from None
        if record is None:
            raise ProblemError(problems.run_not_found(run_id))
        location = record.get("report") or {}
        answer = shard_runs.public_view(record)
        if shard_runs.without_results(record):  # progress only; the results once it is complete
            return answer | {"results": None}
        if not (config.reports_on and location.get("key")):
            answer |= {
                "results": None,
                "results_error": {"type": "ReportOff", "message": "no report was kept"},
            }
            return answer
        try:
            report = await stores.get_report(location["key"], deadline)
        except StoreError as exc:
            answer |= {"results": None, "results_error": {"type": exc.error_type, "message": str(exc)}}
            return answer
        answer["results"] = report.get("results", [])
        return await _fit(answer, stores, settings, report_key=location["key"], before=deadline)


async def _list_runs(limit: int, cursor: str | None, config: StoreConfig, deadline: float) -> dict[str, Any]:
    start = None
    if cursor is not None:
        start = decode_cursor(cursor)
        if start is None:
            raise ProblemError(problems.bad_cursor())
    async with Stores(config) as stores:
        try:
            runs, next_cursor = await stores.list_records(limit, start, deadline)
        except StoreError as exc:
            raise ProblemError(problems.store_unavailable(str(exc))) from None
    return {"runs": [shard_runs.public_view(r) for r in runs], "limit": limit, "next_cursor": next_cursor}


@dataclass(frozen=True, slots=True)
class ApiBackend:
    """What the HTTP front door asks of the service, within the invocation's deadline."""

    invocation: Invocation
    context: LambdaContextLike

    def run(self, request: FanoutRequest, source: Source, idempotency_key: str | None) -> dict[str, Any]:
        payload = request.model_dump(mode="json", by_alias=True)
        cap_s = SETTINGS.api_deadline_cap_s
        return run_keyed(
            request, source, self.invocation, self.context, key=idempotency_key, payload=payload, cap_s=cap_s
        )

    def _stores(self) -> tuple[StoreConfig, float]:
        settings = SETTINGS
        config = StoreConfig.from_settings(settings)
        if not config.runs_on:
            raise ProblemError(problems.runs_not_kept("run records"))
        deadline = self.invocation.deadline(0, settings, cap_s=settings.api_deadline_cap_s)
        return config, deadline.at

    def get_run(self, run_id: str) -> dict[str, Any]:
        metrics.add_metric(name="run_reads", unit=MetricUnit.Count, value=1)
        if not _RUN_ID.match(run_id):
            raise ProblemError(problems.run_not_found(run_id))
        config, deadline = self._stores()
        return self.invocation.run(_get_run(run_id, config, SETTINGS, deadline), "run read")

    def list_runs(self, limit: int, cursor: str | None) -> dict[str, Any]:
        metrics.add_metric(name="run_listings", unit=MetricUnit.Count, value=1)
        config, deadline = self._stores()
        return self.invocation.run(_list_runs(limit, cursor, config, deadline), "run listing")


def handle_event(event: object, context: LambdaContextLike) -> dict[str, Any]:
    """Answer any of the three ways in, and the shard queue; bad input gets a typed error,
    never an exception."""
    invocation = Invocation.begin(context)
    try:
        return _dispatch(event, context, invocation)
    finally:
        invocation.close()


def _dispatch(event: object, context: LambdaContextLike, invocation: Invocation) -> dict[str, Any]:
    if is_sqs_event(event):  # shards of sharded runs (README "Scaling out: sharded runs")
        assert isinstance(event, dict)
        return shard_runs.consume(event, context, SETTINGS)
    if is_http_api_event(event):
        assert isinstance(event, dict)
        return http_api.resolve(event, context, ApiBackend(invocation, context))
    inbound = classify(event)
    try:
        request = parse_invoke_request(inbound.payload)
    except RequestInvalid as exc:
        problem = validation_problem(exc.detail, exc.errors, exc.total)
        report_invalid(inbound.source, problem.detail, problem.listed_errors(), exc.total)
        return problem.invoke_error()
    key = f"{inbound.source}:{inbound.event_id}" if inbound.event_id else None
    try:
        return run_keyed(request, inbound.source, invocation, context, key=key, payload=inbound.payload)
    except ProblemError as exc:
        problem = exc.problem
        report_invalid(inbound.source, problem.detail, problem.listed_errors(), problem.errors_total)
        return problem.invoke_error()
