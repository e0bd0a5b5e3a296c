"""Serialise: what a run's document costs to write as JSON and to read back, and msgspec's import.

The document of an N-URL run (half the results checked: checks, timings, TLS, a redirect, as
``expect`` makes them) is encoded as the service writes answers and reports (``to_bytes``) and
parsed back into its model (``RunDocument.from_bytes``), median of ``serialise_reps``; the anchor
is the standard library on the same data (``json.dumps`` of the document as plain data, and
``json.loads`` of its text, which yields plain data, not the model). ``import`` is msgspec's
import time in a fresh interpreter (it is on the cold start path). No goal: a row to watch, with
the previous code's figures (hand-written ``to_json``/``from_json``) in docs/benchmarks.md.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from bench.common import BenchError, Row, ScenarioResult, Target, median, run_worker
from bench.config import BenchConfig


def _document(n: int) -> Any:
    from fanout.core.documents import RunDocument, Source
    from fanout.core.facts import Check, Redirect, Timings, TlsFacts
    from fanout.core.results import Outcome, Summary, UrlResult

    tls = TlsFacts("TLSv1.3", "CN=CA", "CN=e.example", ("e.example",), "2027-01-15T23:59:59Z", 45.12)
    checks = (Check("status", True), Check("json:/status", False, "UP", "DOWN"))
    results = []
    for i in range(n):
        url = f"https://e.example/{i}"
        if i % 2:
            timings = Timings(1.23, 2.34, 3.45, 40.56, 0.57, 48.15)
            details: dict[str, Any] = {
                "checks": checks, "degraded": False, "timings": timings, "remote_ip": "127.0.0.1",
                "http_version": "1.1", "final_url": url + "/", "redirects": (Redirect(url, 301),), "tls": tls,
            }  # fmt: skip
            results.append(
                UrlResult(url, Outcome.CHECK_FAILED, 200, 1, 12.345 + i % 7, 1024, None, **details)
            )
        else:
            results.append(UrlResult(url, Outcome.OK, 200, 1, 12.345 + i % 7, 1024, None))
    return RunDocument(
        run_id="r", source=Source.API, started_at="2026-12-01T00:00:00.000Z",
        summary=Summary.of_results(results), results=tuple(results), budget_ms=27_500.0,
        elapsed_ms=1_234.56, deadline_reached=False, stopped_on_error=False, degraded=0,
    )  # fmt: skip


def _median_ms(fn: Any, reps: int) -> float:
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def work(variant: str, spec: dict[str, Any]) -> dict[str, Any]:
    t0 = time.perf_counter()
    import msgspec  # first thing in a fresh interpreter: its import time

    import_ms = (time.perf_counter() - t0) * 1000
    assert msgspec.__version__
    import json

    from fanout.core.documents import RunDocument

    n, reps = spec["n"], spec["reps"]
    document = _document(n)
    text = document.to_bytes()
    if variant == "msgspec":
        back = RunDocument.from_bytes(text)
        assert back == document, "the document does not come back as it was"
        serialise = _median_ms(document.to_bytes, reps)
        parse = _median_ms(lambda: RunDocument.from_bytes(text), reps)
    else:
        plain = json.loads(text)
        serialise = _median_ms(lambda: json.dumps(plain), reps)
        parse = _median_ms(lambda: json.loads(text), reps)
    return {
        "n": n, "bytes": len(text), "serialise_ms": serialise, "parse_ms": parse,
        "construct_ms": _median_ms(lambda: _document(n), reps), "import_ms": import_ms,
    }  # fmt: skip


def run(cfg: BenchConfig, target: Target) -> ScenarioResult:
    del target  # no network: the document is made in the worker
    result = ScenarioResult("serialise")
    runs: dict[str, dict[str, Any]] = {}
    for variant in ("json", "msgspec"):
        try:
            runs[variant] = run_worker(
                f"serialise.{variant}", {"n": cfg.serialise_n, "reps": cfg.serialise_reps}, timeout_s=300
            )
        except BenchError as exc:
            result.errors.append(str(exc))
            continue
        r = runs[variant]
        print(
            f"  serialise {variant:8s} N={cfg.serialise_n}: write {r['serialise_ms']:.1f} ms, "
            f"read {r['parse_ms']:.1f} ms ({r['bytes'] / 1e6:.1f} MB)",
            flush=True,
        )
    result.raw = {"runs": runs}
    result.rows = _rows(cfg, runs)
    return result


def _rows(cfg: BenchConfig, runs: dict[str, dict[str, Any]]) -> list[Row]:
    scen = f"serialise a {cfg.serialise_n:,}-URL run document (half checked)"
    anchor, ours = runs.get("json"), runs.get("msgspec")
    rows = []
    for step, key in (("write JSON", "serialise_ms"), ("read back", "parse_ms")):
        if anchor is not None:
            rows.append(
                Row(scen, "json (stdlib)", step, anchor[key], "ms", note=f"median of {cfg.serialise_reps}")
            )
        if ours is not None:
            ratio = None if anchor is None else ours[key] / anchor[key]
            note = f"median of {cfg.serialise_reps}; {ours['bytes'] / 1e6:.1f} MB"
            note += "; into the model" if key == "parse_ms" else ""
            rows.append(Row(scen, "service (msgspec)", step, ours[key], "ms", vs_anchor=ratio, note=note))
    if ours is not None:
        rows.append(Row(scen, "service (msgspec)", "build the document", ours["construct_ms"], "ms"))
        rows.append(Row(scen, "service (msgspec)", "import msgspec", median([ours["import_ms"]]), "ms",
                        note="a fresh interpreter"))  # fmt: skip
    return rows
