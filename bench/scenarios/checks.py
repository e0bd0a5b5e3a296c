"""Checks: what an ``expect`` costs. N GETs of a 1 KiB JSON health body, 0 ms latency (CPU-bound),
100 in flight, with and without a typical health-check ``expect`` (status, a JSON Pointer, a header
regex, a body substring, a latency limit), each in a fresh process, paired per repetition.

Goal: CPU per request with the ``expect`` at most 1.25x the same run without it. ``aiohttp``
(raw aiohttp + gather reading the same bodies) is the anchor for scale.
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

from bench.common import BenchError, Row, ScenarioResult, Target, median, run_worker
from bench.config import BenchConfig
from bench.scenarios.throughput import _aiohttp

PLAIN = "service"
CHECKED = "service+expect"
GOAL_CPU = 1.25
EXPECT = {
    "status": [200],
    "json": {"/status": "UP"},
    "headers": {"content-type": "^application/json"},
    "body_contains": '"version"',
    "max_latency_ms": 10_000,
}


async def _service(urls: list[str], concurrency: int, expect: dict[str, Any] | None) -> list[str]:
    import asyncio

    from fanout.config import get_settings
    from fanout.core.budget import InvocationClock
    from fanout.core.documents import Source
    from fanout.core.requests import parse_request
    from fanout.runs.fetch_run import RunContext, fetch_run
    from fanout.runs.invocation import fewer_young_collections

    settings = get_settings()
    options: dict[str, Any] = {"concurrency": concurrency, "per_host_concurrency": concurrency}
    if expect is not None:
        options["expect"] = expect
    request = parse_request({"urls": urls, "options": options}, settings)
    clock = InvocationClock.begin(600_000, now=asyncio.get_running_loop().time())
    ctx = RunContext(source=Source.DIRECT, deadline=clock.deadline(len(urls), settings))
    with fewer_young_collections():  # as an invocation runs it
        document = (await fetch_run(request, ctx, settings=settings)).to_json()
    return [r["outcome"] for r in document["results"]]


def work(variant: str, spec: dict[str, Any]) -> dict[str, Any]:
    import asyncio

    base, n, conc = spec["base_url"], spec["n"], spec["concurrency"]
    urls = [f"{base}/json?bytes={spec['bytes']}&i={i}" for i in range(n)]
    expect = EXPECT if variant == CHECKED else None

    async def fetch(batch: list[str]) -> list[str]:
        if variant == "aiohttp":
            return await _aiohttp(batch, conc)
        return await _service(batch, conc, expect)

    asyncio.run(fetch(urls[: spec["warmup"]]))
    wall0, cpu0 = time.perf_counter(), time.process_time()
    outcomes = asyncio.run(fetch(urls))
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    return {
        "n": n,
        "wall_s": wall,
        "cpu_per_req_ms": cpu / n * 1000,
        "ok": outcomes.count("ok"),
        "failures": sorted(set(outcomes) - {"ok"})[:5],
    }


def run(cfg: BenchConfig, target: Target) -> ScenarioResult:
    result = ScenarioResult("checks")
    runs: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for rep in range(cfg.checks_reps):
        for variant in ("aiohttp", PLAIN, CHECKED):
            spec = {
                "base_url": target.base_url(),
                "n": cfg.checks_n,
                "bytes": cfg.checks_body_bytes,
                "delay_ms": 0,
                "concurrency": cfg.throughput_concurrency,
                "warmup": cfg.throughput_warmup,
            }
            try:
                res = run_worker(f"checks.{variant}", spec, timeout_s=120 + cfg.checks_n * 0.05)
            except BenchError as exc:
                result.errors.append(str(exc))
                continue
            res["rep"] = rep
            runs[variant].append(res)
            print(
                f"  checks {variant:15s} N={cfg.checks_n} rep {rep + 1}: {res['wall_s']:.3f} s, "
                f"{res['cpu_per_req_ms']:.3f} ms CPU/req, ok {res['ok']}/{cfg.checks_n}",
                flush=True,
            )
    result.raw = {"runs": dict(runs), "expect": EXPECT}
    result.rows = _rows(cfg, runs)
    return result


def _rows(cfg: BenchConfig, runs: dict[str, list[dict[str, Any]]]) -> list[Row]:
    scen = f"checks N={cfg.checks_n}, {cfg.checks_body_bytes} B JSON"
    plain = {r["rep"]: r["cpu_per_req_ms"] for r in runs.get(PLAIN, [])}
    rows = []
    for variant in ("aiohttp", PLAIN, CHECKED):
        data = runs.get(variant)
        if not data:
            continue
        cpu = median(r["cpu_per_req_ms"] for r in data)
        ok = min(r["ok"] for r in data)
        vs_plain = None
        passed = None
        if variant == CHECKED:
            vs_plain = median(r["cpu_per_req_ms"] / plain[r["rep"]] for r in data if r["rep"] in plain)
            passed = vs_plain <= GOAL_CPU and ok == cfg.checks_n
        note = f"{len(data)} reps; ok {ok}/{cfg.checks_n}; wall {median(r['wall_s'] for r in data):.3f} s"
        rows.append(
            Row(
                scen,
                variant,
                "CPU/request",
                cpu,
                "ms",
                vs_anchor=vs_plain,
                goal=f"<={GOAL_CPU}x {PLAIN}" if variant == CHECKED else "",
                passed=passed,
                note=note + ("; vs anchor = vs the service without expect" if variant == CHECKED else ""),
            )
        )
    return rows
