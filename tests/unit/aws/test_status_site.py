"""The status bucket's manifest (and the one the version before it wrote), which files belong to
which monitor, the order of an upload, and month items written whole read back the same."""

from __future__ import annotations

import json

from fanout.aws.history_table import item_month, month_item
from fanout.aws.status_site import Manifest, owner, upload_order
from fanout.core.history import DailyAggregate, Incident, MonthRecord


def test_the_manifest_reads_its_own_format_and_the_previous_one() -> None:
    manifest = Manifest({"index.html": "h1"}, {"api": "2026-12-01T00:00:00.000Z"})
    assert Manifest.of(manifest.to_bytes()) == manifest
    assert Manifest.of(json.dumps({"index.html": "h1", "style.css": "h2"}).encode()) == Manifest(
        {"index.html": "h1", "style.css": "h2"}, {}
    )


def test_each_file_s_monitor() -> None:
    assert owner("monitors/api.html") == owner("monitors/api.json") == "api"
    assert owner("badges/api/status.svg") == owner("badges/api/0123456789ab/p95.json") == "api"
    assert owner("index.html") is None
    assert owner("status.json") is None


def test_monitors_pages_go_up_first_badges_last() -> None:
    paths = ["badges/a/status.svg", "index.html", "monitors/a.json", "status.json", "monitors/a.html"]
    assert sorted(paths, key=upload_order) == [
        "monitors/a.html", "monitors/a.json", "index.html", "status.json", "badges/a/status.svg",
    ]  # fmt: skip


def test_a_month_written_whole_reads_back_the_same() -> None:
    record = MonthRecord(
        "https://a.example/health",
        "2026-11",
        {"2026-11-03": DailyAggregate("2026-11-03", 24, 2, 7_200_000, 81.0, 240.5)},
        {
            "1793750400000": Incident(1_793_750_400.0, 1_793_752_800.0, "http_error", 503, (), "X", ("eu",)),
            "1793836800000": Incident(1_793_836_800.0, None, "timed_out"),
        },
        dropped_incidents=3,
    )
    item = month_item("api", record)
    assert item_month(item) == record
    assert item["n"] == {"N": "2"}
