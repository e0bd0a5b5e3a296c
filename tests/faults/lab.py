"""The fault lab: the function in the real Lambda runtime emulator, inside namespaces of its own.

``run_lab(spec)`` (as root) starts ``python -m tests.faults.lab`` under
``unshare --net --mount``: a network namespace whose only interface is ``lo`` (so nothing
but loopback is reachable, by construction) and a private mount namespace in which
``/etc/resolv.conf`` names the faulty DNS server (``dns_server.FaultyDns`` on
``127.0.0.53:53``) and ``/etc/hosts`` gets the spec's extra names. Inside, it may drop
SYNs to ports with ``iptables``, starts the demo target and the emulator, sends the spec's
events in order and reports, per event: the answer, the wall time, the runtime's threads
(``/proc/<pid>/task``) before and after, and the log lines that show a leak or a crash.

Events are JSON with ``{target}`` replaced by the demo target's base URL, ``{port}`` by its
port (for URLs on names the lab resolves) and ``{dead_port}`` by a port whose SYNs are dropped.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DNS_HOST = "127.0.0.53"
DEAD_PORT = 8999
LAB_TIMEOUT_S = 240


@dataclass
class LabSpec:
    events: list[Any]
    lambda_timeout_s: int = 6
    env: dict[str, str] = field(default_factory=dict)
    hosts: dict[str, str] = field(default_factory=dict)
    drop_syns: bool = False


@dataclass
class Invocation:
    payload: Any
    wall_s: float
    threads_before: int
    threads_after: int
    runtime_restarted: bool
    leaks: list[str]


@dataclass
class LabReport:
    invocations: list[Invocation]
    dns_queries: dict[str, int]
    target_hits: dict[str, int]
    log_tail: str

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LabReport:
        return cls(
            invocations=[Invocation(**i) for i in data["invocations"]],
            dns_queries=data["dns_queries"],
            target_hits=data["target_hits"],
            log_tail=data["log_tail"],
        )


def can_run() -> str | None:
    """Why the lab cannot run here, or None."""
    if os.geteuid() != 0:
        return "the fault lab needs root (namespaces, port 53, iptables)"
    missing = [tool for tool in ("unshare", "mount", "ip", "iptables") if shutil.which(tool) is None]
    return f"missing tools: {', '.join(missing)}" if missing else None


def run_lab(spec: LabSpec) -> LabReport:
    """Run ``spec`` in fresh network and mount namespaces; the report of what happened."""
    command = ["unshare", "--net", "--mount", "--propagation", "private", "--fork", "--"]
    command += [sys.executable, "-m", "tests.faults.lab"]
    env = os.environ | {"PYTHONPATH": f"{ROOT / 'src'}:{ROOT}"}
    done = subprocess.run(
        command,
        input=json.dumps(asdict(spec)),
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=LAB_TIMEOUT_S,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the lab failed ({done.returncode}):\n{done.stderr[-4000:]}")
    return LabReport.from_json(json.loads(done.stdout.strip().splitlines()[-1]))


# -- inside the namespaces ------------------------------------------------------------------


def _sh(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True)


def _bind_file(path: str, text: str, scratch: Path) -> None:
    copy = scratch / Path(path).name
    copy.write_text(text)
    _sh("mount", "--bind", str(copy), path)


def _runtime(rie: Any) -> int | None:
    pids = rie.runtime_pids()
    return pids[0] if len(pids) == 1 else None


def _threads(pid: int | None) -> int:
    """The runtime's threads, but for libuv's idle pool workers.

    On uvloop, ``sock_connect`` passes even a numeric address through ``getaddrinfo`` in libuv's
    thread pool, which starts (4 workers) on the process's first connection and then waits on a
    futex for good. A worker doing anything else (a lookup a hostname sent it into) is counted.
    """
    if not pid:
        return 0
    tasks = Path(f"/proc/{pid}/task")
    return sum(not _idle_libuv_worker(task) for task in tasks.iterdir())


def _idle_libuv_worker(task: Path) -> bool:
    try:
        name = (task / "comm").read_text().strip()
        waiting_on = (task / "wchan").read_text().strip()
    except OSError:  # the thread ended meanwhile
        return True
    return name == "libuv-worker" and waiting_on.startswith("futex")


def _prepare(spec: LabSpec, scratch: Path) -> None:
    _sh("ip", "link", "set", "lo", "up")
    _bind_file("/etc/resolv.conf", f"nameserver {DNS_HOST}\n", scratch)
    hosts = Path("/etc/hosts").read_text() + "".join(f"{ip} {name}\n" for name, ip in spec.hosts.items())
    _bind_file("/etc/hosts", hosts, scratch)
    if spec.drop_syns:
        _sh("iptables", "-A", "INPUT", "-p", "tcp", "--dport", str(DEAD_PORT), "--syn", "-j", "DROP")


def _fill(event: Any, target: Any) -> Any:
    text = json.dumps(event).replace("{target}", target.base_url).replace("{port}", str(target.port))
    return json.loads(text.replace("{dead_port}", str(DEAD_PORT)))


def _inside(spec: LabSpec) -> dict[str, Any]:
    from devtools.demo_target import DemoTarget
    from devtools.rie import LambdaEmulator, function_error
    from tests.faults.dns_server import FaultyDns

    with tempfile.TemporaryDirectory(prefix="fanout-lab-") as tmp:
        _prepare(spec, Path(tmp))
        env = {"PYTHONWARNINGS": "default::ResourceWarning"} | spec.env
        with (
            FaultyDns(DNS_HOST) as dns,
            DemoTarget() as target,
            LambdaEmulator(timeout_s=spec.lambda_timeout_s, env=env) as rie,
        ):
            warm, _ = rie.invoke({"urls": []})  # initialise the runtime: later invokes are warm
            assert function_error(warm) is None, rie.log_tail()
            invocations = []
            for event in spec.events:
                pid = _runtime(rie)
                before, since = _threads(pid), rie.log_offset()
                payload, wall_s = rie.invoke(_fill(event, target))
                time.sleep(0.2)  # let the runtime settle after posting the answer
                after_pid = _runtime(rie)
                invocations.append(
                    Invocation(
                        payload=payload,
                        wall_s=wall_s,
                        threads_before=before,
                        threads_after=_threads(after_pid),
                        runtime_restarted=after_pid != pid,
                        leaks=rie.leak_lines(since),
                    )
                )
            return {
                "invocations": [asdict(i) for i in invocations],
                "dns_queries": dict(dns.queries),
                "target_hits": dict(target.stats()["hits"]),
                "log_tail": rie.log_tail(60),
            }


if __name__ == "__main__":
    report = _inside(LabSpec(**json.loads(sys.stdin.read())))
    print(json.dumps(report))
