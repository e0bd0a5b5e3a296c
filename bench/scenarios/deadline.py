"""Deadline precision: 1,000 URLs that never answer, a Lambda context with 2,000 ms left.

The invocation is ``fanout.entry.router.handle_event(event, ctx)``, exactly as the handler calls
it, in a fresh process that first imports ``fanout.handler`` (the Lambda init), then
warm: ``runs`` invocations, as a warm Lambda would. The fake context's remaining time
counts down from 2,000 ms from the moment it is made, so the Lambda deadline is
``L = made + 2.0 s``. The service computes (``fanout.deadline``) its **return deadline**
``R = L - margin`` (``margin_s(n)``: base + per-URL allowance) and its **fetch deadline**
``R - cleanup`` (``cleanup_s(in flight)``), where the engine stops fetching. Measured per
invocation, on the monotonic clock:

- lateness = return - R, i.e. against ``L - margin`` with the margin the service
  computes: goal p99 <= 25 ms and p1 >= -30 ms (negative: early), over ``deadline_runs``
  warm invocations in one process: the service learns its cleanup cost from the runs it cut
  (``core.budget.CleanupCost``), so the first invocation uses the setting's allowance;
- slack = L - return: must always be > 0 (else Lambda would kill the invocation);
- the fetch deadline's offset from R (minus the cleanup allowance), timer lateness
  (deadline timer fired vs the fetch deadline), cancel+await of the leftovers (deadline timer -> engine
  returned), client close + document (engine -> fetch_run returned), the rest of the
  event loop (persistence off, the answer's size check, ``asyncio.run`` teardown), and
  the run's report (logs, metrics: ``report_run``).

The phase marks come from wrapping ``run_under_deadline`` and ``fetch_run`` where the
service looks them up (``deadline_marks``: the bench process only; src is untouched).

The URLs are spread over several target ports (hosts for the per-host cap, at most 256
each) so all 1,000 are in flight when the deadline comes. Anchors: raw aiohttp + gather
under ``asyncio.timeout_at(L - margin)`` in ``asyncio.run``, and the service over the
stock httpcore transport.
"""

from __future__ import annotations

import math
import time
from typing import Any

from bench.common import BenchError, Row, ScenarioResult, Target, median, percentile, run_worker
from bench.config import BenchConfig
from bench.scenarios.deadline_marks import anchor_invocation, instrument

GOAL_LATE_MS = 25.0
GOAL_EARLY_MS = -30.0
PHASES = (
    "timer_late_ms",
    "cancel_await_ms",
    "close_document_ms",
    "loop_teardown_ms",
    "report_ms",
    "after_report_ms",
)
MAX_PER_HOST = 256


class FakeLambdaContext:
    """Remaining time counts down from ``remaining_ms`` at creation, like Lambda's."""

    def __init__(self, remaining_ms: int) -> None:
        self.created = time.monotonic()
        self.remaining_ms = remaining_ms
        self.lambda_deadline = self.created + remaining_ms / 1000

    def get_remaining_time_in_millis(self) -> int:
        return int((self.lambda_deadline - time.monotonic()) * 1000)


def _wait_server_idle(base_url: str, timeout_s: float = 5.0) -> int:
    """Wait (bounded) until the target holds no hanging request; return how many remain."""
    import json
    import urllib.request

    deadline = time.monotonic() + timeout_s
    while True:
        with urllib.request.urlopen(base_url + "/__stats", timeout=5) as resp:
            hanging = int(json.load(resp)["hanging"])
        if hanging == 0 or time.monotonic() > deadline:
            return hanging
        time.sleep(0.02)


