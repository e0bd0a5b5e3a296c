"""CPU-bound: N GETs at 0 ms server latency, 100 in flight, keep-alive, on both event loops.

With no latency to wait on, the client's CPU per request is the whole story: on Lambda it
sets the cost per URL and the ceiling on requests per second. The service (request parsing,
``fetch_run`` and the answer's JSON) runs beside raw aiohttp (``Semaphore`` + ``gather``,
the anchor) on the *same* loop, for uvloop (the service's default) and for asyncio's own
loop. The service runs as the function does: after the handler's init (``import
fanout.handler``), on an ``Invocation``'s loop. Each repetition runs every variant once, in
order, each in a fresh process; ratios to the anchor are paired per repetition and loop,
and their median reported. The target server shares the machine: wall time includes its
share of the 2 cores, for the anchor and the service alike.
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

from bench.common import BenchError, Row, ScenarioResult, Target, median, ratio, run_worker
from bench.config import BenchConfig

ANCHOR = "aiohttp"
SERVICE = "service"
LOOPS = ("uvloop", "asyncio")
GOAL_CPU = 1.3
GOAL_WALL = 1.3


# --- worker side ---------------------------------------------------------------------------


def work(variant: str, spec: dict[str, Any]) -> dict[str, Any]:
    """One measured run of ``variant`` on ``spec["loop"]`` (after a warm-up), in this process."""
    import asyncio
    import gc

    from bench.scenarios import throughput
    from fanout.config import get_settings
    from fanout.core.budget import InvocationClock
    from fanout.runs.invocation import Invocation, loop_factory

    if variant == SERVICE:  # the function's init, as on Lambda (its imports then frozen out of the GC)
        import fanout.handler  # noqa: F401
    runner = throughput._aiohttp if variant == ANCHOR else throughput._service("aiohttp")
    factory = loop_factory(spec["loop"])
    settings = get_settings().model_copy(update={"event_loop": spec["loop"]})
    base, n, conc = spec["base_url"], spec["n"], spec["concurrency"]
    urls = [f"{base}/ok?i={i}" for i in range(n)]

    async def timed(batch: list[str]) -> tuple[float, float, list[str], str]:
        wall0, cpu0 = time.perf_counter(), time.process_time()
        outcomes = await runner(batch, conc)
        loop_type = type(asyncio.get_running_loop()).__module__
        return time.perf_counter() - wall0, time.process_time() - cpu0, outcomes, loop_type

    warmup = [f"{base}/ok?i=w{i}" for i in range(spec["warmup"])]
    if variant == ANCHOR:  # a script's own loop
        with asyncio.Runner(loop_factory=factory) as warm:
            warm.run(timed(warmup))
        gc.collect()
        with asyncio.Runner(loop_factory=factory) as measured:
            wall, cpu, outcomes, loop_type = measured.run(timed(urls))
    else:  # as the handler runs it: on an invocation's loop (``FANOUT_EVENT_LOOP``)
        for batch in (warmup, urls):
            gc.collect()
            invocation = Invocation(InvocationClock.begin(600_000), settings, context=None)  # type: ignore[arg-type]
            try:
                wall, cpu, outcomes, loop_type = invocation.run(timed(batch), "bench run")
            finally:
                invocation.close()
    failures = [o for o in outcomes if o != "ok"]
    return {
        "n": n,
        "loop": loop_type,
        "wall_s": wall,
        "cpu_s": cpu,
        "cpu_per_req_ms": cpu / n * 1000,
        "ok": len(outcomes) - len(failures),
        "failures": sorted(set(failures))[:5],
    }


# --- parent side ---------------------------------------------------------------------------


def run(cfg: BenchConfig, target: Target) -> ScenarioResult:
    result = ScenarioResult("cpu")
    runs: dict[str, list[dict[str, Any]]] = defaultdict(list)
    n = cfg.cpu_n
    for rep in range(cfg.cpu_reps):
        for loop in LOOPS:
            for variant in (ANCHOR, SERVICE):
                spec = {
                    "base_url": target.base_url(),
                    "n": n,
                    "loop": loop,
                    "concurrency": cfg.cpu_concurrency,
                    "warmup": cfg.throughput_warmup,
                }
                try:
                    res = run_worker(f"cpu.{variant}", spec, timeout_s=120 + n * 0.05)
                except BenchError as exc:
                    result.errors.append(str(exc))
                    continue
                res["rep"] = rep
                runs[f"{variant}@{loop}"].append(res)
                print(
                    f"  cpu {variant:8s} {loop:8s} N={n:<5d} rep {rep + 1}: {res['wall_s']:.3f} s, "
                    f"{res['cpu_per_req_ms']:.3f} ms CPU/req, ok {res['ok']}/{n} ({res['loop']})",
                    flush=True,
                )
    result.raw = {"runs": dict(runs)}
    for loop in LOOPS:
        result.rows += _rows(cfg, loop, runs)
    result.rows += _loop_rows(cfg, runs)
    return result


def _paired(runs: dict[str, list[dict[str, Any]]], variant: str, anchor: str, key: str) -> float:
    """Median over repetitions of variant/anchor, each pair from the same repetition."""
    base = {r["rep"]: r[key] for r in runs.get(anchor, [])}
    return median(r[key] / base[r["rep"]] for r in runs.get(variant, []) if r["rep"] in base)


def _rows(cfg: BenchConfig, loop: str, runs: dict[str, list[dict[str, Any]]]) -> list[Row]:
    n = cfg.cpu_n
    scen = f"cpu-bound N={n} ({loop})"
    rows: list[Row] = []
    anchor = f"{ANCHOR}@{loop}"
    for variant in (ANCHOR, SERVICE):
        data = runs.get(f"{variant}@{loop}")
        if not data:
            continue
        wall = median(r["wall_s"] for r in data)
        cpu = median(r["cpu_per_req_ms"] for r in data)
        ok = min(r["ok"] for r in data)
        note = f"{len(data)} reps, 0 ms latency" + ("" if ok == n else f"; only {ok}/{n} ok")
        if variant == ANCHOR:
            rows.append(Row(scen, f"{ANCHOR} ({loop})", "wall", wall, "s", note=note))
            rows.append(Row(scen, f"{ANCHOR} ({loop})", "CPU/request", cpu, "ms"))
            continue
        vs_wall = _paired(runs, f"{variant}@{loop}", anchor, "wall_s")
        vs_cpu = _paired(runs, f"{variant}@{loop}", anchor, "cpu_per_req_ms")
        label = f"{SERVICE} ({loop})"
        wall_goal, cpu_goal = f"<={GOAL_WALL}x aiohttp, same loop", f"<={GOAL_CPU}x aiohttp, same loop"
        rows.append(
            Row(scen, label, "wall", wall, "s", vs_anchor=vs_wall, goal=wall_goal,
                passed=vs_wall <= GOAL_WALL and ok == n, note=note)
        )  # fmt: skip
        rows.append(
            Row(scen, label, "CPU/request", cpu, "ms", vs_anchor=vs_cpu, goal=cpu_goal,
                passed=vs_cpu <= GOAL_CPU and ok == n)
        )  # fmt: skip
    return rows


def _loop_rows(cfg: BenchConfig, runs: dict[str, list[dict[str, Any]]]) -> list[Row]:
    """uvloop against asyncio's loop, for the anchor and the service (a diagnostic, no goal)."""
    rows: list[Row] = []
    for variant in (ANCHOR, SERVICE):
        uv, aio = f"{variant}@uvloop", f"{variant}@asyncio"
        if not runs.get(uv) or not runs.get(aio):
            continue
        cpu = median(r["cpu_per_req_ms"] for r in runs[uv])
        wall = ratio(median(r["wall_s"] for r in runs[uv]), median(r["wall_s"] for r in runs[aio]))
        rows.append(
            Row(f"cpu-bound N={cfg.cpu_n} (loops)", f"{variant}: uvloop vs asyncio", "CPU/request", cpu, "ms",
                vs_anchor=_paired(runs, uv, aio, "cpu_per_req_ms"),
                note=f"anchor: {variant} on asyncio's loop; wall {wall:.2f}x")
        )  # fmt: skip
    return rows
