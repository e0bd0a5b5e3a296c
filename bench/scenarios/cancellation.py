"""Cancellation safety: does the client's connection pool survive cancelled requests?

Each cycle starts ``per_cycle`` (20) fetches through the service's fetch path
(``Fetcher.fetch`` on a client from ``build_client``) on a pool of ``connections`` (10),
so half of them wait inside the pool, against ``/ok`` answering after a random 5-50 ms,
and cancels them all at a random 0-30 ms: cancellations land while connecting, while
queued for a pool slot, while waiting for headers and while reading the body. After
all cycles, with nothing running, a pool slot still held is a leak:

- aiohttp: connections in ``connector._acquired`` and waiters still queued;
- httpcore: connections neither idle nor closed, and requests still in ``pool._requests``.

Then ``followups`` (200) fetches of ``/ok`` go through the same client at once, each
bounded by a 10 s timeout: all must succeed. Finally the client is closed and the
target must see its connections go (server-side count back to 0).

Variants: ``service`` (aiohttp transport) and ``service-httpcore`` (stock transport, the
anchor for httpcore's known pool-slot leaks: #1093, #961, #1110).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from bench.common import BenchError, Row, ScenarioResult, Target, median, run_worker
from bench.config import BenchConfig

if TYPE_CHECKING:
    from fanout.fetch.client import FanoutClient
    from fanout.fetch.fetcher import Fetcher

VARIANTS = {"service": "aiohttp", "service-httpcore": "httpcore"}
FOLLOWUP_TIMEOUT_S = 10.0


def _pool_leaks(client: Any) -> dict[str, int]:
    """Pool slots held with nothing running (the client is otherwise idle)."""
    transport = client.transport  # fanout.fetch.client.FanoutClient names it
    pool = getattr(transport, "_pool", None)
    if pool is not None:  # httpcore
        connections = list(pool.connections)
        busy = [c for c in connections if not (c.is_idle() or c.is_closed())]
        return {
            "leaked": len(busy) + len(pool._requests),
            "busy_connections": len(busy),
            "stale_requests": len(pool._requests),
            "pool_connections": len(connections),
        }
    session = transport.client  # httpx_aiohttp: the ClientSession once a request was made
    connector = getattr(session, "connector", None)
    if connector is None:
        return {"leaked": 0, "busy_connections": 0, "stale_requests": 0, "pool_connections": 0}
    acquired = len(connector._acquired)
    waiters = sum(len(w) for w in connector._waiters.values())
    idle = sum(len(c) for c in connector._conns.values())
    return {
        "leaked": acquired + waiters,
        "busy_connections": acquired,
        "stale_requests": waiters,
        "pool_connections": acquired + idle,
    }


def work(variant: str, spec: dict[str, Any]) -> dict[str, Any]:
    """All cycles, the leak count, the follow-ups, in this fresh process."""
    import asyncio

    return asyncio.run(_cycles_then_followups(variant, spec))


async def _cycles_then_followups(variant: str, spec: dict[str, Any]) -> dict[str, Any]:
    """One client through the cancelled cycles, its pool checked before and after the follow-ups."""
    import asyncio

    client, fetcher = _client_and_fetcher(variant, spec["connections"])
    far = asyncio.get_running_loop().time() + 3600
    started = time.perf_counter()
    completed, cancelled = await _cancelled_cycles(fetcher, spec, far)
    cycles_s = time.perf_counter() - started
    await asyncio.sleep(0.05)  # let closing transports finish their callbacks
    leaks = _pool_leaks(client)
    followups = await _followups(fetcher, spec, far)
    leaks_after = _pool_leaks(client)
    return {
        "cycles": spec["cycles"],
        "cycles_s": cycles_s,
        "completed_before_cancel": completed,
        "cancelled": cancelled,
        **leaks,
        "leaked_after_followups": leaks_after["leaked"],
        **followups,
        "client_closed": await _closed(client),
    }


def _client_and_fetcher(variant: str, conns: int) -> tuple[FanoutClient, Fetcher]:
    """The service's client (``variant``'s transport) on a pool of ``conns``, and a fetcher over it."""
    from fanout.config import get_settings
    from fanout.fetch.client import build_client
    from fanout.fetch.fetcher import Fetcher, FetchPolicy

    settings = get_settings()
    client = build_client(
        transport=VARIANTS[variant],  # type: ignore[arg-type]
        concurrency=conns,
        per_host_concurrency=conns,
        follow_redirects=False,
        max_redirects=0,
        max_header_bytes=settings.max_header_bytes,
        user_agent=settings.user_agent,
    )
    policy = FetchPolicy(
        request_timeout_s=FOLLOWUP_TIMEOUT_S,
        retries=0,
        follow_redirects=False,
        max_redirects=0,
        max_body_bytes=1 << 20,
    )
    return client, Fetcher(client, policy)


async def _cancelled_cycles(fetcher: Fetcher, spec: dict[str, Any], far: float) -> tuple[int, int]:
    """Each cycle's fetches cancelled at a random instant: how many had completed, how many were cancelled."""
    import asyncio
    import random

    from fanout.core.requests import UrlEntry
    from fanout.fetch.fetcher import FetchProgress

    rng = random.Random(spec["seed"])
    base = spec["base_url"]
    completed = cancelled = 0
    for cycle in range(spec["cycles"]):
        tasks = [
            asyncio.create_task(
                fetcher.fetch(
                    UrlEntry(url=f"{base}/ok?delay_ms={rng.randint(5, 50)}&bytes=512&c={cycle}&i={i}"),
                    deadline=far,
                    progress=FetchProgress(),
                )
            )
            for i in range(spec["per_cycle"])
        ]
        await asyncio.sleep(rng.uniform(0, spec["cancel_max_ms"] / 1000))
        for task in tasks:
            task.cancel()
        for outcome in await asyncio.gather(*tasks, return_exceptions=True):
            if isinstance(outcome, asyncio.CancelledError):
                cancelled += 1
            else:
                completed += 1
    return completed, cancelled


