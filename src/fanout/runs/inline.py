"""A run, in this order (docs/persistence.md):

1. the store clients are made (only for stores that are on) and a ``targets`` list is read;
2. a run too large for one invocation is launched as a sharded run instead (answered at once);
3. the fan-out, until the deadline's ``fetch_by``; its thresholds, and for a monitor run the
   monitor's states and alerts, until ``monitor_by`` (docs/monitors.md);
4. the report (S3) and the record (DynamoDB), concurrently, until ``persist_by``; or, for an
   inline run cut by its deadline with ``carry_over``, its leftovers are carried over;
5. the answer, fitted to the response limit (a pointer to the report when too large).

What follows (the idempotency record) has its reserve at the end of the budget, before
``work_by``: ``after_s``.
"""

from __future__ import annotations

from dataclasses import dataclass

from fanout.config import Settings
from fanout.core.budget import InvocationClock, RunDeadline
from fanout.core.documents import Leftovers, RunDocument, RunStatus, Source, StoreStatus
from fanout.core.ids import new_run_id, utc_now_iso
from fanout.core.requests import FanoutRequest, InvokeRequest, TargetsRequest
from fanout.errors import MonitorsOff
from fanout.observability.tracing import RunTrace
from fanout.runs.answers import fit_with_pointer
from fanout.runs.fetch_run import RunContext, fetch_run
from fanout.runs.invocation import Invocation
from fanout.runs.persist import persist
from fanout.runs.shards.launch import check_request, header_for, launch, plan
from fanout.runs.shards.outcome import leftover_indexes
from fanout.runs.shards.plan import RunHeader
from fanout.runs.stores import RunStores, StoreConfig


@dataclass(frozen=True, slots=True)
class RunOutput:
    """A run's whole ``document`` (for the logs and metrics; None for a sharded launch) and its
    ``answer`` (the document fitted to the response limit, or the launch's answer)."""

    document: RunDocument | None
    answer: RunDocument


@dataclass(frozen=True, slots=True)
class _Reserves:
    """What a run's deadline keeps back whatever its length: the invocation's ``cap_s``, and the
    time for the monitor, persistence and what follows the run (``after_s``)."""

    cap_s: float | None
    persist_s: float
    after_s: float
    monitor_s: float

    def deadline(
        self, clock: InvocationClock, n: int, settings: Settings, *, in_flight: int | None = None
    ) -> RunDeadline:
        return clock.deadline(
            n,
            settings,
            in_flight=in_flight,
            cap_s=self.cap_s,
            persist_s=self.persist_s,
            after_s=self.after_s,
            monitor_s=self.monitor_s,
        )


async def run(
    request: InvokeRequest,
    source: Source,
    invocation: Invocation,
    *,
    cap_s: float | None,
    after_s: float,
    trace: RunTrace,
    observation_key: str | None = None,
) -> RunOutput:
    settings, clock = invocation.settings, invocation.clock
    config = StoreConfig.from_settings(settings)
    persist_s = settings.persist_budget_s if config.any_on else 0.0
    run_id, started_at = new_run_id(), utc_now_iso()
    check_request(request.mode, request.carry_over, config)
    if request.monitor is not None and not config.monitors_on:
        raise MonitorsOff("requests with a monitor")
    monitor_s = settings.monitor_budget_s if request.monitor is not None else 0.0
    reserves = _Reserves(cap_s, persist_s, after_s, monitor_s)
    async with RunStores(config) as stores:
        targets = request.targets if isinstance(request, TargetsRequest) else None
        if isinstance(request, TargetsRequest):
            from fanout.runs.targets import read_targets  # S3 lists and sitemaps: only for targets

            # The list's length is unknown yet: the margin of the longest one bounds the read.
            longest = reserves.deadline(clock, settings.max_urls, settings)
            request = await read_targets(stores, request, settings, before=longest.fetch_by)
        n = len(request.urls)
        deadline = reserves.deadline(clock, n, settings, in_flight=min(n, request.options.concurrency))
        header = header_for(request, source, run_id, started_at, observation_key=observation_key)
        mode = plan(
            request, header, settings, sharding_on=config.sharding_on, loc="targets" if targets else "urls"
        )
        if mode == "sharded":  # docs/sharding.md: answered at once, runs on SQS
            answer = await launch(
                request, header, stores, settings, targets=targets, before=deadline.persist_by
            )
            return RunOutput(None, answer)
        ctx = RunContext(source=source, deadline=deadline, run_id=run_id, started_at=started_at)
        return await _inline(request, ctx, header, stores, settings, trace, observation_key, targets)


async def _inline(
    request: FanoutRequest,
    ctx: RunContext,
    header: RunHeader,
    stores: RunStores,
    settings: Settings,
    trace: RunTrace,
    observation_key: str | None,
    targets: str | None,
) -> RunOutput:
    """Steps 3 to 5 in this invocation: the fan-out, its judgement, what is kept, the answer."""
    deadline = ctx.deadline
    await stores.open(before=deadline.fetch_by, monitor=request.monitor is not None)
    document = (await fetch_run(request, ctx, settings=settings, trace=trace)).replaced(targets=targets)
    document = await _judged(document, request, observation_key, stores, settings, deadline)
    document = await _keep(document, request, header, stores, settings, deadline)
    report = document.persisted.report if document.persisted else None
    stored_key = report.key if report and report.status is StoreStatus.STORED else None
    answer = await fit_with_pointer(
        document, stores, settings, report_key=stored_key, before=deadline.work_by
    )
    return RunOutput(document, answer)


async def _judged(
    document: RunDocument,
    request: FanoutRequest,
    key: str | None,
    stores: RunStores,
    settings: Settings,
    deadline: RunDeadline,
) -> RunDocument:
    """The run's thresholds and monitor (``runs.monitor``, imported only by runs that have them)."""
    if not request.options.thresholds and request.monitor is None:
        return document
    from fanout.runs.judging import judged

    return await judged(
        document,
        request.options,
        request.monitor,
        key=key,
        stores=stores,
        settings=settings,
        before=deadline.monitor_by,
        scheduled_at=request.scheduled_at,
    )


async def _keep(
    document: RunDocument,
    request: FanoutRequest,
    header: RunHeader,
    stores: RunStores,
    settings: Settings,
    deadline: RunDeadline,
) -> RunDocument:
    """Persist the run, or carry its leftovers over; the document with what became of them."""
    leftovers = leftover_indexes(document, request.entries())
    if request.carry_over and leftovers:
        from fanout.runs.shards.carry import carry_over  # a continuation: only for leftovers

        carried = await carry_over(
            document, request, header, leftovers, stores, settings, before=deadline.persist_by
        )
        running = carried.continuation.status == RunStatus.RUNNING.value
        return document.replaced(
            leftovers=Leftovers(tuple(leftovers), carried_over=running),
            continuation=carried.continuation,
            persisted=carried.persisted,
        )
    persisted = await persist(document, stores, finished_at=utc_now_iso(), before=deadline.persist_by)
    kept = Leftovers(tuple(leftovers), carried_over=False) if leftovers else None
    return document.replaced(leftovers=kept, persisted=persisted)
