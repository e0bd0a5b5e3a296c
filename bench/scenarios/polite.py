"""Politeness: what a per-host rate and a host's pause look like from the origin's side, and what
pacing costs the client.

- ``rate``: ``fetch_run`` of ``per_host_rps x polite_window_s + 1`` URLs to one host with
  ``per_host_rps`` set (1, 10, 100) and no burst, against ``devtools.stamping_target`` (a
  host that stamps every request, in the worker's process, on its own thread). The observed rate
  is the requests after the first over the time from the first to the last. Goal: within 10 %
  of the setting.
- ``pause``: one host (paced at 5 rps) answers its first request 429 ``Retry-After: 2``; 20 more
  URLs of that host, whose turns were taken before the 429 came back, and 50 of another follow.
  Goal: no request reaches the paused host before its ``Retry-After`` ends (the other host's all
  do meanwhile: the note).
- ``cpu``: ``cpu_n``-style GETs at 0 ms to the bench target over all its ports, with and without
  a rate so high it never binds (every request still takes its turn): client CPU per request,
  both variants in one process in ABBA blocks (``interleaved_cpu``), the ratio's median over the
  processes. Goal: <= 1.1x without.
"""

from __future__ import annotations

import time
from typing import Any

from bench.common import BenchError, Row, ScenarioResult, Target, interleaved_cpu, median, run_worker
from bench.config import BenchConfig

GOAL_RATE = 0.10
GOAL_CPU = 1.1
UNBINDING_RPS = 1_000_000.0


async def _run(urls: list[str], options: dict[str, Any], budget_s: float) -> dict[str, Any]:
    import asyncio

    from fanout.config import get_settings
    from fanout.core.budget import InvocationClock
    from fanout.core.documents import Source
    from fanout.core.requests import parse_request
    from fanout.runs.fetch_run import RunContext, fetch_run
    from fanout.runs.invocation import fewer_young_collections

    settings = get_settings()
    request = parse_request({"urls": urls, "options": options}, settings)
    clock = InvocationClock.begin(budget_s * 1000, now=asyncio.get_running_loop().time())
    ctx = RunContext(source=Source.DIRECT, deadline=clock.deadline(len(urls), settings))
    with fewer_young_collections():
        return (await fetch_run(request, ctx, settings=settings)).to_json()


def work(variant: str, spec: dict[str, Any]) -> dict[str, Any]:
    import asyncio

    from devtools.stamping_target import StampingTarget
    from fanout.runs.invocation import loop_factory

    runner = asyncio.Runner(loop_factory=loop_factory("uvloop"))
    if variant == "rate":
        rps, n = spec["rps"], int(spec["rps"] * spec["window_s"]) + 1
        with StampingTarget() as host, runner:
            urls = [host.url(f"/ok?i={i}") for i in range(n)]
            document = runner.run(_run(urls, {"per_host_rps": rps, "concurrency": 100}, spec["window_s"] * 3))
            seen = host.seen()
        span = seen[-1].at - seen[0].at if len(seen) > 1 else float("nan")
        return {"rps": rps, "n": n, "seen": len(seen), "span_s": span, "ok": document["summary"]["ok"]}
    if variant == "pause":
        with StampingTarget() as paused, StampingTarget() as other, runner:
            # The paused host at 5 rps: its other URLs' turns are taken (200 ms apart) before the
            # 429 is back, and must be put off by the pause when they come.
            slow = [{"url": paused.url("/busy/k?times=1&after=2"), "per_host_rps": 5.0}]
            slow += [{"url": paused.url(f"/ok?i={i}"), "per_host_rps": 5.0} for i in range(20)]
            mixed: list[Any] = [slow[0], *(other.url(f"/ok?i={i}") for i in range(50)), *slow[1:]]
            document = runner.run(_run(mixed, {"concurrency": 30, "retries": 2}, 20))
            told, *after = paused.seen()
            until = told.retry_until_wall or 0.0
            early = sum(1 for s in after if s.wall < until)
            other_before = sum(1 for s in other.seen() if s.wall < until)
        return {
            "early": early,
            "after": len(after),
            "other_before": other_before,
            "ok": document["summary"]["ok"],
        }
    # cpu: without and with a rate that never binds, interleaved in this process
    base_urls, n = spec["base_urls"], spec["n"]
    urls = [f"{base_urls[i % len(base_urls)]}/ok?i={i}" for i in range(n)]
    plain: dict[str, Any] = {"concurrency": 100, "per_host_concurrency": 100}
    options = {"cpu-plain": plain, "cpu-rate": plain | {"per_host_rps": UNBINDING_RPS}}
    ok: list[int] = []

    def measure(name: str) -> float:
        cpu0 = time.process_time()
        document = runner.run(_run(urls, options[name], 600))
        cpu = time.process_time() - cpu0
        ok.append(document["summary"]["ok"])
        return cpu

    with runner:
        for name in options:
            runner.run(_run(urls[:200], options[name], 60))  # warm-up
        pair = interleaved_cpu(measure, ("cpu-plain", "cpu-rate"), spec["blocks"], n)
    return {"n": n, "cpu_per_req_ms": pair["cpu_per_req_ms"], "ratio": pair["ratio"], "ok": min(ok)}


