"""The rendered site, as files: what each page and document holds, what is left off, the badges
and the page's weight (a real render of simulated monitors; the browser tests look at it)."""

from __future__ import annotations

import gzip
import json
import re

from devtools.status_sample import sample_monitors
from fanout.status.model import State, StatusDocument, shown_url
from fanout.status.site import content_type, render_site

NOW = 1_790_000_000.0


def test_public_false_monitors_are_left_off_everywhere() -> None:
    monitors = sample_monitors(NOW, 3, 2, public={"service-001": False})
    site = render_site(monitors, NOW)
    assert [m.name for m in site.document.monitors] == ["service-000", "service-002"]
    assert not [p for p in site.files if "service-001" in p]
    assert not any(b"service-001" in body for body in site.files.values())


def test_urls_are_shown_without_their_query_or_by_their_display_name() -> None:
    assert shown_url("https://a.example/x?token=s3cret#f", {}) == "https://a.example/x"
    assert shown_url("https://a.example/x?token=s3cret", {"https://a.example/x?token=s3cret": "API"}) == "API"
    site = render_site(sample_monitors(NOW, 2, 3), NOW)
    assert not any(b"token=secret" in body for body in site.files.values())


def test_status_json_is_the_documented_model_and_monitor_json_has_the_days() -> None:
    site = render_site(sample_monitors(NOW, 2, 3), NOW)
    doc = StatusDocument.from_bytes(site.files["status.json"])
    assert [len(u.days) for m in doc.monitors for u in m.urls] == [0] * 6  # in each monitor's JSON
    detail = json.loads(site.files["monitors/service-000.json"])
    assert [len(u["days"]) for u in detail["urls"]] == [90, 90, 90]
    assert set(detail["uptime"]) == {"24h", "7d", "30d", "90d", "1y"}
    assert detail["urls"][0]["incidents"][0]["outcome"] == "http_error"


def test_index_has_90_titled_bars_per_url_and_every_uptime_period() -> None:
    site = render_site(sample_monitors(NOW, 2, 3), NOW)
    index = site.files["index.html"].decode()
    bars = re.findall(r'<svg class="bars".*?</svg>', index)
    assert len(bars) == 6
    assert all(len(re.findall(r"<rect [^>]*><title>\d{4}-\d\d-\d\d, ", b)) == 90 for b in bars)
    for period in ("24 h", "7 d", "30 d", "90 d", "1 y"):
        assert f"<dt>{period}</dt>" in index
    assert "<script" not in index
    assert "http://" not in index.replace("http://www.w3.org", "")


def test_badges_in_svg_and_as_shields_endpoints_per_monitor_and_per_url() -> None:
    site = render_site(sample_monitors(NOW, 1, 2), NOW)
    monitor = site.document.monitors[0]
    for prefix in ["badges/service-000", *(f"badges/service-000/{u.id}" for u in monitor.urls)]:
        for stem in ("status", "uptime-24h", "uptime-7d", "uptime-30d", "p95"):
            svg = site.files[f"{prefix}/{stem}.svg"].decode()
            assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg"')
            assert 'role="img"' in svg
            endpoint = json.loads(site.files[f"{prefix}/{stem}.json"])
            assert endpoint["schemaVersion"] == 1
            assert set(endpoint) == {
                "schemaVersion",
                "label",
                "message",
                "color",
            }
    status = json.loads(site.files["badges/service-000/status.json"])
    assert status["message"] == State.OPERATIONAL.value
    assert content_type("badges/x/status.svg") == "image/svg+xml"


def test_the_index_of_100_urls_weighs_under_300_kb_compressed() -> None:
    site = render_site(sample_monitors(NOW, 10, 10), NOW)
    index, style = site.files["index.html"], site.files["style.css"]
    assert len(gzip.compress(index)) + len(gzip.compress(style)) < 300_000