async def _followups(fetcher: Fetcher, spec: dict[str, Any], far: float) -> dict[str, Any]:
    """``followups`` fetches at once through the same client: how many succeeded, how long it took."""
    import asyncio

    from fanout.core.requests import UrlEntry
    from fanout.core.results import Outcome
    from fanout.fetch.fetcher import FetchProgress

    base = spec["base_url"]
    started = time.perf_counter()
    followups = await asyncio.gather(
        *(
            fetcher.fetch(UrlEntry(url=f"{base}/ok?f={i}"), deadline=far, progress=FetchProgress())
            for i in range(spec["followups"])
        )
    )
    followups_s = time.perf_counter() - started
    return {
        "followups": spec["followups"],
        "followups_ok": sum(1 for r in followups if r.outcome is Outcome.OK),
        "followups_s": followups_s,
        "followup_failures": sorted({r.error.type for r in followups if r.error is not None}),
    }


async def _closed(client: FanoutClient) -> bool:
    """Whether the client closes within 10 s."""
    import asyncio

    try:
        async with asyncio.timeout(10):
            await client.aclose()
    except TimeoutError:
        return False
    return True


def run(cfg: BenchConfig, target: Target) -> ScenarioResult:
    result = ScenarioResult("cancellation")
    runs = _measure(cfg, target, result.errors)
    result.raw = {"runs": runs}
    for variant, data in runs.items():
        if data:
            result.rows += _rows(cfg, variant, data)
    return result


def _measure(cfg: BenchConfig, target: Target, errors: list[str]) -> dict[str, list[dict[str, Any]]]:
    """``cancel_reps`` workers per variant, each followed by the target's count of connections left."""
    runs: dict[str, list[dict[str, Any]]] = {v: [] for v in VARIANTS}
    for rep in range(cfg.cancel_reps):
        for variant in VARIANTS:
            spec = {
                "base_url": target.base_url(),
                "cycles": cfg.cancel_cycles,
                "per_cycle": cfg.cancel_per_cycle,
                "connections": cfg.cancel_connections,
                "cancel_max_ms": cfg.cancel_max_ms,
                "followups": cfg.cancel_followups,
                "seed": cfg.seed + rep,
            }
            try:
                res = run_worker(f"cancellation.{variant}", spec, timeout_s=300)
            except BenchError as exc:
                errors.append(str(exc))
                continue
            # Server side: once the client is closed, none of its connections may remain.
            res["server_open_after_close"] = target.wait_idle("open_connections", timeout_s=3.0)
            runs[variant].append(res)
            print(
                f"  cancellation {variant:16s} rep {rep + 1}: leaked {res['leaked']}, "
                f"follow-ups {res['followups_ok']}/{res['followups']}, "
                f"server connections after close {res['server_open_after_close']}",
                flush=True,
            )
    return runs


def _rows(cfg: BenchConfig, variant: str, data: list[dict[str, Any]]) -> list[Row]:
    """One variant's worst leak and worst follow-ups over its reps; the goals apply to the service only."""
    is_service = variant == "service"
    worst_leak = max(r["leaked"] for r in data)
    worst_ok = min(r["followups_ok"] for r in data)
    server_left = max(r["server_open_after_close"] for r in data)
    scen = f"cancellation {cfg.cancel_cycles}x{cfg.cancel_per_cycle}"
    note = (
        f"{len(data)} reps, worst; {median(r['completed_before_cancel'] for r in data):.0f} done "
        f"before cancel; server conns after close {server_left}"
    )
    return [
        Row(
            scen,
            variant,
            "leaked slots",
            worst_leak,
            "",
            goal="0" if is_service else "",
            passed=(worst_leak == 0 and server_left == 0) if is_service else None,
            note=note,
        ),
        Row(
            scen,
            variant,
            "follow-ups ok",
            worst_ok,
            f"/{cfg.cancel_followups}",
            goal=f"{cfg.cancel_followups}/{cfg.cancel_followups}" if is_service else "",
            passed=(worst_ok == cfg.cancel_followups) if is_service else None,
        ),
    ]