def run(cfg: BenchConfig, target: Target) -> ScenarioResult:
    result = ScenarioResult("polite")
    result.raw = {
        "rate": _measure_rates(cfg, result.errors),
        "pause": _measure_pause(result.errors),
        "cpu": _measure_cpu(cfg, target, result.errors),
    }
    result.rows = [_rate_row(res) for res in result.raw["rate"]]
    result.rows += [_pause_row(paused) for paused in result.raw["pause"]]
    if result.raw["cpu"]:
        result.rows.append(_cpu_row(cfg, result.raw["cpu"]))
    return result


def _measure_rates(cfg: BenchConfig, errors: list[str]) -> list[dict[str, Any]]:
    """One ``polite.rate`` worker per configured rate (a failed worker: an error, no figure)."""
    measured = []
    for rps in cfg.polite_rates:
        spec = {"rps": rps, "window_s": cfg.polite_window_s}
        try:
            res = run_worker("polite.rate", spec, timeout_s=60 + cfg.polite_window_s * 3)
        except BenchError as exc:
            errors.append(str(exc))
            continue
        measured.append(res)
        observed = (res["seen"] - 1) / res["span_s"]
        print(
            f"  polite rate {rps:>4d} rps: observed {observed:.2f} rps over {res['span_s']:.2f} s", flush=True
        )
    return measured


def _measure_pause(errors: list[str]) -> list[dict[str, Any]]:
    try:
        return [run_worker("polite.pause", {}, timeout_s=60)]
    except BenchError as exc:
        errors.append(str(exc))
        return []


def _measure_cpu(cfg: BenchConfig, target: Target, errors: list[str]) -> list[dict[str, Any]]:
    """``polite_cpu_reps`` processes, each pairing the two variants in ABBA blocks."""
    env = {"FANOUT_MAX_PER_HOST_RPS": str(UNBINDING_RPS)}
    base_urls = [f"http://127.0.0.1:{p}" for p in target.ports]
    pairs = []
    for rep in range(cfg.polite_cpu_reps):
        try:
            pair = run_worker(
                "polite.cpu",
                {"base_urls": base_urls, "n": cfg.polite_cpu_n, "blocks": cfg.polite_cpu_blocks},
                timeout_s=600,
                env=env,
            )
        except BenchError as exc:
            errors.append(str(exc))
            continue
        pairs.append(pair)
        print(
            f"  polite cpu rep {rep + 1}: {pair['cpu_per_req_ms']['cpu-rate']:.3f} ms with a rate, "
            f"{pair['cpu_per_req_ms']['cpu-plain']:.3f} ms without ({pair['ratio']:.3f}x), ok {pair['ok']}",
            flush=True,
        )
    return pairs


def _rate_row(res: dict[str, Any]) -> Row:
    rps = res["rps"]
    observed = (res["seen"] - 1) / res["span_s"]
    return Row(
        f"polite per_host_rps={rps}",
        "service",
        "observed rate at the host",
        observed,
        "rps",
        vs_anchor=observed / rps,
        goal=f"within {GOAL_RATE:.0%} of {rps}",
        passed=abs(observed / rps - 1) <= GOAL_RATE and res["ok"] == res["n"],
        note=f"{res['seen']} requests over {res['span_s']:.2f} s; ok {res['ok']}/{res['n']}",
    )


def _pause_row(paused: dict[str, Any]) -> Row:
    return Row(
        "polite 429 Retry-After: 2",
        "service",
        "requests to the paused host before it ended",
        paused["early"],
        "",
        goal="0",
        passed=paused["early"] == 0 and paused["after"] == 21,
        note=f"the other host meanwhile: {paused['other_before']}/50; ok {paused['ok']}/71",
    )


def _cpu_row(cfg: BenchConfig, pairs: list[dict[str, Any]]) -> Row:
    """The medians over the processes; the goal is on the paired ratio."""
    with_rate = median(p["cpu_per_req_ms"]["cpu-rate"] for p in pairs)
    without = median(p["cpu_per_req_ms"]["cpu-plain"] for p in pairs)
    paired = median(p["ratio"] for p in pairs)
    return Row(
        f"polite cpu N={cfg.polite_cpu_n}, 0 ms",
        "service, per_host_rps set",
        "CPU per request",
        with_rate,
        "ms",
        vs_anchor=paired,
        goal=f"<= {GOAL_CPU:g}x without",
        passed=paired <= GOAL_CPU and min(p["ok"] for p in pairs) == cfg.polite_cpu_n,
        note=(
            f"without a rate {without:.3f} ms; {len(pairs)} processes x {cfg.polite_cpu_blocks} ABBA blocks"
        ),
    )
