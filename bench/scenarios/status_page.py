"""Status page: rendering the whole site (index, a page per monitor, status.json, every monitor's
JSON and every badge) for M monitors of U URLs, each with 95 days of simulated history (issue
#24's goal: 500 monitors x 20 URLs in < 10 s), and the index's weight compressed (< 300 KB for
100 URLs). The histories are simulated once through the real state machine and shared among
the URLs; the render, not the simulation, is measured.
"""

from __future__ import annotations

import gzip
import time

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
    return result
