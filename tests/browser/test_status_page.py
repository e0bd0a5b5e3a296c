"""The status page in a real browser: Debian's headless Chromium (driven by playwright through its
executable path) opens the built site from a local HTTP server on 127.0.0.1 that answers with the
template's own security headers, and checks what a person sees; axe-core (npm, pinned) checks
accessibility in light and dark. Screenshots of the index go to docs/. The tools come from
``scripts/ensure-browser.sh`` (``make test`` runs it first)."""

from __future__ import annotations

import functools
import http.server
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
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
CHROMIUM = Path("/usr/bin/chromium")
AXE = ROOT / "node_modules/axe-core/axe.min.js"
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
NOW = 1_790_000_000.0
DAY = 86_400
INCIDENT_AT = (NOW // DAY - 3) * DAY + 5 * 3_600  # three days ago, 05:00 UTC
REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-2"]
REGION_BASE_MS = {"us-east-1": 40.0, "eu-west-1": 90.0, "ap-southeast-2": 220.0}
ROUND_S = 900
SPLIT_AT = (NOW // DAY - 2) * DAY + 9 * 3_600  # two days ago, 09:00 UTC: Europe and Sydney fail


def _template_csp() -> str:
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


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Site, Path]:
    monitors = [_checkout(), *sample_monitors(NOW, 4, 3, public={"service-003": False})]
    under_way = {"start": "2026-09-21T13:00:00Z", "end": "2026-09-21T16:00:00Z"}  # NOW is 14:13 UTC
    monitors[3] = replace(monitors[3], summary={**monitors[3].summary, "maintenance": [under_way]})
    monitors.append(_shop())
    built = render_site(monitors, NOW, title="Example status")
    out = tmp_path_factory.mktemp("site")
    write_site(built, out)
    return built, out


@pytest.fixture(scope="module")
def origin(site: tuple[Site, Path]) -> Iterator[str]:
    csp = _template_csp()

    class Handler(http.server.SimpleHTTPRequestHandler):
        def end_headers(self) -> None:
            self.send_header("Content-Security-Policy", csp)
            self.send_header("X-Content-Type-Options", "nosniff")
            super().end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Handler, directory=str(site[1]))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    missing = [str(p) for p in (CHROMIUM, AXE) if not p.exists()]
    assert not missing, f"{missing} missing: run scripts/ensure-browser.sh (make test does)"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        chromium = driver.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


class Visit:
    """A page opened with every console error and every request it made recorded."""

    def __init__(self, browser: Any, url: str, **context: Any) -> None:
        self.context = browser.new_context(**context)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.goto(url, wait_until="networkidle")

    def close(self) -> None:
        self.context.close()


def test_the_index_shows_every_monitor_url_state_and_90_bars(
    browser: Any, origin: str, site: tuple[Site, Path]
) -> None:
    visit = Visit(browser, f"{origin}/index.html", viewport={"width": 1280, "height": 900})
    page = visit.page
    try:
        monitors = page.locator("section.monitor")
        names = [n.strip() for n in monitors.locator(".m-head h3").all_inner_texts()]
        # open incidents first, then by group
        assert names == ["checkout", "service-000", "service-001", "service-002", "shop"]
        checkout = monitors.first
        assert checkout.locator(".m-head .pill").inner_text() == "Degraded"
        assert checkout.locator(".open").inner_text() == "1 URL down now"
        rows = {
            r.locator(".url-name").inner_text(): r.locator(".pill").inner_text()
            for r in page.locator("li.url").all()
        }
        assert rows["Payments API"] == "Operational"
        assert rows["https://cart.example.com/health"] == "Down"
        in_window = monitors.filter(has_text="service-002")
        assert in_window.locator(".m-head .pill").inner_text() == "Maintenance"
        assert in_window.locator(".maint").inner_text() == (
            "Maintenance under way until 2026-09-21 16:00 UTC (since 2026-09-21 13:00 UTC)."
        )
        assert set(in_window.locator("li.url .pill").all_inner_texts()) == {"Maintenance"}
        assert len(rows) == 2 + 3 * 3 + 2  # checkout's 2, three public monitors' 3 each, shop's 2
        assert "service-003" not in page.content()
        assert "key=abc" not in page.content()
        bar_counts = page.locator("svg.bars").evaluate_all(
            "bars => bars.map(b => b.querySelectorAll('rect').length)"
        )
        assert bar_counts == [90] * len(rows)
        assert page.locator("svg.bars").first.bounding_box()["width"] > 500
        incident_day = (
            page.locator("li.url", has_text="Payments API").locator("rect title").nth(86).text_content()
        )
        assert incident_day.endswith("1 incident")
        assert visit.errors == []
        assert [r for r in visit.requests if not r.startswith(origin + "/")] == []
        page.screenshot(path=str(ROOT / "docs/status-page-desktop.png"))
    finally:
        visit.close()


