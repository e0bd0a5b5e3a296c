"""A monitor run with the status page on stays inside its budget (issue #24): the deadline tests of
monitor runs, with the page's bucket on moto. The answer arrives before the invocation ends with
every URL in it, whether the render was done in the monitor's slice or left for a later run (the
run's logs say which, the bucket shows it), and a status bucket that never answers costs the
render, not the answer."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from devtools.demo_target import DemoTarget
from devtools.status_sample import sample_monitors, seed_table
from fanout.config import get_settings
from fanout.runs import status_page
from tests.support import Deployment, HangingServer, MotoAws, call, point_aws_at, scheduled, unique

# The page's bucket is the only S3 the function uses here (no reports bucket): a hanging S3
# endpoint is the status page's alone.
pytestmark = pytest.mark.deployment("monitors", "status_page", status_page_min_interval_s=0.0)
MARGIN_S = 0.05  # the answer must be back this long before the invocation's end


def _logged(caplog: pytest.LogCaptureFixture, message: str) -> list[dict[str, Any]]:
    """The run's log lines with this message, with their fields."""
    return [dict(vars(r)) for r in caplog.records if r.getMessage() == message]


def _page_of(aws: MotoAws, name: str) -> dict[str, Any] | None:
    s3 = aws.client("s3")
    try:
        answer = s3.get_object(Bucket=aws.resources.status_bucket, Key=f"monitors/{name}.json")
    except s3.exceptions.NoSuchKey:
        return None
    found: dict[str, Any] = json.loads(answer["Body"].read())
    return found


def _timed(event: dict[str, Any], remaining_ms: float) -> tuple[dict[str, Any], float]:
    started = time.monotonic()
    doc = call(event, remaining_ms)
    return doc, time.monotonic() - started


def test_many_urls_and_hanging_targets_answer_in_time_with_the_page_rendered_in_the_slice(
    deployed: Deployment,
    aws: MotoAws,
    target: DemoTarget,
    caplog: pytest.LogCaptureFixture,
) -> None:
    name = unique("budget").lower()
    deployed.configure(monitor_budget_s=2.0)
    with HangingServer() as hanging:
        stuck = [f"{hanging.endpoint}/stuck/{i}" for i in range(3)]
        fine = [target.url(f"/ok?n={i}") for i in range(150)]
        request = {
            "urls": fine + stuck,
            "options": {"retries": 0, "concurrency": 50, "request_timeout_s": 0.5},
            "monitor": {"name": name, "failure_threshold": 1},
        }
        caplog.clear()
        doc, took = _timed(scheduled(request), 5_000)
    assert took < 5.0 - MARGIN_S, f"answered {took:.2f}s into a 5 s invocation"
    outcomes = {r["url"]: r["outcome"] for r in doc["results"]}
    assert sorted(outcomes) == sorted(fine + stuck)
    assert {outcomes[u] for u in fine} == {"ok"}
    assert {outcomes[u] for u in stuck} == {"timed_out"}
    assert (doc["monitor"]["up"], doc["monitor"]["down"], doc["monitor"]["state_errors"]) == (150, 3, 0)
    [rendered] = _logged(caplog, "status page rendered")  # in the monitor's slice...
    assert not _logged(caplog, "status page not rendered")
    assert (rendered["monitors_rendered"], rendered["files"]) == (1, 2 + 10 * 154 + 4)
    page = _page_of(aws, name)  # ...its page and JSON uploaded first
    assert page is not None
    assert len(page["urls"]) == 153
    assert page["open_incidents"] == 3
    left = rendered["upload_left"]
    for _ in range(6):  # what the slice could not upload, the next runs do
        if left == 0:
            break
        caplog.clear()
        again, took = _timed(scheduled(request), 5_000)
        assert took < 5.0 - MARGIN_S
        assert len(again["results"]) == 153
        [rendered] = _logged(caplog, "status page rendered")
        left = rendered["upload_left"]
    assert left == 0
    stuck_id = next(u["id"] for u in page["urls"] if u["state"] == "down")
    badge = aws.client("s3").get_object(
        Bucket=aws.resources.status_bucket, Key=f"badges/{name}/{stuck_id}/status.svg"
    )
    assert b"down" in badge["Body"].read()