def _phase_figures(
    marks: dict[str, Any], target: float, lambda_deadline: float, returned: float
) -> dict[str, float]:
    """One invocation's lateness, slack and phase durations (ms), from its marks (NaN where missing)."""
    timer = marks.get("timer", math.nan)
    return {
        "late_ms": (returned - target) * 1000,
        "slack_ms": (lambda_deadline - returned) * 1000,
        "deadline_offset_ms": (marks.get("deadline", math.nan) - target) * 1000,
        "timer_late_ms": (timer - marks.get("deadline", target)) * 1000,
        "cancel_await_ms": (marks.get("engine_done", math.nan) - timer) * 1000,
        "close_document_ms": (marks.get("fanout_done", math.nan) - marks.get("engine_done", math.nan)) * 1000,
        "loop_teardown_ms": (marks.get("report_start", returned) - marks.get("fanout_done", math.nan)) * 1000,
        "report_ms": (marks.get("report_done", math.nan) - marks.get("report_start", math.nan)) * 1000,
        "after_report_ms": (returned - marks.get("report_done", returned)) * 1000,
        # CPU time (this process) of the same phases: robust to other load on the machine.
        "cancel_await_cpu_ms": (marks.get("engine_done_cpu", math.nan) - marks.get("timer_cpu", math.nan))
        * 1000,
        "report_cpu_ms": (marks.get("report_done_cpu", math.nan) - marks.get("report_start_cpu", math.nan))
        * 1000,
    }


def work(variant: str, spec: dict[str, Any]) -> dict[str, Any]:
    """``runs`` invocations of ``variant``; the phase instants of each, relative to the targets."""
    import fanout.handler  # noqa: F401  (the Lambda init, whatever it does: imports, gc)
    from fanout.config import get_settings
    from fanout.core.budget import CLEANUP_COST, margin_s
    from fanout.entry.router import handle_event

    SETTINGS = get_settings()

    n = spec["n"]
    bases = spec["base_urls"]
    urls = [f"{bases[i % len(bases)]}/hang?i={i}" for i in range(n)]
    margin = margin_s(n, SETTINGS)
    concurrency = min(n, SETTINGS.max_concurrency)
    cleanup = CLEANUP_COST.seconds(concurrency, SETTINGS)  # the setting's: nothing learned yet
    per_host = min(MAX_PER_HOST, math.ceil(n / len(bases)))
    event = {
        "urls": urls,
        "options": {
            "concurrency": concurrency,
            "per_host_concurrency": per_host,
            "request_timeout_s": 60.0,
            "retries": 0,
        },
    }
    marks: dict[str, Any] = {}
    if variant != "aiohttp":
        instrument(marks)
    runs = []
    for _ in range(spec["runs"]):
        marks.clear()
        ctx = FakeLambdaContext(spec["remaining_ms"])
        target = ctx.lambda_deadline - margin  # the return deadline: L - margin
        if variant == "aiohttp":
            marks.update(anchor_invocation(urls, target))
            cancelled = marks.get("cancelled", 0)
        else:
            document = handle_event(event, ctx)
            cancelled = document["summary"]["cancelled"]
        returned = time.monotonic()
        runs.append(
            _phase_figures(marks, target, ctx.lambda_deadline, returned)
            | {
                "in_flight_cancelled": cancelled,
                "cleanup_allowance_ms": CLEANUP_COST.seconds(concurrency, SETTINGS) * 1000,
                "server_hanging_after": _wait_server_idle(bases[0]),
            }
        )
    return {"n": n, "margin_ms": margin * 1000, "cleanup_ms": cleanup * 1000, "runs": runs}


VARIANTS: dict[str, dict[str, str]] = {
    "service": {},
    "aiohttp": {},
    "service-httpcore": {"FANOUT_HTTP_TRANSPORT": "httpcore"},
}


def run(cfg: BenchConfig, target: Target) -> ScenarioResult:
    result = ScenarioResult("deadline")
    per_variant = _measure(cfg, target, result.errors)
    result.raw = {"variants": per_variant}
    scen = f"deadline {cfg.deadline_n} hang, {cfg.deadline_remaining_ms} ms"
    anchor = per_variant.get("aiohttp")
    anchor_p99 = None if anchor is None else percentile([r["late_ms"] for r in anchor["runs"]], 99)
    for variant, res in per_variant.items():
        result.rows += _rows(scen, variant, res, None if variant == "aiohttp" else anchor_p99)
        phases = {k: percentile([r[k] for r in res["runs"]], 50) for k in PHASES if k in res["runs"][0]}
        result.raw.setdefault("phases_p50_ms", {})[variant] = phases
    return result


