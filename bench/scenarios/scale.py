"""Scale: what sharding costs per URL, in invocation-seconds, on a run ten times an inline one.

One emulator (``devtools.rie``, function timeout ``scale_timeout_s``) on moto
(``devtools.local_aws``: the template's bucket, runs table and shard queue, in this process), its
stores on, ``FANOUT_MAX_URLS`` raised to ``scale_n``; every URL is ``/ok`` at 0 ms, ``concurrency``
``scale_concurrency``. After one small warm-up invocation:

- ``inline`` (the anchor): ``scale_anchor_n`` URLs, ``mode: inline``: one invocation, its report
  and record stored as usual; made before, between and after the sharded runs (A B A C A), and
  each sharded run is compared with the mean of the two made around it: this machine's speed
  drifts by 20 % or more over the minute a sharded run takes, and one anchor at the start
  measured the drift, not sharding. The row shows their median.
- ``sharded``: ``scale_n`` URLs, ``mode: sharded``, in the deployment's shards of
  ``scale_shard_size`` (``FANOUT_SHARD_SIZE``): the launch, then the queue drained as the event
  source mapping drives it (``shards.Drive``, one message per invocation), the last shard merging
  every shard's results into the report.
- ``sharded-large``: the same run asking for shards of ``scale_large_shard_size`` with
  ``options.shard_size`` (what docs/sharding.md "Shard size" has a run of fast URLs do; SQS's
  message size cuts them at ~4,760 of these URLs).

URLs per invocation-second = URLs / the wall time of every invocation the run took (the launch
included). Goal: ``sharded-large``'s >= 0.8x the inline run's (the fixed cost of a shard, ~0.1 s
here, is most of a 500-URL shard's at 0 ms: ``sharded`` is shown with its ratio, without a goal);
every URL exactly once in input order (read back from the report in S3) for both.
"""

from __future__ import annotations

import time
from typing import Any

from bench.common import BenchError, Row, ScenarioResult, Target, median
from bench.config import BenchConfig
from bench.scenarios.shards import Drive, function_env, read_report

GOAL_RATIO = 0.8


def _urls(base: str, n: int, tag: str) -> list[str]:
    return [f"{base}/ok?{tag}={i}" for i in range(n)]


def _options(cfg: BenchConfig, shard_size: int | None = None) -> dict[str, Any]:
    c = cfg.scale_concurrency
    sized = {"shard_size": shard_size} if shard_size else {}
    return {"concurrency": c, "per_host_concurrency": c, "retries": 0} | sized


def _sharded_sizes(cfg: BenchConfig) -> dict[str, int | None]:
    """The sharded variants and the ``options.shard_size`` each asks for (None: the deployment's)."""
    return {"sharded": None, "sharded-large": cfg.scale_large_shard_size}


def _size_label(cfg: BenchConfig, shard_size: int | None) -> str:
    return f"shard_size {shard_size}" if shard_size else f"shards of {cfg.scale_shard_size}"


def _inline(cfg: BenchConfig, base: str, drive: Drive) -> dict[str, Any]:
    urls = _urls(base, cfg.scale_anchor_n, "inline")
    drive.invocations = []
    answer = drive.invoke({"urls": urls, "mode": "inline", "options": _options(cfg)}, "inline")
    if not isinstance(answer, dict) or answer.get("summary", {}).get("ok") != len(urls):
        raise BenchError(f"the inline run did not fetch every URL: {str(answer)[:300]}")
    return {"urls": len(urls), "invocations": drive.invocations, "exactly_once": True}


def _sharded(cfg: BenchConfig, base: str, aws: Any, drive: Drive, shard_size: int | None) -> dict[str, Any]:
    urls = _urls(base, cfg.scale_n, f"sharded{shard_size or ''}")
    drive.invocations = []
    started = time.perf_counter()
    request = {"urls": urls, "mode": "sharded", "options": _options(cfg, shard_size)}
    answer = drive.invoke(request, "launch")
    if not isinstance(answer, dict) or answer.get("mode") != "sharded":
        raise BenchError(f"the launch did not shard: {str(answer)[:300]}")
    drive.drain(max_deliveries=3 * int(answer["shards_total"]) + 10)
    report = read_report(aws, answer["run_id"])
    wall = time.perf_counter() - started
    results = report["results"]
    return {
        "urls": len(urls),
        "invocations": drive.invocations,
        "exactly_once": [r["url"] for r in results] == urls and report["summary"]["ok"] == len(urls),
        "shards_total": report.get("shards_total"),
        "wall_s": wall,
    }


def _order(cfg: BenchConfig) -> list[str]:
    """The inline anchor, then each sharded variant followed by the anchor again."""
    order = ["inline"]
    for variant in _sharded_sizes(cfg):
        order += [variant, "inline"]
    return order


