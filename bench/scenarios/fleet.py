"""Fleet: ``fanout monitors validate|plan|apply`` for N monitors in one file (issue #22's goals:
500 monitors validate < 2 s, plan < 10 s, apply of 500 creates < 60 s against moto).

In this process, moto in server mode on a thread (``devtools.local_aws``, the template's schedule
group and role): the file is read and checked (``validate``), planned against the empty group
(``plan``: list and read the schedules, diff), applied (``apply``: N creates, concurrent and
bounded), and planned again, which must find nothing to do.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from bench.common import BenchError, Row, ScenarioResult, Target
from bench.config import BenchConfig

GOALS_S = {"validate": 2.0, "plan": 10.0, "apply": 60.0}


def fleet_file(n: int) -> str:
    lines = [
        "defaults:",
        "  schedule: rate(5 minutes)",
        "  options: {request_timeout_s: 10, retries: 1}",
        "monitors:",
    ]
    for i in range(n):
        lines += [
            f"  - name: service-{i:04d}",
            f"    group: team-{i % 10}",
            f"    tags: {{env: prod, tier: t{i % 3}}}",
            f"    urls: [https://service-{i}.example.com/health, https://service-{i}.example.com/ready]",
            "    thresholds: {p95_ms: '<800'}",
        ]
    return "\n".join(lines) + "\n"


def _measure(n: int, directory: Path) -> dict[str, float]:
    from devtools.local_aws import LocalAws
    from fanout.cli.monitors_file import read_fleet
    from fanout.cli.schedule_apply import apply_changes, client, deployed_schedules
    from fanout.cli.schedules import Deployment, desired, plan

    path = directory / "monitors.yaml"
    path.write_text(fleet_file(n))
    t0 = time.perf_counter()
    fleet = read_fleet([path])
    validate_s = time.perf_counter() - t0
    if fleet.problems or len(fleet.monitors) != n:
        raise BenchError(f"fleet file: {fleet.problems[:3]}")
    with LocalAws() as aws:
        os.environ.update({k: v for k, v in aws.function_env().items() if k.startswith("AWS_")})
        deployment = Deployment(
            aws.resources.schedule_group,
            "arn:aws:lambda:us-east-1:123456789012:function:fanout:live",
            aws.resources.scheduler_role_arn,
            aws.queue_arn(aws.resources.schedule_dead_letter_queue_url),
            aws.resources.bucket,
        )

        def planned() -> tuple[object, float]:
            t = time.perf_counter()
            found, foreign = deployed_schedules(client("scheduler"), deployment.group)
            result = plan(
                [desired(m, deployment) for m in read_fleet([path]).monitors], found, foreign=foreign
            )
            return result, time.perf_counter() - t

        first, plan_s = planned()
        t0 = time.perf_counter()
        applied = apply_changes(first.changes, deployment, None)  # type: ignore[attr-defined]
        apply_s = time.perf_counter() - t0
        if any(a.error for a in applied):
            raise BenchError(f"apply: {[a.error for a in applied if a.error][:3]}")
        second, replan_s = planned()
        if second.changes or second.unchanged != n:  # type: ignore[attr-defined]
            raise BenchError("a second plan after apply is not empty")
    return {"validate": validate_s, "plan": plan_s, "apply": apply_s, "plan (all deployed)": replan_s}


def run(cfg: BenchConfig, target: Target) -> ScenarioResult:
    result = ScenarioResult("fleet")
    with tempfile.TemporaryDirectory() as tmp:
        try:
            times = _measure(cfg.fleet_n, Path(tmp))
        except BenchError as exc:
            result.errors.append(str(exc))
            return result
    result.raw = {"n": cfg.fleet_n, "seconds": times}
    scen = f"fleet N={cfg.fleet_n} monitors (moto)"
    for step, seconds in times.items():
        goal = GOALS_S.get(step)
        scaled = goal * cfg.fleet_n / 500 if goal is not None else None
        print(f"  fleet {step:20s} N={cfg.fleet_n}: {seconds:.2f} s", flush=True)
        result.rows.append(
            Row(
                scen, step, "wall", seconds, "s",
                goal=f"< {scaled:g} s" if scaled is not None else "",
                passed=None if scaled is None else seconds < scaled,
                note="file -> schedules" if step == "apply" else "",
            )
        )  # fmt: skip
    return result
