"""Repetition counts and sizes: defaults keep ``make bench`` within ~10 minutes on 2 cores."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

SCENARIOS = (
    "throughput",
    "cpu",
    "checks",
    "cancellation",
    "deadline",
    "coldstart",
    "memory",
    "e2e",
    "monitor",
    "shards",
    "scale",
    "serialise",
    "fleet",
    "polite",
    "status_page",
)


@dataclass(frozen=True)
class BenchConfig:
    """Every knob of a run; ``--quick`` swaps in :data:`QUICK`, ``--set k=v`` overrides one."""

    # Throughput: N GETs, server latency, concurrency; every variant in a fresh process.
    throughput_ns: tuple[int, ...] = (1_000, 5_000)
    throughput_delay_ms: int = 50
    throughput_concurrency: int = 100
    throughput_reps: int = 5
    throughput_warmup: int = 100
    # CPU-bound: N GETs at 0 ms latency, service and raw aiohttp on uvloop and on asyncio's loop.
    cpu_n: int = 5_000
    cpu_concurrency: int = 100
    cpu_reps: int = 5
    # The stock httpcore transport is ~10x slower: fewer sizes and repetitions.
    stock_ns: tuple[int, ...] = (1_000,)
    stock_reps: int = 3
    # Diagnostic variants that split the service's overhead (aiohttp+engine, httpx client).
    diagnostics: bool = True
    # Checks: N GETs of a JSON body of `checks_body_bytes`, with and without an `expect`.
    checks_n: int = 3_000
    checks_body_bytes: int = 1_024
    checks_reps: int = 5
    checks_blocks: int = 2  # A B B A blocks per process (without, with expect)
    # Cancellation: cycles of `per_cycle` requests on `connections`, cancelled at 0-cancel_max_ms.
    cancel_cycles: int = 200
    cancel_per_cycle: int = 20
    cancel_connections: int = 10
    cancel_max_ms: float = 30.0
    cancel_followups: int = 200
    cancel_reps: int = 3
    # Deadline precision: URLs that never answer, Lambda remaining time, invocations.
    deadline_n: int = 1_000
    deadline_remaining_ms: int = 2_000
    deadline_runs: int = 20
    deadline_anchor_runs: int = 10
    deadline_stock_runs: int = 5
    # Cold start: fresh interpreters per variant.
    cold_runs: int = 9
    # End to end through the Lambda runtime emulator (service vs raw aiohttp), and its cost.
    e2e_n: int = 1_000
    e2e_delay_ms: int = 50
    e2e_concurrency: int = 100
    e2e_reps: int = 9
    e2e_warmup: int = 2
    e2e_single_reps: int = 20
    e2e_timeout_s: int = 60
    # Memory: one N-URL invocation per fresh process.
    memory_n: int = 10_000
    memory_concurrency: int = 100
    memory_reps: int = 3
    memory_large_n: int = 50_000  # one inline run this large: how memory grows
    memory_large_reps: int = 1
    # Monitor: state updates of N URLs on moto (server mode, its own process).
    monitor_n: int = 2_000
    monitor_reps: int = 3
    # Fleet: monitors in one file, validated, planned and applied on moto.
    fleet_n: int = 500
    # Status page: the site rendered for M monitors x U URLs (95 days of history each).
    status_monitors: int = 500
    status_urls: int = 20
    status_reps: int = 2
    # ...and rendered in a monitor run with M monitors of U URLs in the table on moto.
    status_run_monitors: int = 200
    status_run_urls: int = 5
    # Sharded cost: N slow URLs in shards of `shards_size` through the emulator on moto, with and
    # without every 100th never answering (bench/scenarios/shards.py).
    shards_n: int = 1_000
    shards_size: int = 250
    shards_delay_ms: int = 1_000
    shards_concurrency: int = 50
    shards_timeout_s: int = 12
    # Scale: a sharded run of N URLs at 0 ms against an inline one of `scale_anchor_n`, URLs per
    # invocation-second, through the emulator on moto (bench/scenarios/scale.py).
    scale_n: int = 100_000
    scale_anchor_n: int = 10_000
    scale_shard_size: int = 500
    scale_large_shard_size: int = 5_000
    scale_concurrency: int = 100
    scale_timeout_s: int = 120
    # Serialise: the document of an N-URL run written as JSON and read back.
    serialise_n: int = 10_000
    serialise_reps: int = 7
    # Politeness: per-host rates observed by a stamping host over a window, a 429 pause, and the
    # CPU a rate that never binds costs (paired with and without, over every port of the target).
    polite_rates: tuple[int, ...] = (1, 10, 100)
    polite_window_s: int = 5
    polite_cpu_n: int = 3_000
    polite_cpu_reps: int = 5
    polite_cpu_blocks: int = 2  # A B B A blocks per process
    # Worker seed (cancellation instants) so runs are comparable.
    seed: int = 1234

    def with_overrides(self, pairs: list[str]) -> BenchConfig:
        """Apply ``name=value`` overrides (tuples as comma-separated ints)."""
        types = {f.name: f.type for f in fields(self)}
        changes: dict[str, object] = {}
        for pair in pairs:
            name, _, raw = pair.partition("=")
            name = name.strip()
            if name not in types:
                raise SystemExit(f"unknown setting {name!r}; known: {', '.join(sorted(types))}")
            current = getattr(self, name)
            if isinstance(current, bool):
                changes[name] = raw.lower() in {"1", "true", "yes", "on"}
            elif isinstance(current, tuple):
                changes[name] = tuple(int(x) for x in raw.split(",") if x)
            else:
                changes[name] = type(current)(raw)
        return replace(self, **changes)  # type: ignore[arg-type]


FULL = BenchConfig()

# A smoke run (~1-2 minutes): every scenario and variant, small sizes, one repetition.
QUICK = BenchConfig(
    throughput_ns=(500,),
    throughput_reps=1,
    throughput_warmup=20,
    cpu_n=1_000,
    cpu_reps=1,
    stock_ns=(500,),
    stock_reps=1,
    checks_n=500,
    checks_reps=1,
    checks_blocks=1,
    cancel_cycles=30,
    cancel_followups=50,
    cancel_reps=1,
    deadline_n=300,
    deadline_runs=3,
    deadline_anchor_runs=2,
    deadline_stock_runs=1,
    cold_runs=3,
    e2e_n=300,
    e2e_reps=2,
    e2e_warmup=1,
    e2e_single_reps=5,
    memory_n=1_000,
    memory_large_n=5_000,
    memory_reps=1,
    monitor_n=300,
    monitor_reps=1,
    fleet_n=100,
    status_monitors=50,
    status_reps=1,
    status_run_monitors=50,
    shards_n=400,
    shards_size=100,
    shards_concurrency=20,
    scale_n=5_000,
    scale_anchor_n=1_000,
    scale_large_shard_size=2_500,
    serialise_n=2_000,
    serialise_reps=3,
    polite_rates=(10,),
    polite_window_s=2,
    polite_cpu_n=500,
    polite_cpu_reps=1,
    polite_cpu_blocks=1,
)