def run(cfg: BenchConfig, target: Target) -> ScenarioResult:
    from devtools.local_aws import LocalAws
    from devtools.rie import LambdaEmulator

    result = ScenarioResult("scale")
    base = target.base_url()
    with LocalAws() as aws:
        env = function_env(aws, cfg.scale_shard_size) | {"FANOUT_MAX_URLS": str(cfg.scale_n)}
        with LambdaEmulator(timeout_s=cfg.scale_timeout_s, memory_mb=1024, env=env) as rie:
            url = aws.resources.shard_queue_url
            drive = Drive(rie, aws.client("sqs"), url, aws.queue_arn(url))
            drive.invoke({"urls": _urls(base, 10, "warm"), "mode": "inline"}, "warm-up")
            runs = _measure(cfg, base, aws, drive, result.errors)
    result.raw = {"runs": runs}
    result.rows += _rows(cfg, runs)
    return result


def _measure(
    cfg: BenchConfig, base: str, aws: Any, drive: Drive, errors: list[str]
) -> dict[str, dict[str, Any]]:
    """Every run of ``_order``: the sharded ones by name, each with the mean rate of the inline
    runs just before and after it (``anchor_urls_per_invocation_s``); the inline ones as one."""
    sizes = _sharded_sizes(cfg)
    done: list[tuple[str, dict[str, Any]]] = []
    for variant in _order(cfg):
        try:
            if variant == "inline":
                res = _inline(cfg, base, drive)
            else:
                res = _sharded(cfg, base, aws, drive, sizes[variant])
        except BenchError as exc:
            errors.append(f"{variant}: {exc}")
            continue
        res["invocation_s"] = sum(i["s"] for i in res["invocations"])
        res["urls_per_invocation_s"] = res["urls"] / res["invocation_s"]
        print(
            f"  scale {variant:13s} {res['urls']} URLs, {len(res['invocations'])} invocations, "
            f"{res['invocation_s']:.1f} invocation-s, {res['urls_per_invocation_s']:.0f} URLs per "
            f"invocation-s, exactly once: {res['exactly_once']}",
            flush=True,
        )
        done.append((variant, res))
    inline = [res for variant, res in done if variant == "inline"]
    runs = {"inline": _inline_runs(inline)} if inline else {}
    for k, (variant, res) in enumerate(done):
        if variant != "inline":
            around = [r["urls_per_invocation_s"] for v, r in done[max(0, k - 1) : k + 2] if v == "inline"]
            mean = sum(around) / len(around) if around else None
            runs[variant] = res | {"anchors": around, "anchor_urls_per_invocation_s": mean}
    return runs


def _inline_runs(inline: list[dict[str, Any]]) -> dict[str, Any]:
    """The anchor's invocations as one variant: the median rate, every invocation and rate kept."""
    rates = [r["urls_per_invocation_s"] for r in inline]
    return {
        "urls": inline[0]["urls"],
        "invocations": [i for r in inline for i in r["invocations"]],
        "exactly_once": all(r["exactly_once"] for r in inline),
        "invocation_s": median(r["invocation_s"] for r in inline),
        "urls_per_invocation_s": median(rates),
        "rates": rates,
    }


def _rows(cfg: BenchConfig, runs: dict[str, dict[str, Any]]) -> list[Row]:
    scen = "scale, 0 ms (RIE+moto)"
    sizes = _sharded_sizes(cfg)
    rows = []
    for variant, res in runs.items():
        is_goal = variant == "sharded-large"
        rate = res["urls_per_invocation_s"]
        anchor = res.get("anchor_urls_per_invocation_s")
        ratio = rate / anchor if anchor else None
        longest = max(i["s"] for i in res["invocations"])
        what = f"{variant} {res['urls']:,} URLs" + (
            f" ({_size_label(cfg, sizes[variant])})" if variant in sizes else ""
        )
        n = len(res["invocations"])
        note = f"{n} invocations, {res['invocation_s']:.1f} s in all (longest {longest:.1f} s)"
        if variant == "inline":
            note = f"median of {n} invocations: " + ", ".join(f"{r:.0f}/s" for r in res["rates"])
        elif anchor:
            note += f"; vs the mean of the inline runs around it, {anchor:.0f}/s"
        rows.append(
            Row(
                scen,
                what,
                "URLs per invocation-second",
                rate,
                "/s",
                vs_anchor=ratio,
                goal=f">= {GOAL_RATIO:g}x inline" if is_goal else "",
                passed=(ratio is not None and ratio >= GOAL_RATIO) if is_goal else None,
                note=note,
            )
        )
        if variant != "inline":
            rows.append(
                Row(
                    scen,
                    what,
                    "every URL exactly once",
                    1.0 if res["exactly_once"] else 0.0,
                    "",
                    goal="every URL once, in input order",
                    passed=bool(res["exactly_once"]),
                )
            )
    return rows
