"""Checks: what an ``expect`` costs. N GETs of a 1 KiB JSON health body, 0 ms latency (CPU-bound),
100 in flight, with and without a typical health-check ``expect`` (status, a JSON Pointer, a header
regex, a body substring, a latency limit): both in one fresh process per repetition, in ABBA
blocks (``bench.common.interleaved_cpu``); raw aiohttp in a process of its own.

Goal: CPU per request with the ``expect`` at most 1.25x the same run without it. ``aiohttp``
(raw aiohttp + gather reading the same bodies) is the anchor for scale.
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

from bench.common import BenchError, Row, ScenarioResult, Target, interleaved_cpu, median, run_worker
from bench.config import BenchConfig
from bench.scenarios.throughput import _aiohttp

PLAIN = "service"
CHECKED = "service+expect"
GOAL_CPU = 1.25
ABBA_NOTE = "; vs anchor = vs the service without expect, ABBA in one process"
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
    """``aiohttp``: the anchor alone. ``pair``: the service without and with ``expect`` in ABBA
    blocks in this process (``interleaved_cpu``), each pass on a fresh loop as an invocation."""
    import asyncio

    base, n, conc = spec["base_url"], spec["n"], spec["concurrency"]
    urls = [f"{base}/json?bytes={spec['bytes']}&i={i}" for i in range(n)]
    expects = {PLAIN: None, CHECKED: EXPECT}
    oks: list[int] = []
    failures: set[str] = set()
    walls: dict[str, list[float]] = {PLAIN: [], CHECKED: [], "aiohttp": []}

    def measure(name: str) -> float:
        wall0, cpu0 = time.perf_counter(), time.process_time()
        if name == "aiohttp":
            seen = asyncio.run(_aiohttp(urls, conc))
        else:
            seen = asyncio.run(_service(urls, conc, expects[name]))
        cpu = time.process_time() - cpu0
        walls[name].append(time.perf_counter() - wall0)
        oks.append(seen.count("ok"))
        failures.update(set(seen) - {"ok"})
        return cpu

    if variant == "aiohttp":
        asyncio.run(_aiohttp(urls[: spec["warmup"]], conc))
        cpu = measure("aiohttp")
        per_req: dict[str, float] = {"aiohttp": cpu / n * 1000}
        ratio = None
    else:
        for name in (PLAIN, CHECKED):
            asyncio.run(_service(urls[: spec["warmup"]], conc, expects[name]))
        pair = interleaved_cpu(measure, (PLAIN, CHECKED), spec["blocks"], n)
        per_req, ratio = pair["cpu_per_req_ms"], pair["ratio"]
    return {
        "n": n,
        "cpu_per_req_ms": per_req,
        "ratio": ratio,
        "wall_s": {name: median(w) for name, w in walls.items() if w},
        "ok": min(oks),
        "failures": sorted(failures)[:5],
    }


def run(cfg: BenchConfig, target: Target) -> ScenarioResult:
    result = ScenarioResult("checks")
    runs: dict[str, list[dict[str, Any]]] = defaultdict(list)
    spec = {
        "base_url": target.base_url(),
        "n": cfg.checks_n,
        "bytes": cfg.checks_body_bytes,
        "delay_ms": 0,
        "concurrency": cfg.throughput_concurrency,
        "warmup": cfg.throughput_warmup,
        "blocks": cfg.checks_blocks,
    }
    for rep in range(cfg.checks_reps):
        for task in ("aiohttp", "pair"):
            try:
                passes = 4 * cfg.checks_blocks
                res = run_worker(f"checks.{task}", spec, timeout_s=120 + cfg.checks_n * 0.05 * passes)
            except BenchError as exc:
                result.errors.append(str(exc))
                continue
            for variant, cpu in res["cpu_per_req_ms"].items():
                one = {"cpu_per_req_ms": cpu, "wall_s": res["wall_s"][variant], "ok": res["ok"], "rep": rep}
                if variant == CHECKED:
                    one["vs_plain"] = res["ratio"]
                runs[variant].append(one)
                print(
                    f"  checks {variant:15s} N={cfg.checks_n} rep {rep + 1}: {one['wall_s']:.3f} s, "
                    f"{cpu:.3f} ms CPU/req, ok {res['ok']}/{cfg.checks_n}"
                    + (f", {res['ratio']:.3f}x without (ABBA)" if variant == CHECKED else ""),
                    flush=True,
                )
    result.raw = {"runs": dict(runs), "expect": EXPECT}
    result.rows = _rows(cfg, runs)
    return result


def _rows(cfg: BenchConfig, runs: dict[str, list[dict[str, Any]]]) -> list[Row]:
    scen = f"checks N={cfg.checks_n}, {cfg.checks_body_bytes} B JSON"
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
            vs_plain = median(r["vs_plain"] for r in data)
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
                note=note + (ABBA_NOTE if variant == CHECKED else ""),
            )
        )
    return rows