def test_a_monitor_page_shows_its_incident_chart_and_badge(browser: Any, origin: str) -> None:
    visit = Visit(
        browser,
        f"{origin}/monitors/checkout.html",
        viewport={"width": 1000, "height": 1300},
        color_scheme="dark",
    )
    page = visit.page
    try:
        payments = page.locator("li.url", has_text="Payments API")
        row = payments.locator("table.incidents tr").nth(1).inner_text()
        assert "05:00 UTC" in row
        assert "05:30 UTC" in row
        assert "30 min" in row
        assert "http_error" in row
        assert (
            page.locator("li.url", has_text="cart.example.com")
            .locator("table.incidents")
            .inner_text()
            .count("ongoing")
            == 1
        )
        chart = payments.locator("svg.chart")
        labels = chart.locator("text").evaluate_all("ts => ts.map(t => t.textContent)")
        assert [t for t in labels if t.endswith(" ms")]  # a labelled y axis
        assert chart.locator("polyline").count() == 2
        upcoming = page.locator("table.windows", has_text="Upcoming maintenance").locator("tr")
        assert upcoming.count() == 1 + 3  # a header, the weekly window's next three
        assert upcoming.nth(1).inner_text().split("\t") == [
            "2026-09-27 00:00 UTC", "2026-09-27 02:00 UTC", "2 h", "every 0 2 * * SUN (Europe/Paris)",
        ]  # fmt: skip
        past = page.locator("table.windows", has_text="Past maintenance").locator("tr")
        assert "3 h 30 min" in past.last.inner_text()  # the one-off window, the oldest
        badge = page.locator("img.badge")
        assert badge.evaluate("img => img.complete && img.naturalWidth > 0")
        assert badge.get_attribute("alt") == "status badge: degraded"
        assert visit.errors == []
        assert [r for r in visit.requests if not r.startswith(origin + "/")] == []
        page.screenshot(path=str(ROOT / "docs/status-page-monitor-dark.png"))
    finally:
        visit.close()


def _url_item(page: Any, name: str) -> Any:
    return page.locator("li.url").filter(has=page.locator(".url-name").get_by_text(name, exact=True))


def test_a_regional_monitor_page_shows_each_region_and_the_regions_that_failed(
    browser: Any, origin: str, site: tuple[Site, Path]
) -> None:
    detail = json.loads(site[0].files["monitors/shop.json"])
    figures = {u["name"]: {r["region"]: r for r in u["regions"]} for u in detail["urls"]}
    visit = Visit(
        browser,
        f"{origin}/monitors/shop.html",
        viewport={"width": 1000, "height": 1300},
        color_scheme="light",
    )
    page = visit.page
    try:
        assert page.locator(".m-head .pill").inner_text() == "Operational"
        for name in ("https://shop.example.com/", "https://shop.example.com/api/ping"):
            item = _url_item(page, name)
            assert item.locator(".url-head .pill").inner_text() == "Operational"
            table = item.locator("table.regions")
            assert table.locator("caption").inner_text() == f"{name} by region"
            rows = [r.locator("th, td").all_inner_texts() for r in table.locator("tr").all()]
            assert rows[0] == ["Region", "Last check", "Latency", "p50 / p95 per day, ms"]
            assert [r[0] for r in rows[1:]] == ["ap-southeast-2", "eu-west-1", "us-east-1"]
            latency = [int(re.fullmatch(r"(\d+) ms", r[2]).group(1)) for r in rows[1:]]  # type: ignore[union-attr]
            assert latency[0] > latency[1] > latency[2]  # Sydney the farthest, Virginia the nearest
            for row in rows[1:]:
                days = re.findall(r"(\d\d-\d\d): (\d+) / (\d+)", row[3])
                assert [d for d, _, _ in days] == [f"09-{n}" for n in range(15, 22)]  # the last 7 days
                shown = [d for d in figures[name][row[0]]["days"] if d["day"][5:] in {d for d, _, _ in days}]
                assert [(int(p50), int(p95)) for _, p50, p95 in days] == [
                    (round(d["p50_ms"]), round(d["p95_ms"])) for d in shown
                ]
                assert all(int(p50) <= int(p95) for _, p50, p95 in days)
        storefront = _url_item(page, "https://shop.example.com/")
        rows = [r.locator("th, td").all_inner_texts() for r in storefront.locator("table.regions tr").all()]
        # ap-southeast-2 alone failed the last round: no quorum, the URL stays up
        assert [r[1] for r in rows[1:]] == ["http_error at 14:00 UTC", "ok at 14:00 UTC", "ok at 14:00 UTC"]
        incidents = storefront.locator("table.incidents tr")
        assert incidents.count() == 2
        incident = incidents.nth(1).locator("td").all_inner_texts()
        assert incident[:3] == ["2026-09-19 09:15 UTC", "2026-09-19 10:00 UTC", "45 min"]
        assert incident[3] == "http_error; HTTP 503; in eu-west-1, ap-southeast-2"  # not us-east-1
        api = _url_item(page, "https://shop.example.com/api/ping")
        assert api.locator("p.muted", has_text="No incidents").count() == 1
        assert visit.errors == []
        assert [r for r in visit.requests if not r.startswith(origin + "/")] == []
        storefront.locator("table.regions").scroll_into_view_if_needed()
        storefront.screenshot(path=str(ROOT / "docs/status-page-regions.png"))
    finally:
        visit.close()


