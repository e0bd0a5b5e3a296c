"""Memory: peak RSS of one 10,000-URL invocation, in a fresh process per repetition.

``service``: ``fanout.entry.router.handle_event`` with a 10,000-URL direct-invoke event (fast
``/ok``, concurrency 100), then ``json.dumps`` of the answer as the Lambda runtime does;
``service+expect``: the same with ``expect.body_contains`` (every body decoded and searched);
``aiohttp``: the anchor, raw aiohttp + gather of the same URLs. Peak = ``VmHWM`` (the
process's high-water mark, what Lambda's ``Max Memory Used`` reports); baseline = RSS
after the imports, before the event is built. Goal: peak <= 85 MB (``service+expect``, every
body decoded and searched: <= 200 MB).

A larger inline run (``memory_large_n``, 50,000 URLs: ``FANOUT_MAX_URLS`` raised for it) shows
how memory grows: peak <= 400 MB, at most 2.5 MB over the baseline per 1,000 URLs, and linearly:
that growth at most 1.25x the 10,000-URL run's (the answer is cut to the response limit, the run's
state is not).
"""

from __future__ import annotations

import time
from typing import Any

from bench.common import BenchError, Row, ScenarioResult, Target, median, run_worker
from bench.config import BenchConfig

GOAL_MB = 85.0
GOAL_EXPECT_MB = 200.0
GOAL_LARGE_MB = 400.0
GOAL_LINEAR = 1.25
GOAL_GROWTH_MB = 2.5  # per 1,000 URLs at memory_large_n (issue 26: a pool of workers, no task per URL)


def _status_mb(field: str) -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def work(variant: str, spec: dict[str, Any]) -> dict[str, Any]:
    import asyncio
    import json

    import aiohttp

    from bench.scenarios.deadline import FakeLambdaContext
    from fanout.entry.router import handle_event

    baseline = _status_mb("VmRSS")
    base, n, conc = spec["base_url"], spec["n"], spec["concurrency"]
    urls = [f"{base}/ok?i={i}" for i in range(n)]
    started = time.perf_counter()
    if variant.startswith("service"):
        options: dict[str, Any] = {"concurrency": conc, "per_host_concurrency": min(conc, 256)}
        if variant == "service+expect":
            urls = [f"{base}/json?bytes=1024&i={i}" for i in range(n)]
            options["expect"] = {"body_contains": '"status": "UP"'}
        event = {"urls": urls, "options": options}
        document = handle_event(event, FakeLambdaContext(600_000))
        body = json.dumps(document)
        ok = document["summary"]["ok"]
    else:

        async def main() -> list[int]:
            slots = asyncio.Semaphore(conc)
            connector = aiohttp.TCPConnector(limit=conc, limit_per_host=conc)
            async with aiohttp.ClientSession(connector=connector) as session:

                async def one(url: str) -> int:
                    async with slots, session.get(url) as response:
                        await response.read()
                        return response.status

                return list(await asyncio.gather(*(one(u) for u in urls)))

        statuses = asyncio.run(main())
        body = json.dumps(statuses)
        ok = sum(1 for s in statuses if s == 200)
    return {
        "n": n,
        "ok": ok,
        "wall_s": time.perf_counter() - started,
        "baseline_rss_mb": baseline,
        "peak_rss_mb": _status_mb("VmHWM"),
        "final_rss_mb": _status_mb("VmRSS"),
        "answer_mb": len(body) / 1_048_576,
    }


