"""The status site the browser tests open: the sample fleet of ``devtools.status_sample`` plus
two monitors built here, each with what a person must see on its page (an outage three days ago,
a URL down now, maintenance windows; a monitor checked from three regions whose storefront two
regions failed for an hour), rendered at ``NOW`` and written to a directory."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import yaml

from devtools.status_sample import flaky, sample_monitors, simulate, simulate_rounds
from fanout.cli.status_commands import write_site
from fanout.core.hygiene import Holds
from fanout.core.ids import iso_from_epoch
from fanout.core.monitor_summary import summary_of
from fanout.core.monitors import Health, MonitorSpec, Observation, advance
from fanout.status.model import MonitorData
from fanout.status.site import Site, render_site

ROOT = Path(__file__).resolve().parents[2]
NOW = 1_790_000_000.0
DAY = 86_400
INCIDENT_AT = (NOW // DAY - 3) * DAY + 5 * 3_600  # three days ago, 05:00 UTC
REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-2"]
REGION_BASE_MS = {"us-east-1": 40.0, "eu-west-1": 90.0, "ap-southeast-2": 220.0}
ROUND_S = 900
SPLIT_AT = (NOW // DAY - 2) * DAY + 9 * 3_600  # two days ago, 09:00 UTC: Europe and Sydney fail


def template_csp() -> str:
    """The status page's Content-Security-Policy as template.yaml gives it to CloudFront."""

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
    template = yaml.load((ROOT / "template.yaml").read_text(), Loader=Loader)
    config = template["Resources"]["StatusPageHeadersPolicy"]["Properties"]["ResponseHeadersPolicyConfig"]
    csp: str = config["SecurityHeadersConfig"]["ContentSecurityPolicy"]["ContentSecurityPolicy"]
    return csp


def _checkout() -> MonitorData:
    """A monitor of two URLs: one had a 30-minute outage three days ago, the other is down now."""
    spec = MonitorSpec(name="checkout", failure_threshold=1)
    start = (NOW // DAY - 94) * DAY

    def outage(at: float) -> tuple[bool, float]:
        return (not INCIDENT_AT <= at < INCIDENT_AT + 1_800, 120.0 + (at % 7) * 10)

    payments = simulate("https://pay.example.com/health?key=abc", start, 95, 96, outage, spec)
    cart = simulate("https://cart.example.com/health", start, 95, 96, flaky(4), spec)
    state = cart.state
    for n in range(2):
        state = advance(state, Observation(f"x{n}", "r", NOW - 60 + n, False, "timeout"), spec).state
    assert state.status is Health.DOWN
    summary = {
        "name": "checkout",
        "group": "shop",
        "display_names": {payments.state.subject: "Payments API"},
        "maintenance": [  # as a monitor run stores its windows: none under way now
            {"cron": "0 2 * * SUN", "duration": "2h", "timezone": "Europe/Paris"},
            {"start": "2026-09-01T22:00:00Z", "end": "2026-09-02T01:30:00Z"},
        ],
    }
    months = {
        payments.state.subject: list(payments.months.values()),
        state.subject: list(cart.months.values()),
    }
    return MonitorData(summary, [payments.state, state], months)


def _shop() -> MonitorData:
    """A monitor checked from three regions (quorum 2), its states moved round by round by the
    votes as the home region applies them: for an hour two days ago eu-west-1 and ap-southeast-2
    failed the storefront (two failed rounds make it down), and ap-southeast-2 alone failed the
    last round (no quorum: still up)."""
    spec = MonitorSpec(name="shop", group="storefront", regions=REGIONS, quorum=2)
    start = (NOW // DAY - 9) * DAY
    rounds = int((NOW - start) // ROUND_S) + 1  # the last one at 14:00 UTC today
    last = start + (rounds - 1) * ROUND_S

    def storefront(region: str, at: float) -> tuple[bool, float]:
        split = region != "us-east-1" and SPLIT_AT <= at < SPLIT_AT + 3_600
        lone = region == "ap-southeast-2" and at == last
        return (not (split or lone), REGION_BASE_MS[region] + (at // ROUND_S % 5) * 4 + (at // DAY % 4) * 9)

    def api(region: str, at: float) -> tuple[bool, float]:
        return (True, REGION_BASE_MS[region] * 1.5 + (at // ROUND_S % 3) * 3 + (at // DAY % 3) * 20)

    urls = [("https://shop.example.com/", storefront), ("https://shop.example.com/api/ping", api)]
    runs = [simulate_rounds(url, start, rounds, ROUND_S, outcome, spec) for url, outcome in urls]
    states = [sim.state for sim, _ in runs]
    liveness = list(runs[-1][1].values())
    summary = summary_of(spec, "run-last", [*states, *liveness], (), Holds(), ())
    summary |= {"name": spec.name, "last_run_at": iso_from_epoch(last + 3)}  # as the table returns it
    months = {sim.state.subject: list(sim.months.values()) for sim, _ in runs}
    return MonitorData(summary, states, months)  # the region:<name> states are not URL states


def build_site(out: Path) -> Site:
    """The site of the sample fleet, checkout and shop, written to ``out``."""
    monitors = [_checkout(), *sample_monitors(NOW, 4, 3, public={"service-003": False})]
    under_way = {"start": "2026-09-21T13:00:00Z", "end": "2026-09-21T16:00:00Z"}  # NOW is 14:13 UTC
    monitors[3] = replace(monitors[3], summary={**monitors[3].summary, "maintenance": [under_way]})
    monitors.append(_shop())
    built = render_site(monitors, NOW, title="Example status")
    write_site(built, out)
    return built