def _measure(cfg: BenchConfig, target: Target, errors: list[str]) -> dict[str, dict[str, Any]]:
    """Each variant's invocations in a worker process of its own (a failed worker: an error)."""
    counts = {
        "service": cfg.deadline_runs,
        "aiohttp": cfg.deadline_anchor_runs,
        "service-httpcore": cfg.deadline_stock_runs,
    }
    per_variant: dict[str, dict[str, Any]] = {}
    for variant, env in VARIANTS.items():
        if counts[variant] <= 0:
            continue
        spec = {
            "base_urls": target.base_urls,
            "n": cfg.deadline_n,
            "remaining_ms": cfg.deadline_remaining_ms,
            "runs": counts[variant],
        }
        timeout = 60 + counts[variant] * (cfg.deadline_remaining_ms / 1000 + 8)
        try:
            res = run_worker(f"deadline.{variant}", spec, timeout_s=timeout, env=env)
        except BenchError as exc:
            errors.append(str(exc))
            continue
        per_variant[variant] = res
        lates = [r["late_ms"] for r in res["runs"]]
        print(
            f"  deadline {variant:16s} {len(lates)} runs: lateness p50 {percentile(lates, 50):.1f} ms, "
            f"p99 {percentile(lates, 99):.1f} ms (margin {res['margin_ms']:.0f} ms, "
            f"cleanup {res.get('cleanup_ms', 0):.0f} ms)",
            flush=True,
        )
    return per_variant


def _note(variant: str, res: dict[str, Any]) -> str:
    """What the lateness p99 row says of its runs: the fetch deadline, in flight, left hanging."""
    runs = res["runs"]
    timer = [r["timer_late_ms"] for r in runs]
    in_flight = median(r["in_flight_cancelled"] for r in runs)
    left = max(r["server_hanging_after"] for r in runs)
    offset = median(r["deadline_offset_ms"] for r in runs)
    note = (
        f"{len(runs)} runs; vs L - margin ({res['margin_ms']:.0f} ms); fetch deadline at "
        f"{offset:+.0f} ms (timer late p99 {percentile(timer, 99):.1f} ms); {in_flight:.0f} in flight "
        f"at it; server hanging after {left}"
    )
    allowances = [r["cleanup_allowance_ms"] for r in runs if "cleanup_allowance_ms" in r]
    if allowances and variant != "aiohttp":
        note += f"; cleanup allowance learned: median {median(allowances):.0f} ms"
    return note


def _rows(scen: str, variant: str, res: dict[str, Any], anchor_p99: float | None) -> list[Row]:
    """One variant's rows; the goals apply to the service only."""
    runs = res["runs"]
    lates = [r["late_ms"] for r in runs]
    slack = min(r["slack_ms"] for r in runs)
    cancel = [r["cancel_await_ms"] for r in runs]
    is_service = variant == "service"
    p99, p1 = percentile(lates, 99), percentile(lates, 1)
    rows = [
        Row(scen, variant, "lateness p50", percentile(lates, 50), "ms"),
        Row(
            scen,
            variant,
            "lateness p1",
            p1,
            "ms",
            goal=f">= {GOAL_EARLY_MS:g} ms" if is_service else "",
            passed=p1 >= GOAL_EARLY_MS if is_service else None,
            note="negative: early (budget given up)",
        ),
        Row(
            scen,
            variant,
            "lateness p99",
            p99,
            "ms",
            vs_anchor=p99 / anchor_p99 if anchor_p99 and anchor_p99 > 0 and p99 > 0 else None,
            goal=f"<= {GOAL_LATE_MS:g} ms" if is_service else "",
            passed=p99 <= GOAL_LATE_MS if is_service else None,
            note=_note(variant, res),
        ),
        Row(
            scen,
            variant,
            "min slack to Lambda deadline",
            slack,
            "ms",
            goal="> 0 ms" if is_service else "",
            passed=slack > 0 if is_service else None,
        ),
        Row(
            scen,
            variant,
            "cancel+await leftovers p99",
            percentile(cancel, 99),
            "ms",
            note=f"p50 {percentile(cancel, 50):.1f} ms",
        ),
    ]
    report = [r["report_ms"] for r in runs if not math.isnan(r.get("report_ms", math.nan))]
    if report:
        note = "after asyncio.run: per-URL WARNING logs, metrics"
        rows.append(Row(scen, variant, "report (logs+metrics) p99", percentile(report, 99), "ms", note=note))
    return rows