def run(cfg: BenchConfig, target: Target) -> ScenarioResult:
    result = ScenarioResult("memory")
    runs: dict[str, list[dict[str, Any]]] = {"aiohttp": [], "service": [], "service+expect": []}
    for rep in range(cfg.memory_reps):
        for variant in runs:
            spec = {"base_url": target.base_url(), "n": cfg.memory_n, "concurrency": cfg.memory_concurrency}
            try:
                res = run_worker(f"memory.{variant}", spec, timeout_s=120 + cfg.memory_n * 0.02)
            except BenchError as exc:
                result.errors.append(str(exc))
                continue
            runs[variant].append(res)
            print(
                f"  memory {variant:14s} N={cfg.memory_n} rep {rep + 1}: peak {res['peak_rss_mb']:.0f} MB "
                f"(baseline {res['baseline_rss_mb']:.0f} MB), {res['wall_s']:.1f} s, ok {res['ok']}",
                flush=True,
            )
    large = _large(cfg, target, result)
    result.raw = {"runs": runs, "large": large}
    scen = f"memory N={cfg.memory_n}"
    anchor = median(r["peak_rss_mb"] for r in runs["aiohttp"]) if runs["aiohttp"] else None
    for variant, data in runs.items():
        if not data:
            continue
        peak = median(r["peak_rss_mb"] for r in data)
        baseline = median(r["baseline_rss_mb"] for r in data)
        ok = min(r["ok"] for r in data)
        is_service = variant.startswith("service")
        goal = GOAL_EXPECT_MB if variant == "service+expect" else GOAL_MB
        result.rows += [
            Row(scen, variant, "RSS after imports", baseline, "MB"),
            Row(
                scen,
                variant,
                "peak RSS (VmHWM)",
                peak,
                "MB",
                vs_anchor=peak / anchor if anchor and variant != "aiohttp" else None,
                goal=f"<= {goal:g} MB" if is_service else "",
                passed=(peak <= goal and ok == cfg.memory_n) if is_service else None,
                note=f"{len(data)} reps; +{peak - baseline:.0f} MB over baseline; ok {ok}/{cfg.memory_n}; "
                f"{median(r['wall_s'] for r in data):.1f} s",
            ),
        ]
    if large and runs["service"]:
        result.rows += _large_rows(cfg, large, runs["service"])
    return result


def _large(cfg: BenchConfig, target: Target, result: ScenarioResult) -> list[dict[str, Any]]:
    """The service at ``memory_large_n`` URLs, in fresh processes (its own ``FANOUT_MAX_URLS``)."""
    n = cfg.memory_large_n
    env = {"FANOUT_MAX_URLS": str(max(n, 10_000))}
    spec = {"base_url": target.base_url(), "n": n, "concurrency": cfg.memory_concurrency}
    done = []
    for rep in range(cfg.memory_large_reps):
        try:
            res = run_worker("memory.service", spec, timeout_s=120 + n * 0.02, env=env)
        except BenchError as exc:
            result.errors.append(str(exc))
            continue
        done.append(res)
        print(
            f"  memory service        N={n} rep {rep + 1}: peak {res['peak_rss_mb']:.0f} MB "
            f"(baseline {res['baseline_rss_mb']:.0f} MB), {res['wall_s']:.1f} s, ok {res['ok']}",
            flush=True,
        )
    return done


def _large_rows(cfg: BenchConfig, large: list[dict[str, Any]], small: list[dict[str, Any]]) -> list[Row]:
    n, scen = cfg.memory_large_n, f"memory N={cfg.memory_large_n}"
    peak = median(r["peak_rss_mb"] for r in large)
    baseline = median(r["baseline_rss_mb"] for r in large)
    ok = min(r["ok"] for r in large)
    per_url = (peak - baseline) / n * 1000
    small_per_url = median((r["peak_rss_mb"] - r["baseline_rss_mb"]) / cfg.memory_n * 1000 for r in small)
    linear = per_url / small_per_url if small_per_url > 0 else float("nan")
    return [
        Row(
            scen,
            "service",
            "peak RSS (VmHWM)",
            peak,
            "MB",
            goal=f"<= {GOAL_LARGE_MB:g} MB",
            passed=peak <= GOAL_LARGE_MB and ok == n,
            note=f"{len(large)} rep(s); +{peak - baseline:.0f} MB over baseline; ok {ok}/{n}; "
            f"{median(r['wall_s'] for r in large):.1f} s; "
            f"answer {median(r['answer_mb'] for r in large):.1f} MB",
        ),
        Row(
            scen,
            "service",
            "growth per 1k URLs",
            per_url,
            "MB",
            vs_anchor=linear,
            goal=f"<= {GOAL_GROWTH_MB:g} MB; <= {GOAL_LINEAR:g}x N={cfg.memory_n}'s",
            passed=per_url <= GOAL_GROWTH_MB and linear <= GOAL_LINEAR,
            note=f"N={cfg.memory_n}: {small_per_url:.1f} MB per 1k URLs (vs anchor = the ratio)",
        ),
    ]
