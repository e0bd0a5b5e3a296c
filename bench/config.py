"""Repetition counts and sizes: defaults keep ``make bench`` within ~10 minutes on 2 cores."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

SCENARIOS = ("throughput", "checks", "cancellation", "deadline", "coldstart", "memory", "monitor")


@dataclass(frozen=True)
class BenchConfig:
    """Every knob of a run; ``--quick`` swaps in :data:`QUICK`, ``--set k=v`` overrides one."""

    # Throughput: N GETs, server latency, concurrency; every variant in a fresh process.
    throughput_ns: tuple[int, ...] = (1_000, 5_000)
    throughput_delay_ms: int = 50
    throughput_concurrency: int = 100
    throughput_reps: int = 5
    throughput_warmup: int = 100
    # The stock httpcore transport is ~10x slower: fewer sizes and repetitions.
    stock_ns: tuple[int, ...] = (1_000,)
    stock_reps: int = 3
    # Diagnostic variants that split the service's overhead (aiohttp+engine, httpx client).
    diagnostics: bool = True
    # Checks: N GETs of a JSON body of `checks_body_bytes`, with and without an `expect`.
    checks_n: int = 3_000
    checks_body_bytes: int = 1_024
    checks_reps: int = 5
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
    # Memory: one N-URL invocation per fresh process.
    memory_n: int = 10_000
    memory_concurrency: int = 100
    memory_reps: int = 3
    # Monitor: state updates of N URLs on moto (server mode, its own process).
    monitor_n: int = 2_000
    monitor_reps: int = 3
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
    stock_ns=(500,),
    stock_reps=1,
    checks_n=500,
    checks_reps=1,
    cancel_cycles=30,
    cancel_followups=50,
    cancel_reps=1,
    deadline_n=300,
    deadline_runs=3,
    deadline_anchor_runs=2,
    deadline_stock_runs=1,
    cold_runs=3,
    memory_n=1_000,
    memory_reps=1,
    monitor_n=300,
    monitor_reps=1,
)
