"""Monitor: what updating a monitor's state costs per URL, on moto in server mode (its own process).

``monitor``: ``MonitorUpdate.apply`` for N URLs that already have a state (the steady state of a
scheduled monitor: a strongly consistent batch read and a transaction of conditional writes per
100 URLs); ``batch-write`` (the anchor): the same N items written with ``BatchWriteItem`` (25 a
call), no read and no condition, the cheapest way to put N items; ``regions-3``: a regional
monitor's round as its home region applies it, the reports of 3 regions for the same N URLs, one
after the other (each a monitor update: its votes, its region liveness), against ``monitor``'s one
run: what checking from 3 regions costs the home region per URL. All on the same moto (the
harness's, ``devtools.moto_compat.patch_moto_dynamodb``), whose own speed sets the wall time: the
client's CPU per URL is the figure that carries to DynamoDB. No goal: a row to watch.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Any

from bench.common import ROOT, BenchError, Row, ScenarioResult, Target, median, run_worker
from bench.config import BenchConfig

if TYPE_CHECKING:
    from fanout.config import Settings
    from fanout.core.results import UrlResult

TABLE = "bench-monitors"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_moto() -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    code = (
        "import sys; from devtools.moto_compat import patch_moto_dynamodb; patch_moto_dynamodb(); "
        "from moto.server import main; main(sys.argv[1:])"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "-H", "127.0.0.1", "-p", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc, endpoint
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise BenchError("moto_server did not start")


def _env(endpoint: str) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "MONITORS_TABLE_NAME": TABLE,
        # moto answers one DynamoDB request at a time: calls queue there as they never would on AWS.
        "FANOUT_STORE_READ_TIMEOUT_S": "30",
    }


def _create_table(endpoint: str) -> None:
    import boto3

    from devtools.local_aws import load_template, table_kwargs

    kwargs, _ = table_kwargs(load_template(), "MonitorsTable", TABLE)
    client = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")  # fmt: skip
    client.create_table(**kwargs)
    client.close()


def work(variant: str, spec: dict[str, Any]) -> dict[str, Any]:
    """``variant``'s measured pass over N URLs that already have a state: its wall and CPU time."""
    import asyncio

    import fanout.runs.monitor  # noqa: F401  (every variant loads what the monitor path loads)
    from fanout.config import get_settings
    from fanout.core.results import Outcome, UrlResult

    n, name = spec["n"], f"bench-{spec['rep']}-{variant}"
    results = [
        UrlResult(f"https://site-{i}.example/health", Outcome.OK, 200, 1, 12.5, None, None) for i in range(n)
    ]
    work_of = {"monitor": _monitor_runs, "regions-3": _regional_rounds}.get(variant, _batch_writes)
    wall, cpu = asyncio.run(work_of(name, results, get_settings()))
    return {
        "n": n,
        "wall_s": wall,
        "cpu_s": cpu,
        "cpu_per_url_ms": cpu / n * 1000,
        "wall_per_url_ms": wall / n * 1000,
    }


async def _monitor_runs(name: str, results: list[UrlResult], settings: Settings) -> tuple[float, float]:
    """Two monitor updates of ``results``: the first creates the states, the second is timed."""
    import asyncio

    from fanout.core.monitors import MonitorSpec
    from fanout.runs.monitor import MonitorRun, MonitorUpdate
    from fanout.runs.stores import RunStores, StoreConfig

    async with RunStores(StoreConfig.from_settings(settings)) as stores:
        assert stores.monitors is not None
        spec_ = MonitorSpec(name=name)
        times = []
        for i in range(2):  # the first creates the states; the second is measured
            run = MonitorRun(spec_, f"run-{i}", f"key-{i}", None, time.time() + 300)
            update = MonitorUpdate(
                stores.monitors, stores.alerts, run, concurrency=settings.monitor_concurrency
            )
            wall0, cpu0 = time.perf_counter(), time.process_time()
            report = await update.apply(results, (), before=asyncio.get_running_loop().time() + 300)
            times.append((time.perf_counter() - wall0, time.process_time() - cpu0))
            assert report.state_errors == 0, report
        return times[-1]


