"""End to end through the Lambda Runtime Interface Emulator, and what a million URLs cost.

Two emulators (``devtools.rie``) run side by side, each warm before it is measured:
``service`` runs ``fanout.handler.lambda_handler`` (parse, fan out, build the answer, log, EMF
metrics, the runtime serialising it); ``aiohttp`` runs :func:`raw_handler`, a plain function
doing the same fetches with raw aiohttp + ``gather`` (one session, a ``Semaphore``) and
answering one ``{"url", "status"}`` per URL. Both pay the emulator and the runtime client
alike. Each repetition invokes both, in alternating order; the ratio is taken per repetition
(paired) and its median reported. Wall = the HTTP round trip of the invocation as the caller
sees it; CPU = the runtime process's CPU time over the invocation (``/proc``); the billed
duration is the emulator's ``REPORT`` line's.

Cost (goal 6): the same invocations at 50 ms and at 0 ms latency, and one-URL invocations of
the service (the one-invocation-per-URL design), priced by :func:`bench.report.lambda_cost`.
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench import report
from bench.common import ROOT, BenchError, Row, ScenarioResult, Target, median, ratio
from bench.config import BenchConfig

GOAL = 1.10
ANCHOR = "aiohttp"
SERVICE = "service"
RAW_HANDLER = "bench.scenarios.e2e.raw_handler"
_DURATION = re.compile(r"REPORT RequestId: \S+\s+(?:Init Duration: [0-9.]+ ms\s+)?Duration: ([0-9.]+) ms")


# --- inside the emulator: the anchor's plain function ------------------------------------


def raw_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The same fetches as the service, as anyone would write them without it."""
    import asyncio

    import aiohttp

    urls, concurrency = event["urls"], event["options"]["concurrency"]

    async def main() -> list[int]:
        slots = asyncio.Semaphore(concurrency)
        connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=concurrency)
        async with aiohttp.ClientSession(connector=connector) as session:

            async def one(url: str) -> int:
                async with slots, session.get(url) as response:
                    await response.read()
                    return response.status

            return list(await asyncio.gather(*(one(u) for u in urls)))

    statuses = asyncio.run(main())
    return {"results": [{"url": u, "status": s} for u, s in zip(urls, statuses, strict=True)]}


# --- the parent side -----------------------------------------------------------------------


def _runtime_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class _Function:
    """One emulator and its runtime, invoked and measured (wall and runtime CPU)."""

    def __init__(self, variant: str, cfg: BenchConfig) -> None:
        from devtools.rie import LambdaEmulator

        handler = RAW_HANDLER if variant == ANCHOR else "fanout.handler.lambda_handler"
        env = {
            "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
            "POWERTOOLS_SERVICE_NAME": "fanout-bench",
            "POWERTOOLS_METRICS_NAMESPACE": "fanout-bench",
        }
        self.variant = variant
        self.rie = LambdaEmulator(handler, timeout_s=cfg.e2e_timeout_s, memory_mb=1024, env=env)

    def __enter__(self) -> _Function:
        self.rie.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.rie.stop()

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        from devtools.rie import function_error

        pids = self.rie.runtime_pids()
        cpu0 = _runtime_cpu_s(pids[0]) if len(pids) == 1 else None
        log_at = self.rie.log_offset()
        payload, wall = self.rie.invoke(event)
        error = function_error(payload)
        if error is not None:
            raise BenchError(f"e2e {self.variant}: {error}\n{self.rie.log_tail(15)}")
        pids_after = self.rie.runtime_pids()
        # A fresh runtime (the first invocation, or a restart) has no CPU figure of its own.
        fresh = cpu0 is None or pids_after != pids
        cpu = float("nan") if fresh or cpu0 is None else _runtime_cpu_s(pids[0]) - cpu0
        results = payload["results"]
        ok = sum(1 for r in results if r.get("outcome", "ok" if r.get("status") == 200 else "") == "ok")
        # The emulator's REPORT line: the duration Lambda would bill (the handler's, not the caller's).
        self.rie.wait_for_log(r"REPORT RequestId.*Duration: [0-9.]+ ms", since=log_at, timeout_s=2.0)
        report = _DURATION.search(self.rie.log_text(since=log_at))
        billed = float(report.group(1)) / 1000 if report else wall
        return {"wall_s": wall, "billed_s": billed, "cpu_s": cpu, "ok": ok, "n": len(event["urls"])}


def _event(target: Target, n: int, delay_ms: int, conc: int, tag: str) -> dict[str, Any]:
    base = target.base_url()
    urls = [f"{base}/ok?delay_ms={delay_ms}&i={tag}-{i}" for i in range(n)]
    return {"urls": urls, "options": {"concurrency": conc, "per_host_concurrency": conc}}


