"""A probe region's report, before any queue: its round, its subjects, its parts, one call's entries."""

from __future__ import annotations

import time

from fanout.aws.region_queues import Waiting
from fanout.config import SQS_MAX_MESSAGE_BYTES
from fanout.core.documents import RunDocument, Source
from fanout.core.ids import parse_iso
from fanout.core.monitors import MonitorSpec
from fanout.core.regional import region_report
from fanout.core.regions import RegionObservation, RegionReport, round_of
from fanout.core.results import Outcome, Summary, UrlResult
from fanout.core.rounds import round_of_start
from fanout.core.thresholds import ThresholdResult
from fanout.runs.region_probe import _pack, is_late, parts_of


def test_the_round_is_the_scheduled_time_or_the_start_rounded_down_to_the_minute() -> None:
    assert round_of("2026-12-07T04:50:00+01:00") == "2026-12-07T03:50:00Z"
    assert round_of_start(parse_iso("2026-12-07T03:50:59.999Z").timestamp()) == "2026-12-07T03:50:00Z"


def test_a_round_is_late_past_the_bound() -> None:
    now = time.time()
    recent = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 60))
    old = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 1000))
    assert not is_late(recent, now, 900)
    assert is_late(old, now, 900)


def _result(url: str, outcome: Outcome, status: int | None, elapsed_ms: float | None) -> UrlResult:
    return UrlResult(
        url=url, outcome=outcome, status_code=status, attempts=1, elapsed_ms=elapsed_ms, bytes=0, error=None
    )


def test_the_report_has_a_subject_per_result_and_per_threshold() -> None:
    results = (
        _result("https://a.example/", Outcome.OK, 200, 12.0),
        _result("https://b.example/", Outcome.HTTP_ERROR, 503, 8.0),
        _result("https://c.example/", Outcome.NOT_STARTED, None, None),
    )
    document = RunDocument(
        run_id="r1",
        source=Source.SCHEDULE,
        started_at="2026-12-07T03:50:07.000Z",
        summary=Summary.of([r.outcome for r in results]),
        results=results,
        thresholds=(ThresholdResult(name="failed_rate", condition="<0.5", ok=True, value=0.33),),
    )
    spec = MonitorSpec(name="shop", regions=["us-east-1", "eu-west-1"])
    report = region_report(
        spec,
        document.results or (),
        document.thresholds or (),
        region="eu-west-1",
        round_id=round_of_start(parse_iso(document.started_at).timestamp()),
        run_id=document.run_id,
        key="k1",
    )
    assert (report.region, report.scheduled_at, report.run_id, report.key) == (
        "eu-west-1",
        "2026-12-07T03:50:00Z",
        "r1",
        "k1",
    )
    assert report.monitor == {"name": "shop", "regions": ["us-east-1", "eu-west-1"]}
    assert [(o.subject, o.passed, o.outcome, o.latency_ms) for o in report.observations] == [
        ("https://a.example/", True, "ok", 12.0),
        ("https://b.example/", False, "http_error", 8.0),
        ("https://c.example/", None, "not_started", None),
        ("threshold:failed_rate<0.5", True, "passed", None),
    ]


def _report(n: int) -> RegionReport:
    return RegionReport(
        monitor={"name": "shop"},
        region="eu-west-1",
        scheduled_at="2026-12-07T03:50:00Z",
        run_id="r",
        key="k",
        sent_at=0.0,
        observations=tuple(
            RegionObservation(subject=f"https://example.com/{i}", passed=True, outcome="ok", at=0.0)
            for i in range(n)
        ),
    )


def test_parts_keep_every_observation_in_order_each_under_its_size() -> None:
    report = _report(3_000)
    parts = parts_of(report, max_bytes=20_000)
    assert len(parts) > 1
    assert all(len(p.to_bytes()) <= 20_000 for p in parts)
    assert [(p.part, p.parts) for p in parts] == [(i, len(parts)) for i in range(len(parts))]
    assert tuple(o for p in parts for o in p.observations) == report.observations
    assert parts_of(_report(2)) == [_report(2)]


def test_one_call_takes_the_run_s_parts_first_then_waiting_reports_within_ten_and_256_kb() -> None:
    own = ["a" * 100] * 3
    waiting = [Waiting("b" * 100, f"r{i}") for i in range(12)]
    entries = _pack(own, waiting)
    assert list(entries) == ["p0", "p1", "p2", *(f"o{i}" for i in range(7))]
    big = ["c" * (SQS_MAX_MESSAGE_BYTES // 2 - 10)] * 3
    assert list(_pack(big, waiting)) == ["p0", "p1"]  # the third part waits in the outbox
    assert list(_pack(["d" * 1000], [Waiting("e" * SQS_MAX_MESSAGE_BYTES, "r"), *waiting[:2]])) == [
        "p0",
        "o1",
        "o2",
    ]
