"""The function as deployed with its stores on moto: settings, realistic events, the API's answers,
a result document's checks, and a monitor run."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gzip
import io
import json
import logging
import os
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

import fanout.config
from devtools.events import load_event
from devtools.local_aws import CREDENTIALS, LocalAws
from devtools.rie import LambdaEmulator, function_error
from fanout.config import Settings, get_settings
from fanout.core.monitor_report import MonitorReport
from fanout.core.monitors import MonitorSpec
from fanout.core.results import UrlResult
from fanout.fetch.delivery import Deliveries
from fanout.observability.log import logger
from fanout.runs.judging import monitor_routes
from fanout.runs.monitor import MonitorRun, MonitorUpdate
from fanout.runs.stores import RunStores, StoreConfig

OUTCOMES = {"ok", "http_error", "check_failed", "failed", "timed_out", "cancelled", "not_started", "blocked"}


def unique(prefix: str) -> str:
    """A fresh key for /flaky/{key}, so counters never carry over between tests."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def point_aws_at(monkeypatch: pytest.MonkeyPatch, endpoint: str) -> None:
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)


@dataclasses.dataclass
class Deployment:
    """The function as deployed with its stores, seen through its handler."""

    monkeypatch: pytest.MonkeyPatch
    settings: Settings

    def configure(self, **changes: Any) -> Settings:
        """These settings are the process's until the test ends (as a deployment's environment)."""
        self.settings = self.settings.model_copy(update=changes)
        self.monkeypatch.setattr(fanout.config, "_current", self.settings)
        return self.settings


def api_request(
    method: str,
    path: str,
    *,
    body: Any = None,
    query: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A realistic HTTP API v2 event (events/api.json) for ``method path``."""
    event: dict[str, Any] = load_event("api.json")
    event["routeKey"] = f"{method} {path}"
    event["rawPath"] = path
    event["requestContext"]["http"] |= {"method": method, "path": path}
    event["requestContext"]["routeKey"] = event["routeKey"]
    event["body"] = None if body is None else json.dumps(body)
    if method == "GET":
        event["headers"].pop("content-type", None)
    event["headers"] |= {k.lower(): v for k, v in (headers or {}).items()}
    if query:
        event["queryStringParameters"] = query
        event["rawQueryString"] = "&".join(f"{k}={v}" for k, v in query.items())
    return event


def body_of(response: dict[str, Any], status: int = 200) -> Any:
    assert response["statusCode"] == status, response["body"][:1000]
    return json.loads(response["body"])


def problem_of(response: dict[str, Any], status: int, slug: str) -> dict[str, Any]:
    assert response["headers"]["Content-Type"] == "application/problem+json"
    problem = body_of(response, status)
    assert problem["type"].endswith(slug), problem
    return problem


def scheduled(request: dict[str, Any], event_id: str | None = None) -> dict[str, Any]:
    """The EventBridge "Scheduled Event" envelope around ``request``."""
    event: dict[str, Any] = load_event("schedule.json")
    event["detail"] = request
    event["id"] = event_id or str(uuid.uuid4())
    return event


def requested_urls(entries: list[Any]) -> list[str]:
    return [e if isinstance(e, str) else e["url"] for e in entries]


def check_document(
    payload: Any, rie: LambdaEmulator, urls: list[str], *, source: str = "direct"
) -> list[str]:
    """A complete result document: one result per URL, in order; the summary adds up. Its outcomes."""
    failure = function_error(payload)
    assert failure is None, f"the invocation failed: {failure}\n{rie.log_tail()}"
    assert isinstance(payload, dict), payload
    assert "results" in payload, payload
    assert payload["source"] == source
    results = payload["results"]
    assert [r["url"] for r in results] == urls, "one result per input URL, in input order"
    outcomes = [r["outcome"] for r in results]
    assert set(outcomes) <= OUTCOMES, outcomes
    summary = payload["summary"]
    assert summary["total"] == len(urls)
    assert sum(v for k, v in summary.items() if k != "total") == len(urls), summary
    assert {k: v for k, v in summary.items() if k != "total" and v} == dict(Counter(outcomes)), summary
    return outcomes


async def monitor_run(spec: MonitorSpec, results: list[UrlResult], run_id: str) -> MonitorReport:
    """One monitor run's update, its routes made as ``judged`` makes them."""
    settings = get_settings()
    before = asyncio.get_running_loop().time() + 20
    async with RunStores(StoreConfig.from_settings(settings)) as stores, Deliveries(settings) as deliveries:
        assert stores.monitors is not None
        routes = await monitor_routes(spec, stores, settings, deliveries, before)
        run = MonitorRun(spec, run_id, run_id, None, time.time() + 20)
        update = MonitorUpdate(stores.monitors, stores.alerts, run, concurrency=4, routes=routes)
        return await update.apply(results, (), before=before)


@contextlib.contextmanager
def every_log_line() -> Iterator[io.StringIO]:
    """The service logger's lines and every other logger's (root, DEBUG and up)."""
    stream = io.StringIO()
    mine = logging.StreamHandler(stream)
    mine.setFormatter(logger.registered_formatter)
    others = logging.StreamHandler(stream)
    root = logging.getLogger()
    level = root.level
    logger.addHandler(mine)
    root.addHandler(others)
    root.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        root.setLevel(level)
        root.removeHandler(others)
        logger.removeHandler(mine)


def stored_text(aws: LocalAws) -> str:
    """Every object in the bucket and every item of the tables, as text."""
    s3, ddb = aws.client("s3"), aws.client("dynamodb")
    parts = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=aws.resources.bucket):
        for item in page.get("Contents", []):
            body = s3.get_object(Bucket=aws.resources.bucket, Key=item["Key"])["Body"].read()
            parts.append((gzip.decompress(body) if body[:2] == b"\x1f\x8b" else body).decode())
    for table in (aws.resources.runs_table, aws.resources.idempotency_table, aws.resources.monitors_table):
        for page in ddb.get_paginator("scan").paginate(TableName=table):
            parts.append(json.dumps(page["Items"]))
    return "\n".join(parts)