def run(cfg: BenchConfig, target: Target) -> ScenarioResult:
    result = ScenarioResult("e2e")
    runs: dict[str, list[dict[str, Any]]] = defaultdict(list)
    n, conc = cfg.e2e_n, cfg.e2e_concurrency
    try:
        with _Function(ANCHOR, cfg) as raw, _Function(SERVICE, cfg) as svc:
            functions = {ANCHOR: raw, SERVICE: svc}
            for fn in functions.values():  # cold start and first-run costs: not measured
                for w in range(cfg.e2e_warmup):
                    fn.invoke(_event(target, n, 0, conc, f"warm{w}"))
            for delay in (cfg.e2e_delay_ms, 0):
                for rep in range(cfg.e2e_reps):
                    order = list(functions) if rep % 2 == 0 else list(functions)[::-1]
                    for name in order:
                        res = functions[name].invoke(_event(target, n, delay, conc, f"{delay}-{rep}"))
                        res["rep"] = rep
                        runs[f"{name}@{delay}"].append(res)
                        print(
                            f"  e2e {name:8s} N={n} {delay:>2d} ms rep {rep + 1}: {res['wall_s']:.3f} s, "
                            f"CPU {res['cpu_s']:.3f} s, ok {res['ok']}/{n}",
                            flush=True,
                        )
                # One URL per invocation: the design the batched run is priced against.
                for rep in range(cfg.e2e_single_reps):
                    runs[f"single@{delay}"].append(svc.invoke(_event(target, 1, delay, 1, f"s{delay}-{rep}")))
    except BenchError as exc:
        result.errors.append(str(exc))
    except Exception as exc:  # the emulator could not start (no aws-sam-cli): a row says so
        result.errors.append(f"e2e: {type(exc).__name__}: {exc}")
    result.raw = {"runs": dict(runs)}
    if not result.errors:
        result.rows = _rows(cfg, runs) + _cost_rows(cfg, runs)
    return result


def _paired(runs: dict[str, list[dict[str, Any]]], key: str, delay: int) -> float:
    anchor = {r["rep"]: r[key] for r in runs[f"{ANCHOR}@{delay}"]}
    return median(r[key] / anchor[r["rep"]] for r in runs[f"{SERVICE}@{delay}"] if r["rep"] in anchor)


def _rows(cfg: BenchConfig, runs: dict[str, list[dict[str, Any]]]) -> list[Row]:
    n = cfg.e2e_n
    rows = []
    for delay in (cfg.e2e_delay_ms, 0):
        scen = f"e2e RIE N={n}, {delay} ms"
        ideal = n / cfg.e2e_concurrency * delay / 1000
        gated = delay == cfg.e2e_delay_ms
        for name in (ANCHOR, SERVICE):
            data = runs[f"{name}@{delay}"]
            wall = median(r["wall_s"] for r in data)
            cpu = median(r["cpu_s"] for r in data)
            ok = min(r["ok"] for r in data)
            is_service = name == SERVICE
            vs = _paired(runs, "wall_s", delay) if is_service else None
            rows.append(
                Row(
                    scen,
                    name,
                    "invocation wall",
                    wall,
                    "s",
                    vs_ideal=ratio(wall, ideal) if ideal else None,
                    vs_anchor=vs,
                    goal=f"<={GOAL}x aiohttp" if is_service and gated else "",
                    passed=(vs is not None and vs <= GOAL and ok == n) if is_service and gated else None,
                    note=f"{len(data)} reps, paired; ok {ok}/{n}",
                )
            )
            rows.append(
                Row(
                    scen,
                    name,
                    "CPU/request",
                    cpu / n * 1000,
                    "ms",
                    vs_anchor=_paired(runs, "cpu_s", delay) if is_service else None,
                    note="runtime process CPU over the invocation",
                )
            )
    return rows


def _cost_rows(cfg: BenchConfig, runs: dict[str, list[dict[str, Any]]]) -> list[Row]:
    rows = []
    for delay in (cfg.e2e_delay_ms, 0):
        batch = runs[f"{SERVICE}@{delay}"]
        single = runs[f"single@{delay}"]
        batched = report.lambda_cost(
            median(r["billed_s"] for r in batch),
            median(r["cpu_s"] for r in batch),
            urls_per_invocation=cfg.e2e_n,
        )
        # /proc counts CPU in 10 ms ticks: a one-URL invocation's CPU is the mean over all of them.
        single_cpu = sum(r["cpu_s"] for r in single) / len(single)
        per_url = report.lambda_cost(median(r["billed_s"] for r in single), single_cpu, urls_per_invocation=1)
        rows += report.cost_rows(f"cost per 1M URLs, {delay} ms", cfg.e2e_n, batched, per_url)
    return rows