def test_a_regional_monitor_page_holds_at_360_px(browser: Any, origin: str) -> None:
    visit = Visit(
        browser,
        f"{origin}/monitors/shop.html",
        viewport={"width": 360, "height": 780},
        device_scale_factor=2,
    )
    page = visit.page
    try:
        assert page.evaluate("document.documentElement.scrollWidth") <= 360  # no sideways scrolling
        wrappers = page.locator("div.scroll:has(> table.regions)")
        assert wrappers.count() == 2
        for wrapper in wrappers.all():
            box = wrapper.bounding_box()
            assert box["x"] >= 0
            assert box["x"] + box["width"] <= 360
            scroller = wrapper.evaluate(
                "w => ({wider: w.scrollWidth > w.clientWidth, overflow: getComputedStyle(w).overflowX,"
                " tabindex: w.tabIndex, label: document.getElementById("
                "w.getAttribute('aria-labelledby'))?.textContent})"
            )
            caption = wrapper.locator("caption").inner_text()
            assert scroller in (
                {"wider": False, "overflow": "auto", "tabindex": 0, "label": caption},  # it fits
                {"wider": True, "overflow": "auto", "tabindex": 0, "label": caption},  # it scrolls
            )
            one_line = wrapper.locator(".rday").evaluate_all(
                "days => days.map(d => d.getClientRects().length === 1 && d.offsetHeight < 30)"
            )
            assert one_line == [True] * 3 * 7  # a day's p50 / p95 never broken over two lines
        first = wrappers.first
        first.focus()  # a person without a mouse scrolls it with the arrow keys
        for _ in range(20):
            page.keyboard.press("ArrowRight")
        scrolled = "w => w.scrollLeft + w.clientWidth >= w.scrollWidth - 1"
        page.wait_for_function(scrolled, arg=first.element_handle())
        days = first.locator("tr").nth(1).locator("td").last.bounding_box()  # the days' figures
        assert days["x"] >= 0
        assert days["x"] + days["width"] <= 360  # in view
        assert visit.errors == []
        assert [r for r in visit.requests if not r.startswith(origin + "/")] == []
    finally:
        visit.close()


def _serious_violations(browser: Any, url: str, **context: Any) -> list[Any]:
    # axe is injected as a script: this context bypasses the page's CSP (which allows no script).
    visit = Visit(browser, url, bypass_csp=True, **context)
    try:
        visit.page.add_script_tag(path=str(AXE))
        result = visit.page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
        return [
            (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
            for v in result["violations"]
            if v["impact"] in ("serious", "critical")
        ]
    finally:
        visit.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("path", ["index.html", "monitors/checkout.html", "monitors/shop.html"])
def test_axe_finds_no_serious_violation(browser: Any, origin: str, scheme: str, path: str) -> None:
    assert _serious_violations(browser, f"{origin}/{path}", color_scheme=scheme) == []


@pytest.mark.parametrize("path", ["monitors/checkout.html", "monitors/shop.html"])
def test_axe_finds_no_serious_violation_at_360_px(browser: Any, origin: str, path: str) -> None:
    """Where tables are wider than the screen (a scrolling region must take the keyboard's focus)."""
    assert _serious_violations(browser, f"{origin}/{path}", viewport={"width": 360, "height": 780}) == []


def test_the_index_is_usable_at_360_px(browser: Any, origin: str) -> None:
    visit = Visit(
        browser, f"{origin}/index.html", viewport={"width": 360, "height": 780}, device_scale_factor=2
    )
    page = visit.page
    try:
        assert page.evaluate("document.documentElement.scrollWidth") <= 360  # no sideways scrolling
        assert page.locator("svg.bars").first.bounding_box()["width"] > 250
        assert visit.errors == []
        page.screenshot(path=str(ROOT / "docs/status-page-360.png"))
    finally:
        visit.close()