async def _batch_writes(name: str, results: list[UrlResult], settings: Settings) -> tuple[float, float]:
    """The anchor: the same states put with ``BatchWriteItem``, 25 a call, no read, no condition."""
    import asyncio

    from fanout.aws.monitor_codec import state_item
    from fanout.core.monitors import SubjectState
    from fanout.runs.stores import RunStores, StoreConfig

    async with RunStores(StoreConfig.from_settings(settings)) as stores:
        ddb = await stores.clients.client("dynamodb")
        items = [state_item(name, SubjectState(r.url), version=1, expires_at=2_000_000_000) for r in results]
        wall0, cpu0 = time.perf_counter(), time.process_time()
        slots = asyncio.Semaphore(settings.monitor_concurrency)

        async def write(chunk: list[dict[str, Any]]) -> None:
            async with slots:
                await ddb.batch_write_item(RequestItems={TABLE: [{"PutRequest": {"Item": i}} for i in chunk]})

        await asyncio.gather(*(write(items[i : i + 25]) for i in range(0, len(results), 25)))
        return time.perf_counter() - wall0, time.process_time() - cpu0


async def _regional_rounds(name: str, results: list[UrlResult], settings: Settings) -> tuple[float, float]:
    """Two rounds of 3 regions' reports applied by the home region; the second is timed."""
    import asyncio

    from fanout.core.regions import RegionObservation, RegionReport
    from fanout.core.rounds import round_of_start
    from fanout.runs.region_home import apply_region_reports
    from fanout.runs.stores import RunStores, StoreConfig

    regions = ["ap-southeast-2", "eu-west-1", "us-east-1"]
    monitor = {"name": name, "regions": regions}

    def report(region: str, i: int) -> RegionReport:
        now = time.time()
        seen = tuple(RegionObservation(r.url, True, "ok", now, 200, 12.5) for r in results)
        round_id = round_of_start(now + 60 * i)
        key = f"{region}-{i}"
        return RegionReport(
            monitor=monitor, region=region, scheduled_at=round_id, run_id=key, key=key, sent_at=now,
            observations=seen,
        )  # fmt: skip

    async with RunStores(StoreConfig.from_settings(settings)) as stores:
        times = []
        for i in range(2):  # the first round creates the states; the second is measured
            reports = [report(region, i) for region in regions]
            wall0, cpu0 = time.perf_counter(), time.process_time()
            before = asyncio.get_running_loop().time() + 300
            applied = await apply_region_reports(reports, stores=stores, settings=settings, before=before)
            times.append((time.perf_counter() - wall0, time.process_time() - cpu0))
            assert all(a.report is not None and a.report.state_errors == 0 for a in applied), applied
        return times[-1]


def run(cfg: BenchConfig, target: Target) -> ScenarioResult:
    result = ScenarioResult("monitor")
    proc, endpoint = _start_moto()
    runs: dict[str, list[dict[str, Any]]] = {"batch-write": [], "monitor": [], "regions-3": []}
    try:
        _create_table(endpoint)
        for rep in range(cfg.monitor_reps):
            for variant in runs:
                spec = {"n": cfg.monitor_n, "rep": rep}
                try:
                    res = run_worker(f"monitor.{variant}", spec, timeout_s=300, env=_env(endpoint))
                except BenchError as exc:
                    result.errors.append(str(exc))
                    continue
                runs[variant].append(res)
                print(
                    f"  monitor {variant:11s} N={cfg.monitor_n} rep {rep + 1}: {res['wall_s']:.2f} s, "
                    f"{res['cpu_per_url_ms']:.3f} ms CPU/URL",
                    flush=True,
                )
    finally:
        proc.kill()
        proc.wait(timeout=10)
    result.raw = {"runs": runs}
    scen = f"monitor N={cfg.monitor_n} (moto)"
    anchor = runs["batch-write"]
    for variant, data in runs.items():
        if not data:
            continue
        cpu, wall = median(r["cpu_per_url_ms"] for r in data), median(r["wall_per_url_ms"] for r in data)
        ratio = None
        if variant != "batch-write" and anchor:
            ratio = cpu / median(r["cpu_per_url_ms"] for r in anchor)
        result.rows += [
            Row(scen, variant, "CPU/URL", cpu, "ms", vs_anchor=ratio, note=f"{len(data)} reps"),
            Row(scen, variant, "wall/URL", wall, "ms", note="moto's speed, not DynamoDB's"),
        ]
    return result
