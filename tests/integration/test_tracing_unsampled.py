"""An unsampled trace records nothing per URL: no orphaned subsegments sent, no SDK warnings.

X-Ray's default sampling rule leaves most invocations unsampled; the SDK then hands out a
dummy run subsegment. The recorder and its sampling decision are real; only the emitter
keeps what would have gone to the daemon.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from aws_xray_sdk.core import xray_recorder

from devtools.demo_target import DemoTarget
from fanout.config import get_settings
from fanout.core.requests import parse_request
from fanout.observability.tracing import RunTrace
from fanout.runs.fetch_run import fetch_run
from tests.support import KeepingEmitter, keeping_xray, run_context


@pytest.fixture
def emitter() -> Iterator[KeepingEmitter]:
    with keeping_xray(sampling=True) as keeping:
        yield keeping


def _run(urls: list[str], trace: RunTrace) -> dict[str, Any]:
    request = parse_request({"urls": urls, "options": {"concurrency": 10, "retries": 0}}, get_settings())

    async def run() -> dict[str, Any]:
        document = await fetch_run(request, run_context(5.0), settings=get_settings(), trace=trace)
        return document.to_json()

    return asyncio.run(run())


def test_an_unsampled_run_sends_no_url_subsegments(
    emitter: KeepingEmitter, target: DemoTarget, caplog: pytest.LogCaptureFixture
) -> None:
    urls = [target.url(f"/ok?i={i}") for i in range(12)] + [target.url("/status/500")]
    xray_recorder.begin_segment("fanout-test", sampling=0)
    run_sub = xray_recorder.begin_subsegment("## fanout run")
    assert run_sub is not None
    assert not run_sub.sampled

    with caplog.at_level(logging.WARNING, logger="aws_xray_sdk"):
        document = _run(urls, RunTrace(run_sub))
    xray_recorder.end_subsegment()
    xray_recorder.end_segment()

    assert [r["outcome"] for r in document["results"]] == ["ok"] * 12 + ["http_error"]
    assert emitter.documents == []
    assert not [r for r in caplog.records if "orphaned" in r.getMessage()]


def test_a_sampled_run_still_sends_one_subsegment_per_url(
    emitter: KeepingEmitter, target: DemoTarget
) -> None:
    urls = [target.url(f"/ok?i={i}") for i in range(5)]
    xray_recorder.begin_segment("fanout-test", sampling=1)
    run_sub = xray_recorder.begin_subsegment("## fanout run")
    assert run_sub is not None
    assert run_sub.sampled

    document = _run(urls, RunTrace(run_sub))
    xray_recorder.end_subsegment()
    xray_recorder.end_segment()

    assert [r["outcome"] for r in document["results"]] == ["ok"] * 5
    remote = [s for doc in emitter.documents for s in doc.get("subsegments", [{}])[0].get("subsegments", [])]
    assert len(remote) == 5
    assert all(s["namespace"] == "remote" for s in remote)
