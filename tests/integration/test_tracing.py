"""Tracing enabled: one subsegment per URL, each the run's child, under concurrency.

The X-Ray recorder is real; only its emitter is swapped for one that keeps what would
have gone to the daemon, so the test reads the very documents X-Ray would receive.
"""

from __future__ import annotations

import asyncio
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
    with keeping_xray(sampling=False) as keeping:
        yield keeping


def walk(entity: dict[str, Any], parent: str | None = None) -> Iterator[tuple[dict[str, Any], str | None]]:
    yield entity, parent
    for child in entity.get("subsegments", []):
        yield from walk(child, entity["id"])


def test_each_url_gets_its_own_closed_child_subsegment_of_the_run(
    emitter: KeepingEmitter, target: DemoTarget
) -> None:
    urls = [target.url(f"/ok?delay_ms={(i * 37) % 120}") for i in range(24)]
    urls += [target.url("/status/500"), target.url("/hang")]
    request = parse_request(
        {"urls": urls, "options": {"concurrency": 26, "retries": 0, "request_timeout_s": 30}}, get_settings()
    )

    xray_recorder.begin_segment("fanout-test")
    run_sub = xray_recorder.begin_subsegment("## fanout run")
    assert run_sub is not None

    async def run() -> dict[str, Any]:
        document = await fetch_run(
            request, run_context(1.0), settings=get_settings(), trace=RunTrace(run_sub)
        )
        return document.to_json()

    document = asyncio.run(run())
    xray_recorder.end_subsegment()
    xray_recorder.end_segment()

    entities = [pair for doc in emitter.documents for pair in walk(doc)]
    run_entities = [e for e, _ in entities if e["name"] == "## fanout run"]
    assert len(run_entities) == 1
    run_id = run_entities[0]["id"]
    url_subsegments = [(e, parent) for e, parent in entities if e.get("namespace") == "remote"]
    assert len(url_subsegments) == len(urls)
    assert {parent for _, parent in url_subsegments} == {run_id}
    assert all(not e.get("in_progress") and e.get("end_time") for e, _ in url_subsegments)

    by_url = {e["http"]["request"]["url"].split("?")[0]: e for e, _ in url_subsegments}
    outcomes = {r["url"].split("?")[0]: r["outcome"] for r in document["results"]}
    assert by_url[target.url("/status/500")]["annotations"]["outcome"] == "http_error"
    assert by_url[target.url("/status/500")]["http"]["response"]["status"] == 500
    assert (
        by_url[target.url("/hang")]["annotations"]["outcome"] == "cancelled" == outcomes[target.url("/hang")]
    )
    ok_subsegments = [e for e, _ in url_subsegments if e["annotations"]["outcome"] == "ok"]
    assert len(ok_subsegments) == 24


def test_a_url_waiting_for_its_host_closes_its_subsegment_as_waiting_not_as_an_error(
    emitter: KeepingEmitter, target: DemoTarget
) -> None:
    """Between its attempts the URL waits without a worker (its host asked for a pause): the
    subsegment of its first stretch ends there, annotated ``waiting`` and not flagged; the next
    one ends ``ok``."""
    url = target.url("/flaky/traced-retry?fail=1&status=429&retry_after=1")
    request = parse_request({"urls": [url], "options": {"retries": 2}}, get_settings())
    xray_recorder.begin_segment("fanout-test")
    run_sub = xray_recorder.begin_subsegment("## fanout run")
    assert run_sub is not None

    async def run() -> dict[str, Any]:
        return (
            await fetch_run(request, run_context(5.0), settings=get_settings(), trace=RunTrace(run_sub))
        ).to_json()

    document = asyncio.run(run())
    xray_recorder.end_subsegment()
    xray_recorder.end_segment()
    assert (document["results"][0]["outcome"], document["results"][0]["attempts"]) == ("ok", 2)
    entities = [e for doc in emitter.documents for e, _ in walk(doc)]
    stretches = sorted((e for e in entities if e.get("namespace") == "remote"), key=lambda e: e["start_time"])
    assert [e["annotations"]["outcome"] for e in stretches] == ["waiting", "ok"]
    assert not any(e.get("error") or e.get("fault") for e in stretches)
    assert all(not e.get("in_progress") and e.get("end_time") for e in stretches)
