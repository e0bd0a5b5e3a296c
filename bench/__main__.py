"""``python -m bench`` (``make bench``): every scenario, anchors beside the service, one run.

    python -m bench                      full run (~10 min on 2 cores): bench/results.{json,md,png}
    python -m bench --quick              smoke run (~2 min): bench/.work/results-quick.{json,png}
    python -m bench --only deadline      some scenarios (comma-separated)
    python -m bench --set throughput_reps=9 --set stock_ns=1000,5000
    python -m bench --replot             redraw results.png from results.json (no measuring)
    python -m bench --markdown           the table of results.json as Markdown (README)

The target server runs in its own process (``bench.target``, 127.0.0.1 only) and every
measured variant in a fresh worker process; see ``bench/common.py``. Figures taken while
other work runs on the machine are noisy: the load average is printed and recorded.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

from bench import plot, report
from bench.common import BENCH_DIR, WORK_DIR, BenchError, ScenarioResult, Target, loadavg
from bench.config import FULL, QUICK, SCENARIOS, BenchConfig
from bench.scenarios import (
    cancellation,
    checks,
    coldstart,
    cpu,
    deadline,
    e2e,
    fleet,
    memory,
    monitor,
    polite,
    scale,
    serialise,
    shards,
    status_page,
    throughput,
)

RUNNERS = {
    "throughput": throughput.run,
    "cpu": cpu.run,
    "checks": checks.run,
    "cancellation": cancellation.run,
    "deadline": deadline.run,
    "coldstart": coldstart.run,
    "memory": memory.run,
    "e2e": e2e.run,
    "monitor": monitor.run,
    "shards": shards.run,
    "scale": scale.run,
    "serialise": serialise.run,
    "fleet": fleet.run,
    "polite": polite.run,
    "status_page": status_page.run,
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, one repetition (smoke run)")
    parser.add_argument("--only", default="", help=f"comma-separated subset of {','.join(SCENARIOS)}")
    parser.add_argument("--reps", type=int, help="repetitions of the throughput scenario")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="override a setting")
    parser.add_argument("--out", type=Path, help="directory for results.json/png (default: bench/)")
    parser.add_argument("--no-plot", action="store_true", help="skip results.png")
    parser.add_argument("--replot", action="store_true", help="only redraw results.png from results.json")
    parser.add_argument("--markdown", action="store_true", help="only print results.json's table as Markdown")
    return parser.parse_args(argv)


def build_config(args: argparse.Namespace) -> BenchConfig:
    cfg = QUICK if args.quick else FULL
    overrides = list(args.set)
    if args.reps is not None:
        overrides.append(f"throughput_reps={args.reps}")
    return cfg.with_overrides(overrides)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    cfg = build_config(args)
    selected = [s.strip() for s in args.only.split(",") if s.strip()] or list(SCENARIOS)
    unknown = set(selected) - set(SCENARIOS)
    if unknown:
        raise SystemExit(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    out_dir = args.out or (WORK_DIR if args.quick else BENCH_DIR)
    out_dir.mkdir(parents=True, exist_ok=True)
    suffix = "-quick" if args.quick and args.out is None else ""
    json_path, png_path = out_dir / f"results{suffix}.json", out_dir / f"results{suffix}.png"
    if args.replot:
        plot.replot(json_path, png_path)
        print(f"wrote {png_path}")
        return 0
    if args.markdown:
        print(report.markdown_from_json(json_path))
        return 0

    load_before = loadavg()
    mode = "quick" if args.quick else "full"
    print(f"fanout bench ({mode}): {', '.join(selected)}; load average {load_before}")
    if load_before and load_before[0] >= 1.0:
        print("  note: the machine is busy (1-min load >= 1): figures will be noisier than on an idle one")

    ports = max(1, math.ceil(cfg.deadline_n / deadline.MAX_PER_HOST))
    results: list[ScenarioResult] = []
    machine = report.machine_info()
    try:
        with Target(ports=ports) as target:
            for name in selected:
                print(f"[{name}]", flush=True)
                started = time.perf_counter()
                try:
                    res = RUNNERS[name](cfg, target)
                except BenchError as exc:
                    res = ScenarioResult(name, errors=[str(exc)])
                res.seconds = time.perf_counter() - started
                results.append(res)
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 2
    load = {"before": load_before, "after": loadavg()}

    print()
    print(report.table(results))
    passed, failed = report.passed_failed(results)
    subtitle = report.subtitle(machine, load, passed, failed, quick=args.quick)
    print(f"\ngoals: {passed} pass, {failed} fail; load average {load_before} -> {load['after']}")
    report.write_json(json_path, results, cfg, machine, load)
    print(f"wrote {json_path.relative_to(Path.cwd()) if json_path.is_relative_to(Path.cwd()) else json_path}")
    md_path = json_path.with_suffix(".md")
    md_path.write_text(report.markdown_from_json(json_path) + "\n")
    print(f"wrote {md_path.relative_to(Path.cwd()) if md_path.is_relative_to(Path.cwd()) else md_path}")
    if not args.no_plot:
        plot.plot(png_path, results, subtitle)
        print(
            f"wrote {png_path.relative_to(Path.cwd()) if png_path.is_relative_to(Path.cwd()) else png_path}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