def test_a_status_bucket_that_never_answers_costs_the_render_not_the_answer(
    deployed: Deployment,
    aws: MotoAws,
    target: DemoTarget,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    name = unique("s3hang").lower()
    deployed.configure(monitor_budget_s=1.5, store_read_timeout_s=0.5, store_max_attempts=1)
    urls = [target.url(f"/ok?n={i}") for i in range(20)]
    request = {"urls": urls, "options": {"retries": 0}, "monitor": {"name": name}}
    with HangingServer() as s3, monkeypatch.context() as m:
        m.setenv("AWS_ENDPOINT_URL_S3", s3.endpoint)
        caplog.clear()
        doc, took = _timed(scheduled(request), 4_000)
    assert took < 4.0 - MARGIN_S, f"answered {took:.2f}s into a 4 s invocation"
    assert sorted(r["url"] for r in doc["results"]) == sorted(urls)
    assert (doc["monitor"]["up"], doc["monitor"]["state_errors"]) == (20, 0)
    [failed] = _logged(caplog, "status page not rendered")
    assert "status page" in failed["error"]
    assert not _logged(caplog, "status page rendered")
    assert _page_of(aws, name) is None  # nothing reached the real bucket

    again, took = _timed(scheduled(request), 4_000)  # the bucket answers again: the next run renders
    assert took < 4.0 - MARGIN_S
    assert again["monitor"]["up"] == 20
    page = _page_of(aws, name)
    assert page is not None
    assert len(page["urls"]) == 20


def test_a_render_that_cannot_fit_is_left_then_done_a_part_at_a_time(
    monkeypatch: pytest.MonkeyPatch, target: DemoTarget, caplog: pytest.LogCaptureFixture
) -> None:
    """30 monitors of 4 URLs in the table (their history simulated), never rendered, on a moto of
    their own. A run whose fetch takes all its time until the monitor's slice (a URL that never
    answers) leaves the render for a later run; then each run reads again what the cap holds (60
    URLs here) and keeps the others' last render: the whole page is there after three runs."""
    monkeypatch.setattr(status_page, "FRESH_URLS_PER_RENDER", 60)
    with MotoAws() as aws, HangingServer() as hanging:
        point_aws_at(monkeypatch, aws.endpoint)
        now = time.time()
        seeded = sample_monitors(now, 30, 4, days=40)
        seed_table(aws.client("dynamodb"), aws.resources.monitors_table, seeded, now)
        deployed = Deployment(monkeypatch, get_settings())
        deployed.configure(
            monitors_table_name=aws.resources.monitors_table,
            status_page_bucket_name=aws.resources.status_bucket,
            status_page_min_interval_s=0.0,
            monitor_budget_s=0.5,
        )
        name = unique("probe").lower()
        urls = [target.url(f"/ok?n={i}") for i in range(5)]
        slow = {"urls": [*urls, f"{hanging.endpoint}/never"], "monitor": {"name": name}}
        caplog.clear()
        doc, took = _timed(scheduled(slow), 3_000)
        assert took < 3.0 - MARGIN_S
        assert len(doc["results"]) == 6
        assert doc["monitor"]["up"] == 5
        assert _logged(caplog, "status page left for a later run")
        assert not _logged(caplog, "status page rendered")
        assert _page_of(aws, name) is None

        deployed.configure(monitor_budget_s=20.0)
        request = {"urls": urls, "monitor": {"name": name}}
        seen = []
        for _ in range(3):
            caplog.clear()
            doc, took = _timed(scheduled(request), 40_000)
            assert took < 40.0 - MARGIN_S
            assert doc["monitor"]["up"] == 5
            [rendered] = _logged(caplog, "status page rendered")
            assert rendered["upload_left"] == 0
            seen.append(
                tuple(rendered[k] for k in ("monitors_rendered", "monitors_kept", "monitors_waiting"))
            )
        # the probe first (5 URLs), then 13 monitors of 4 URLs; the next runs: the probe again
        # (it ran), those never rendered, the others kept from their last render
        assert seen == [(14, 0, 17), (14, 13, 4), (5, 26, 0)]
        assert _page_of(aws, name) is not None
        status = json.loads(
            aws.client("s3").get_object(Bucket=aws.resources.status_bucket, Key="status.json")["Body"].read()
        )
        assert len(status["monitors"]) == 31
