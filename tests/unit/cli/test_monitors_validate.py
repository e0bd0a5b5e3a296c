"""``fanout monitors validate``: every problem of every file where it was written
(``FILE:LINE:COLUMN: path: message``), exit status 2; a good fleet exits 0. No AWS, no network."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result

from devtools import monitors_schema
from fanout.cli.main import cli
from fanout.cli.monitors_file import read_fleet

GOOD = """\
# yaml-language-server: $schema=../docs/monitors.schema.json
defaults:
  schedule: rate(5 minutes)
  options: {request_timeout_s: 10, retries: 1, expect: {status: ["200-299"]}}
  failure_threshold: 2
monitors:
  - name: payments-api
    group: payments
    tags: {team: payments, env: prod}
    schedule: rate(1 minute)
    urls: [https://api.example.com/health]
    options:
      expect: {json: {"/status": "UP"}, max_latency_ms: 800}
    thresholds: {p95_ms: "<800"}
  - name: docs-links
    schedule: cron(0 6 * * ? *)
    timezone: Europe/Paris
    targets: {sitemap: https://docs.example.com/sitemap.xml}
"""


def validate(*paths: Path) -> Result:
    return CliRunner().invoke(cli, ["monitors", "validate", *map(str, paths)], catch_exceptions=False)


def problems(tmp_path: Path, text: str, name: str = "m.yaml") -> list[str]:
    path = tmp_path / name
    path.write_text(text)
    result = validate(path)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    return [
        line.removeprefix(f"{path}:") for line in result.output.splitlines() if line.startswith(str(path))
    ]


def test_a_good_file_is_valid_and_says_how_many_monitors(tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text(GOOD)
    result = validate(tmp_path / "m.yaml")
    assert result.exit_code == 0, result.output
    assert "2 monitor(s) in 1 file(s): valid" in result.output


def test_defaults_merge_under_each_monitor_field_by_field(tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text(GOOD)
    fleet = read_fleet([tmp_path / "m.yaml"])
    payments, docs = (m.request for m in fleet.monitors)
    assert payments == {
        "urls": ["https://api.example.com/health"],
        "options": {
            "request_timeout_s": 10,
            "retries": 1,
            "expect": {"status": ["200-299"], "json": {"/status": "UP"}, "max_latency_ms": 800},
            "thresholds": {"p95_ms": "<800"},
        },
        "monitor": {
            "name": "payments-api",
            "failure_threshold": 2,
            "group": "payments",
            "tags": {"team": "payments", "env": "prod"},
        },
    }
    assert docs["targets"] == {"sitemap": "https://docs.example.com/sitemap.xml"}
    assert fleet.monitors[0].monitor.schedule == "rate(1 minute)"
    assert fleet.monitors[1].monitor.schedule == "cron(0 6 * * ? *)"


def test_an_unknown_key_is_named_at_the_key_with_a_did_you_mean(tmp_path: Path) -> None:
    text = "monitors:\n  - name: a\n    schedule: rate(1 minute)\n    urls: [https://a.example/]\n"
    text += "    options: {retires: 2}\n"
    assert problems(tmp_path, text) == [
        "5:15: monitors.0.options.retires: unknown key 'retires' (did you mean 'retries'?)"
    ]


def test_an_unknown_key_in_a_url_entry_and_at_the_top(tmp_path: Path) -> None:
    text = "monitor:\n  - x\nmonitors:\n  - name: a\n    schedule: rate(1 minute)\n"
    text += "    urls:\n      - {url: 'https://a.example/', metod: POST}\n"
    assert problems(tmp_path, text) == [
        "1:1: monitor: unknown key 'monitor' (did you mean 'monitors'?)",
        "7:37: monitors.0.urls.0.metod: unknown key 'metod' (did you mean 'method'?)",
    ]


def test_a_bad_schedule_expression_and_time_zone(tmp_path: Path) -> None:
    text = "monitors:\n  - name: a\n    schedule: rate(1 minutes)\n    urls: [https://a.example/]\n"
    text += "  - name: b\n    schedule: cron(0 6 * * *)\n    timezone: Mars/Olympus\n    urls: [https://b.example/]\n"
    text += "  - name: c\n    schedule: every 5m\n    urls: [https://c.example/]\n"
    assert problems(tmp_path, text) == [
        "3:15: monitors.0.schedule: write rate(1 minute)",
        "6:15: monitors.1.schedule: cron() takes 6 fields"
        " (minutes hours day-of-month month day-of-week year), not 5",
        "7:15: monitors.1.timezone: 'Mars/Olympus' is not an IANA time zone (Europe/Paris, UTC, ...)",
        "10:15: monitors.2.schedule: not a schedule expression: rate(5 minutes), cron(0 6 * * ? *)"
        " or at(2027-01-01T09:00:00)",
    ]


def test_a_duplicate_name_across_files_names_the_first(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        "monitors:\n  - name: api\n    schedule: rate(1 minute)\n    urls: [https://a.example/]\n"
    )
    (tmp_path / "b.yml").write_text(
        "monitors:\n\n  - urls: [https://b.example/]\n    name: api\n    schedule: rate(2 minutes)\n"
    )
    result = validate(tmp_path)
    assert result.exit_code == 2
    assert (
        f"{tmp_path / 'b.yml'}:4:11: name: duplicate name 'api' (first at {tmp_path / 'a.yaml'}:2:11)"
        in result.output
    )


def test_a_url_the_egress_guard_blocks(tmp_path: Path) -> None:
    text = "monitors:\n  - name: a\n    schedule: rate(1 minute)\n"
    text += "    urls:\n      - https://ok.example/\n      - http://169.254.169.254/latest/meta-data/\n"
    text += "      - {url: 'ftp://files.example/'}\n"
    found = problems(tmp_path, text)
    assert found[0].startswith(
        "6:9: monitors.0.urls.1: the egress guard blocks this URL: 169.254.169.254 is blocked"
    )
    assert (
        found[1] == "7:15: monitors.0.urls.2: the egress guard blocks this URL:"
        " scheme 'ftp' is not allowed (http and https only)"
    )


def test_a_threshold_that_cannot_parse(tmp_path: Path) -> None:
    text = "monitors:\n  - name: a\n    schedule: rate(1 minute)\n    urls: [https://a.example/]\n"
    text += "    thresholds: {p95_ms: about 800, p42_ms: '<1'}\n"
    assert problems(tmp_path, text) == [
        "5:26: monitors.0.thresholds.p95_ms: not a condition like '<0.05', '>=0.99' or '<800'",
    ]
    text = text.replace("p95_ms: about 800, ", "")
    (found,) = problems(tmp_path, text)
    assert found.startswith("5:17: monitors.0.thresholds: 'p42_ms' is not a run metric")


def test_a_problem_in_the_defaults_is_reported_there_once(tmp_path: Path) -> None:
    text = "defaults:\n  options: {retries: many}\nmonitors:\n"
    text += "  - {name: a, schedule: rate(1 minute), urls: ['https://a.example/']}\n"
    text += "  - {name: b, schedule: rate(1 minute), urls: ['https://b.example/']}\n"
    assert problems(tmp_path, text) == ["2:22: defaults.options.retries: Input should be a valid integer"]


def test_what_a_monitor_lacks_is_named_at_the_monitor(tmp_path: Path) -> None:
    text = (
        "monitors:\n  - name: a\n    urls: [https://a.example/]\n  - name: b\n    schedule: rate(1 minute)\n"
    )
    assert problems(tmp_path, text) == [
        "2:5: monitors.0.schedule: 'schedule' is required (here or in defaults)",
        "4:5: monitors.1: give either 'urls' or 'targets' (exactly one)",
    ]


def test_not_yaml_and_a_key_written_twice(tmp_path: Path) -> None:
    assert problems(tmp_path, "monitors:\n  - name: [a\n") == [
        "3:1: (file): not YAML: expected ',' or ']', but got '<stream end>'"
    ]
    text = (
        "monitors:\n  - name: a\n    schedule: rate(1 minute)\n    urls: [https://a.example/]\n    name: b\n"
    )
    assert problems(tmp_path, text) == ["5:5: monitors.0.name: this key is written twice"]


def test_the_published_schema_is_what_the_models_generate() -> None:
    schema = monitors_schema.render(monitors_schema.build())
    assert schema == monitors_schema.DOCUMENT.read_text(), (
        "docs/monitors.schema.json is out of date: make monitors-schema"
    )
    assert "payments" not in schema  # nothing of an example leaks in
    assert set(json.loads(schema)["properties"]) == {"defaults", "channels", "maintenance", "monitors"}


CHANNELS = """\
channels:
  oncall:
    - {type: pagerduty, routing_key: "${secretsmanager:alerts/pd-key}"}
    - {type: slack, url: "${secretsmanager:alerts/slack-webhook-url}"}
  hooks:
    - {type: webhook, url: https://hooks.example.com/fanout, secret: "${secretsmanager:alerts/hook}"}
defaults: {schedule: rate(5 minutes), alerts: [hooks]}
monitors:
  - {name: payments-api, urls: [https://api.example.com/health], alerts: [oncall, hooks]}
  - {name: docs, urls: [https://docs.example.com/]}
"""


def test_monitors_name_the_files_channels_and_their_routes_go_in_as_written(tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text(CHANNELS)
    payments, docs = (m.request for m in read_fleet([tmp_path / "m.yaml"]).monitors)
    assert [r["type"] for r in payments["monitor"]["alerts"]] == ["pagerduty", "slack", "webhook"]
    assert payments["monitor"]["alerts"][0]["routing_key"] == "${secretsmanager:alerts/pd-key}"
    assert docs["monitor"]["alerts"] == [
        {
            "type": "webhook",
            "url": "https://hooks.example.com/fanout",
            "secret": "${secretsmanager:alerts/hook}",
        }
    ]


def test_an_unknown_channel_and_a_bad_route_are_named_where_written(tmp_path: Path) -> None:
    text = CHANNELS.replace("alerts: [oncall, hooks]", "alerts: [oncall, pager]").replace(
        "type: slack, url:", "type: slack, link:"
    )
    found = problems(tmp_path, text)
    assert any("monitors.0.alerts.1" in p and "no channel named 'pager'" in p for p in found), found
    assert any("channels.oncall.1.slack.link: unknown key" in p for p in found), found


HYGIENE = """\
maintenance:
  - {cron: "0 2 * * SUN", duration: 1h, timezone: Europe/Berlin, groups: [payments]}
  - {start: "2026-12-24T22:00:00Z", end: "2026-12-25T02:00:00Z", tags: {tier: web}}
defaults: {schedule: rate(5 minutes), remind_every: 4h}
monitors:
  - name: payments-api
    group: payments
    urls: [https://api.example.com/health]
    depends_on: [core-network]
    group_over: 10
    maintenance: [{start: "2026-12-01T00:00:00Z", end: "2026-12-01T01:00:00Z"}]
  - {name: docs, tags: {tier: web}, urls: [https://docs.example.com/]}
  - {name: core-network, urls: [https://gw.example.com/]}
"""


def test_the_files_windows_join_the_monitors_of_their_groups_and_tags(tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text(HYGIENE)
    payments, docs, core = (m.request["monitor"] for m in read_fleet([tmp_path / "m.yaml"]).monitors)
    assert payments["maintenance"] == [
        {"start": "2026-12-01T00:00:00Z", "end": "2026-12-01T01:00:00Z"},
        {"cron": "0 2 * * SUN", "duration": "1h", "timezone": "Europe/Berlin"},
    ]
    assert (payments["depends_on"], payments["group_over"], payments["remind_every"]) == (
        ["core-network"],
        10,
        "4h",
    )
    assert docs["maintenance"] == [{"start": "2026-12-24T22:00:00Z", "end": "2026-12-25T02:00:00Z"}]
    assert "maintenance" not in core


def test_a_file_window_without_a_selector_or_with_a_bad_cron_is_named(tmp_path: Path) -> None:
    text = HYGIENE.replace(", groups: [payments]", "").replace("remind_every: 4h", "remind_every: 1m")
    found = problems(tmp_path, text.replace('"0 2 * * SUN"', '"0 2 * SUN"'))
    assert any("maintenance.0" in p and "5 fields" in p for p in found), found
    found = problems(tmp_path, text)
    assert any("maintenance.0" in p and "names 'groups' or 'tags'" in p for p in found), found
    assert any("remind_every" in p and "at most every 5m" in p for p in found), found


REGIONAL = """\
defaults:
  schedule: rate(5 minutes)
  quorum: 2
monitors:
  - name: shop
    regions: [us-east-1, eu-west-1, ap-southeast-2]
    urls: [https://shop.example.com/]
  - name: plain
    urls: [https://www.example.com/]
"""


def test_regions_go_in_the_request_and_the_defaults_quorum_only_under_regional_monitors(
    tmp_path: Path,
) -> None:
    (tmp_path / "m.yaml").write_text(REGIONAL)
    fleet = read_fleet([tmp_path / "m.yaml"])
    assert fleet.problems == []
    shop, plain = (m.request["monitor"] for m in fleet.monitors)
    assert shop == {"name": "shop", "regions": ["us-east-1", "eu-west-1", "ap-southeast-2"], "quorum": 2}
    assert plain == {"name": "plain"}


def test_regional_problems_are_named_where_written(tmp_path: Path) -> None:
    text = "defaults:\n  schedule: rate(5 minutes)\n  urls: [https://a.example/]\nmonitors:\n"
    text += "  - name: a\n    regions: [us-east-1, eu-west-1]\n    quorum: 3\n"
    text += "  - name: b\n    regions: [us-east-1, Europe]\n"
    text += "  - name: e\n    regions: [us-east-1, eu-west-1, us-east-1]\n"
    text += "  - name: c\n    region_silent_after: 2\n"
    text += "  - name: d\n    regions: []\n    quorum: 0\n"
    assert problems(tmp_path, text) == [
        "7:13: monitors.0.quorum: quorum 3 is more than the 2 regions",
        "9:26: monitors.1.regions.1: not an AWS region like eu-west-1 or us-east-1",
        "11:14: monitors.2.regions: 'regions' lists us-east-1 twice",
        "13:26: monitors.3.region_silent_after: 'region_silent_after' needs 'regions'",
        "15:14: monitors.4.regions: List should have at least 1 item after validation, not 0",
        "16:13: monitors.4.quorum: Input should be greater than or equal to 1",
    ]
