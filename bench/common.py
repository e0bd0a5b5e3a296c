"""What every scenario shares: paths, the target process, worker subprocesses, statistics.

Each measured variant runs in a fresh ``python -m bench.worker`` process so its CPU time
(``time.process_time``) and memory are its own, and the target server runs in another
process so client and server never share a GIL or an event loop.
"""

from __future__ import annotations

import json
import os
import selectors
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "bench"
WORK_DIR = BENCH_DIR / ".work"
LOOPBACK = "127.0.0.1"

# Settings are read at import (as on Lambda): the workers exempt loopback from the egress
# guard, exactly as the tests do, before anything imports fanout.config.
WORKER_ENV = {
    "EGRESS_ALLOW_CIDRS": "127.0.0.0/8,::1/128",
    "POWERTOOLS_SERVICE_NAME": "fanout-bench",
    "POWERTOOLS_METRICS_NAMESPACE": "fanout-bench",
    "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
}


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of every child process: ours, plus the bench settings."""
    env = dict(os.environ)
    env.update(WORKER_ENV)
    env.update(extra or {})
    return env


class BenchError(RuntimeError):
    """A worker or the target failed; the scenario records it instead of a figure."""


# --- statistics ----------------------------------------------------------------------------


def median(values: Iterable[float]) -> float:
    data = list(values)
    return statistics.median(data) if data else float("nan")


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default), ``q`` in [0, 100]."""
    data = sorted(values)
    if not data:
        return float("nan")
    pos = (len(data) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


def ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


def interleaved_cpu(
    measure: Callable[[str], float], variants: tuple[str, str], blocks: int, requests: int
) -> dict[str, Any]:
    """CPU of two variants measured in one process in ABBA blocks (A B B A, ``blocks`` times):
    both share the process's warm state and the target's, and a drift in either (the other core
    busy for a while, a cache gone cold) weighs on both alike. ``measure(variant)`` runs one pass
    of ``requests`` and returns its CPU seconds. Each variant's mean CPU per request (ms) and B's
    total over A's."""
    a, b = variants
    seconds: dict[str, list[float]] = {a: [], b: []}
    for _ in range(blocks):
        for variant in (a, b, b, a):
            seconds[variant].append(measure(variant))
    per_req = {name: sum(cpu) / len(cpu) / requests * 1000 for name, cpu in seconds.items()}
    return {"cpu_per_req_ms": per_req, "ratio": ratio(sum(seconds[b]), sum(seconds[a]))}


# --- results -------------------------------------------------------------------------------


@dataclass
class Row:
    """One line of the printed table (and of ``results.json``'s ``rows``)."""

    scenario: str
    variant: str
    metric: str
    value: float
    unit: str
    vs_ideal: float | None = None
    vs_anchor: float | None = None
    goal: str = ""
    passed: bool | None = None  # None: an anchor or a diagnostic, no goal
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ScenarioResult:
    name: str
    rows: list[Row] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0


# --- the target process --------------------------------------------------------------------


class Target:
    """``bench.target`` in a subprocess: started, awaited (bounded), killed at exit."""

    def __init__(self, ports: int = 1, ready_timeout_s: float = 20.0) -> None:
        self.n_ports = ports
        self.ready_timeout_s = ready_timeout_s
        self.proc: subprocess.Popen[str] | None = None
        self.ports: list[int] = []

    def __enter__(self) -> Target:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        cmd = [sys.executable, "-m", "bench.target", "--ports", str(self.n_ports)]
        self.proc = subprocess.Popen(
            cmd, cwd=ROOT, env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        assert self.proc.stdout is not None
        deadline = time.monotonic() + self.ready_timeout_s
        line = ""
        with selectors.DefaultSelector() as sel:
            sel.register(self.proc.stdout, selectors.EVENT_READ)
            while not line:
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    self.stop()
                    raise BenchError("the bench target did not become ready")
                if sel.select(timeout=left):
                    line = self.proc.stdout.readline()
        self.ports = list(json.loads(line)["ports"])
        self._wait_http(deadline)

    def _wait_http(self, deadline: float) -> None:
        while True:
            try:
                self.stats()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise BenchError("the bench target does not answer") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self.proc = None

    def base_url(self, index: int = 0) -> str:
        return f"http://{LOOPBACK}:{self.ports[index]}"

    @property
    def base_urls(self) -> list[str]:
        return [self.base_url(i) for i in range(len(self.ports))]

    def stats(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.base_url() + "/__stats", timeout=5) as resp:
            data: dict[str, Any] = json.load(resp)
        return data

    def cpu_s(self) -> float:
        """The target's CPU seconds so far (user + system), from /proc."""
        assert self.proc is not None
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return float("nan")
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def wait_idle(self, key: str, timeout_s: float = 5.0) -> int:
        """Wait until the target's ``key`` counter is 0 (bounded); return its last value."""
        deadline = time.monotonic() + timeout_s
        while True:
            value = int(self.stats()[key])
            if value <= 0 or time.monotonic() > deadline:
                return value
            time.sleep(0.05)


# --- worker subprocesses -------------------------------------------------------------------


def run_worker(
    task: str, spec: dict[str, Any], *, timeout_s: float, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """Run ``bench.worker`` ``task`` with ``spec`` in a fresh interpreter; its JSON result.

    The result travels through a file: the service logs to stdout (Powertools), and the
    child's output goes to ``bench/.work/logs`` for a post-mortem.
    """
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    logs = WORK_DIR / "logs"
    logs.mkdir(exist_ok=True)
    stamp = f"{task.replace('.', '-')}-{os.getpid()}-{time.monotonic_ns()}"
    out = WORK_DIR / f"{stamp}.json"
    log = logs / f"{stamp}.log"
    cmd = [sys.executable, "-m", "bench.worker", task, json.dumps(spec), str(out)]
    with log.open("w") as log_file:
        try:
            proc = subprocess.run(
                cmd,
                cwd=ROOT,
                env=child_env(env),
                stdout=log_file,
                stderr=subprocess.STDOUT,
                timeout=timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise BenchError(f"{task}: no result within {timeout_s:g} s (log: {log})") from None
    if proc.returncode != 0 or not out.exists():
        tail = log.read_text()[-1500:]
        raise BenchError(f"{task}: exit {proc.returncode} (log: {log})\n{tail}")
    result: dict[str, Any] = json.loads(out.read_text())
    out.unlink()
    log.unlink()
    return result


def loadavg() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []
