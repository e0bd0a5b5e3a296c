"""Throughput: N GETs at 50 ms server latency, 100 in flight, against raw aiohttp and the ideal.

Ideal = N / concurrency * latency (every slot always busy, zero client cost). Each
repetition runs every variant once, in order, each in a fresh process, so load drift on
a shared machine hits all of them alike; ratios to aiohttp are taken per repetition
(paired) and their median reported.

Variants: ``aiohttp`` (anchor: one ``ClientSession``, ``Semaphore`` + ``gather``),
``service`` (``fetch_run``, aiohttp transport), ``service-httpcore`` (stock transport),
and two diagnostics splitting the service's overhead: ``aiohttp+engine`` (raw aiohttp
jobs in the service's engine) and ``httpx-client`` (httpx's ``AsyncClient`` over the
service's transport, ``Semaphore`` + ``gather``, no engine or fetcher).
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

from bench.common import BenchError, Row, ScenarioResult, Target, median, ratio, run_worker
from bench.config import BenchConfig

ANCHOR = "aiohttp"
SERVICE = "service"
STOCK = "service-httpcore"
DIAGNOSTICS = ("aiohttp+engine", "httpx-client")
GOAL_WALL = 1.15
GOAL_CPU = 1.5


# --- worker side ---------------------------------------------------------------------------


async def _aiohttp(urls: list[str], concurrency: int) -> list[str]:
    import asyncio

    import aiohttp

    slots = asyncio.Semaphore(concurrency)
    connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(url: str) -> str:
            async with slots, session.get(url) as response:
                await response.read()
                return "ok" if response.status < 400 else f"http_{response.status}"

        return list(await asyncio.gather(*(one(u) for u in urls)))


async def _aiohttp_engine(urls: list[str], concurrency: int) -> list[str]:
    import asyncio

    import aiohttp

    from fanout.core.engine import Job, JobState, run_under_deadline
    from fanout.core.urls import host_key
    from fanout.runs.invocation import fewer_young_collections

    loop = asyncio.get_running_loop()
    connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(url: str) -> int:
            async with session.get(url) as response:
                await response.read()
                return response.status

        jobs = [Job(run=lambda u=u: one(u), key=host_key(u)) for u in urls]  # type: ignore[misc]
        with fewer_young_collections():  # as an invocation runs the engine
            run = await run_under_deadline(
                jobs, deadline=loop.time() + 600, concurrency=concurrency, per_key_concurrency=concurrency
            )
    return ["ok" if r.state is JobState.DONE and (r.value or 0) < 400 else r.state.value for r in run.jobs]


async def _httpx_client(urls: list[str], concurrency: int) -> list[str]:
    import asyncio

    from fanout.config import get_settings
    from fanout.fetch.client import build_client

    SETTINGS = get_settings()

    slots = asyncio.Semaphore(concurrency)
    client = build_client(
        transport="aiohttp",
        concurrency=concurrency,
        per_host_concurrency=concurrency,
        follow_redirects=False,
        max_redirects=0,
        max_header_bytes=SETTINGS.max_header_bytes,
        user_agent=SETTINGS.user_agent,
    )
    async with client:

        async def one(url: str) -> str:
            async with slots:
                response = await client.get(url)
                return "ok" if response.status_code < 400 else f"http_{response.status_code}"

        return list(await asyncio.gather(*(one(u) for u in urls)))


def _service(transport: str) -> Any:
    async def run(urls: list[str], concurrency: int) -> list[str]:
        import asyncio

        from fanout.config import get_settings
        from fanout.core.budget import InvocationClock
        from fanout.core.documents import Source
        from fanout.core.requests import parse_request
        from fanout.runs.fetch_run import RunContext, fetch_run
        from fanout.runs.invocation import fewer_young_collections

        SETTINGS = get_settings()

        settings = SETTINGS.model_copy(update={"http_transport": transport})
        request = parse_request(
            {"urls": urls, "options": {"concurrency": concurrency, "per_host_concurrency": concurrency}},
            settings,
        )
        clock = InvocationClock.begin(600_000, now=asyncio.get_running_loop().time())
        ctx = RunContext(source=Source.DIRECT, deadline=clock.deadline(len(urls), settings))
        started = time.perf_counter()
        with fewer_young_collections():  # as an invocation runs it
            document = (await fetch_run(request, ctx, settings=settings)).to_json()
        _TIMINGS["fanout_s"] = time.perf_counter() - started
        return [r["outcome"] for r in document["results"]]

    return run


_TIMINGS: dict[str, float] = {}
_RUNNERS = {
    ANCHOR: _aiohttp,
    "aiohttp+engine": _aiohttp_engine,
    "httpx-client": _httpx_client,
    SERVICE: _service("aiohttp"),
    STOCK: _service("httpcore"),
}


def work(variant: str, spec: dict[str, Any]) -> dict[str, Any]:
    """One measured run of ``variant`` (after a small warm-up run), in this fresh process."""
    import asyncio
    import gc
    import resource

    runner = _RUNNERS[variant]
    base, n, delay, conc = spec["base_url"], spec["n"], spec["delay_ms"], spec["concurrency"]
    urls = [f"{base}/ok?delay_ms={delay}&i={i}" for i in range(n)]

    async def timed(batch: list[str]) -> tuple[float, float, list[str]]:
        wall0, cpu0 = time.perf_counter(), time.process_time()
        outcomes = await runner(batch, conc)
        return time.perf_counter() - wall0, time.process_time() - cpu0, outcomes

    asyncio.run(timed([f"{base}/ok?i=w{i}" for i in range(spec["warmup"])]))
    gc.collect()
    _TIMINGS.clear()
    wall, cpu, outcomes = asyncio.run(timed(urls))
    usage = resource.getrusage(resource.RUSAGE_SELF)
    failures = [o for o in outcomes if o != "ok"]
    return {
        "n": n,
        "wall_s": wall,
        "cpu_s": cpu,
        "cpu_per_req_ms": cpu / n * 1000,
        "ok": len(outcomes) - len(failures),
        "failures": sorted(set(failures))[:5],
        "fanout_s": _TIMINGS.get("fanout_s"),  # fetch_run alone (without request validation)
        "maxrss_mb": usage.ru_maxrss / 1024,
    }


# --- parent side ---------------------------------------------------------------------------


def _variants(cfg: BenchConfig, n: int, rep: int) -> list[str]:
    names = [ANCHOR, SERVICE]
    if cfg.diagnostics:
        names += list(DIAGNOSTICS)
    if n in cfg.stock_ns and rep < cfg.stock_reps:
        names.append(STOCK)
    return names


def run(cfg: BenchConfig, target: Target) -> ScenarioResult:
    result = ScenarioResult("throughput")
    runs: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for rep in range(cfg.throughput_reps):
        for n in cfg.throughput_ns:
            for variant in _variants(cfg, n, rep):
                spec = {
                    "base_url": target.base_url(),
                    "n": n,
                    "delay_ms": cfg.throughput_delay_ms,
                    "concurrency": cfg.throughput_concurrency,
                    "warmup": cfg.throughput_warmup,
                }
                server_cpu0 = target.cpu_s()
                try:
                    res = run_worker(f"throughput.{variant}", spec, timeout_s=120 + n * 0.05)
                except BenchError as exc:
                    result.errors.append(str(exc))
                    continue
                res["rep"] = rep
                res["server_cpu_per_req_ms"] = (target.cpu_s() - server_cpu0) / n * 1000
                runs[f"{variant}@{n}"].append(res)
                print(
                    f"  throughput {variant:16s} N={n:<5d} rep {rep + 1}: {res['wall_s']:.3f} s, "
                    f"{res['cpu_per_req_ms']:.3f} ms CPU/req, ok {res['ok']}/{n}",
                    flush=True,
                )
    result.raw = {"runs": dict(runs)}
    for n in cfg.throughput_ns:
        result.rows += _rows(cfg, n, runs)
    return result


def _paired(runs: dict[str, list[dict[str, Any]]], variant: str, n: int, key: str) -> float:
    """Median over repetitions of variant/anchor, each pair from the same repetition."""
    anchor = {r["rep"]: r[key] for r in runs.get(f"{ANCHOR}@{n}", [])}
    ratios = [r[key] / anchor[r["rep"]] for r in runs.get(f"{variant}@{n}", []) if r["rep"] in anchor]
    return median(ratios)


def _rows(cfg: BenchConfig, n: int, runs: dict[str, list[dict[str, Any]]]) -> list[Row]:
    ideal = n / cfg.throughput_concurrency * cfg.throughput_delay_ms / 1000
    scen = f"throughput N={n}"
    rows = [Row(scen, "ideal", "wall", ideal, "s", vs_ideal=1.0, note="N/concurrency x latency")]
    order = [ANCHOR, SERVICE, STOCK, *DIAGNOSTICS]
    for variant in order:
        data = runs.get(f"{variant}@{n}")
        if not data:
            continue
        wall = median(r["wall_s"] for r in data)
        cpu = median(r["cpu_per_req_ms"] for r in data)
        ok = min(r["ok"] for r in data)
        note = f"{len(data)} reps" + ("" if ok == n else f"; only {ok}/{n} ok")
        is_service = variant == SERVICE
        is_anchor = variant == ANCHOR
        vs_anchor_wall = None if is_anchor else _paired(runs, variant, n, "wall_s")
        vs_anchor_cpu = None if is_anchor else _paired(runs, variant, n, "cpu_per_req_ms")
        wall_pass = None
        cpu_pass = None
        if is_service:
            assert vs_anchor_wall is not None
            assert vs_anchor_cpu is not None
            wall_pass = ratio(wall, ideal) <= GOAL_WALL and vs_anchor_wall <= GOAL_WALL and ok == n
            cpu_pass = vs_anchor_cpu <= GOAL_CPU and ok == n
        label = variant if variant not in DIAGNOSTICS else f"{variant} (diag)"
        rows.append(
            Row(
                scen,
                label,
                "wall",
                wall,
                "s",
                vs_ideal=ratio(wall, ideal),
                vs_anchor=vs_anchor_wall,
                goal=f"<={GOAL_WALL}x ideal & aiohttp" if is_service else "",
                passed=wall_pass,
                note=note,
            )
        )
        rows.append(
            Row(
                scen,
                label,
                "CPU/request",
                cpu,
                "ms",
                vs_anchor=vs_anchor_cpu,
                goal=f"<={GOAL_CPU}x aiohttp" if is_service else "",
                passed=cpu_pass,
            )
        )
    return rows
