"""A regional monitor's URL on its page: each region's last check and latency, and its days'
p50/p95, in the monitor's JSON and on its page (not in status.json, which stays small)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

from devtools.status_sample import sample_monitors
from fanout.core.rounds import Vote, facts_with
from fanout.status.model import MonitorData
from fanout.status.site import render_site

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC).timestamp()


def test_each_region_s_last_check_and_days_are_on_the_monitor_s_page_and_in_its_json() -> None:
    (data,) = sample_monitors(NOW, 1, 1, days=3)
    facts: tuple = ()
    for day in (2, 1, 0):
        at = NOW - day * 86_400
        facts = facts_with(facts, Vote("eu-west-1", True, "ok", at, 200, 40.0 + day))
        facts = facts_with(
            facts, Vote("us-east-1", day != 0, "ok" if day else "check_failed", at, 200, 900.0)
        )
    state = replace(data.states[0], region_facts=facts)
    site = render_site([MonitorData(data.summary, [state], data.months)], NOW)
    detail = json.loads(site.files["monitors/service-000.json"])
    [url] = detail["urls"]
    assert [(r["region"], r["outcome"], r["latency_ms"]) for r in url["regions"]] == [
        ("eu-west-1", "ok", 40.0),
        ("us-east-1", "check_failed", 900.0),
    ]
    assert [d["day"] for d in url["regions"][0]["days"]] == ["2026-12-04", "2026-12-05", "2026-12-06"]
    assert all(d["p50_ms"] is not None for d in url["regions"][0]["days"])
    page = site.files["monitors/service-000.html"].decode()
    assert "by region</caption>" in page
    assert "<th scope=row>us-east-1</th><td>check_failed at 12:00 UTC</td><td>900 ms</td>" in page
    summary = json.loads(site.files["status.json"])
    assert summary["monitors"][0]["urls"][0]["regions"] == []


def test_a_region_whose_last_check_had_no_latency_shows_none_and_its_table_scrolls_by_keyboard() -> None:
    (data,) = sample_monitors(NOW, 1, 1, days=3)
    facts = facts_with((), Vote("ap-southeast-2", True, "ok", NOW - 900, 200, 210.0))
    facts = facts_with(facts, Vote("ap-southeast-2", False, "timeout", NOW, None, None))
    state = replace(data.states[0], region_facts=facts)
    site = render_site([MonitorData(data.summary, [state], data.months)], NOW)
    page = site.files["monitors/service-000.html"].decode()
    assert "<th scope=row>ap-southeast-2</th><td>timeout at 12:00 UTC</td><td>n/a</td>" in page
    assert '<span class="rday">12-06: ' in page  # each day's figures kept on one line
    [url] = json.loads(site.files["monitors/service-000.json"])["urls"]
    caption = f'<caption id="rc-{url["id"]}">'
    assert f'<div class="scroll" tabindex="0" role="region" aria-labelledby="rc-{url["id"]}">' in page
    assert caption in page
