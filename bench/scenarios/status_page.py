"""Status page: rendering the whole site (index, a page per monitor, status.json, every monitor's
JSON and every badge) for M monitors of U URLs, each with 95 days of simulated history (issue
#24's goal: 500 monitors x 20 URLs in < 10 s), and the index's weight compressed (< 300 KB for
100 URLs). The histories are simulated once through the real state machine and shared among
the URLs; the render, not the simulation, is measured.

And the render inside a monitor run (``fanout.runs.status_page.render_changed``) with M monitors
of U URLs in the monitors table and the page's bucket on moto (in this process): once every
monitor has been rendered, one monitor runs and the run renders what changed (that monitor's
files read again, the others kept from the bucket) and uploads it; against it, reading every
monitor's history again and rendering the whole site, as the render did before.
"""

from __future__ import annotations

import asyncio
import gzip
import os
import time
from typing import Any

from bench.common import Row, ScenarioResult, Target
from bench.config import BenchConfig

GOAL_S = 10.0  # for 500 x 20 URLs
WEIGHT_GOAL_BYTES = 300_000  # the index for 100 URLs, compressed


def run(cfg: BenchConfig, target: Target) -> ScenarioResult:
    from devtools.status_sample import sample_monitors
    from fanout.status.site import render_site

    result = ScenarioResult("status_page")
    now = time.time()
    monitors, urls = cfg.status_monitors, cfg.status_urls
    data = sample_monitors(now, monitors, urls)
    times = []
    for _ in range(cfg.status_reps):
        t0 = time.perf_counter()
        site = render_site(data, now)
        times.append(time.perf_counter() - t0)
    best = min(times)
    goal = GOAL_S * monitors * urls / 10_000
    small = render_site(sample_monitors(now, 10, 10), now)
    weight = len(gzip.compress(small.files["index.html"])) + len(gzip.compress(small.files["style.css"]))
    result.raw = {
        "monitors": monitors,
        "urls": urls,
        "seconds": times,
        "files": len(site.files),
        "weight": weight,
    }
    print(f"  status page {monitors}x{urls} URLs: {best:.2f} s, {len(site.files)} files", flush=True)
    scen = f"status page {monitors} monitors x {urls} URLs"
    result.rows.append(
        Row(scen, "render the site", "wall", best, "s", goal=f"< {goal:g} s", passed=best < goal,
            note=f"{len(site.files)} files, best of {len(times)}")
    )  # fmt: skip
    result.rows.append(
        Row("status page 100 URLs", "index + style, gzip", "size", weight / 1000, "KB",
            goal=f"< {WEIGHT_GOAL_BYTES // 1000} KB", passed=weight < WEIGHT_GOAL_BYTES)
    )  # fmt: skip
    try:
        in_run = asyncio.run(_in_run(cfg.status_run_monitors, cfg.status_run_urls, cfg.status_reps))
    except Exception as exc:  # a broken moto is reported, the render's rows above still stand
        result.errors.append(f"status page in a run: {exc!r}")
        return result
    result.raw["in_run"] = in_run
    size = f"{cfg.status_run_monitors} monitors x {cfg.status_run_urls} URLs"
    scen = f"status page in a monitor run, {size} (moto)"
    result.rows.append(
        Row(scen, "render + upload, one monitor ran", "wall", min(in_run["changed_s"]), "s",
            note=f"{in_run['uploaded']} files uploaded, best of {len(in_run['changed_s'])}")
    )  # fmt: skip
    result.rows.append(
        Row(scen, "every monitor read again + render (before)", "wall", in_run["full_s"], "s",
            note="no upload")
    )  # fmt: skip
    return result


async def _in_run(monitors: int, urls: int, reps: int) -> dict[str, Any]:
    from devtools.local_aws import CREDENTIALS, LocalAws
    from devtools.status_sample import sample_monitors, seed_table
    from fanout.aws.session import ClientConfig
    from fanout.aws.status_site import SiteBucket
    from fanout.runs.status_page import build, render_changed
    from fanout.runs.stores import RunStores, StoreConfig

    saved = {k: os.environ.get(k) for k in CREDENTIALS}
    os.environ.update(CREDENTIALS)
    try:
        with LocalAws() as aws:
            now = time.time()
            data = sample_monitors(now, monitors, urls)
            seed_table(aws.client("dynamodb"), aws.resources.monitors_table, data, now)
            client = ClientConfig(connect_timeout_s=5.0, read_timeout_s=60.0, endpoint_url=aws.endpoint)
            config = StoreConfig(monitors_table=aws.resources.monitors_table, client=client)
            async with RunStores(config) as stores:
                table, history = stores.monitors, stores.history
                if table is None or history is None:
                    raise RuntimeError("the monitors table is off")
                site = SiteBucket(stores.clients, aws.resources.status_bucket)
                loop = asyncio.get_running_loop()
                t0 = time.perf_counter()
                await build(table, history, loop.time() + 600)
                full = time.perf_counter() - t0
                while True:  # every monitor rendered and uploaded once
                    done = await render_changed(table, history, site, "service-000", loop.time() + 600)
                    if done and not done["monitors_waiting"] and not done["upload_left"]:
                        break
                changed, uploaded = [], 0
                for rep in range(reps):
                    ran = dict(data[0].summary) | {"urls": urls, "last_run_at": f"rep-{rep}"}
                    await table.put_summary("service-000", ran, loop.time() + 60)
                    t0 = time.perf_counter()
                    done = await render_changed(table, history, site, "service-000", loop.time() + 600)
                    changed.append(time.perf_counter() - t0)
                    if done is None or done["monitors_rendered"] != 1:
                        raise RuntimeError(f"not the one monitor rendered: {done}")
                    uploaded = done["uploaded"]
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    print(
        f"  status page in a run: {min(changed):.2f} s (one monitor ran), {full:.2f} s (all read)", flush=True
    )
    return {"changed_s": changed, "full_s": full, "uploaded": uploaded}
