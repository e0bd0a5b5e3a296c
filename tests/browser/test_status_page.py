"""The status page in a real browser: the index and a monitor's page as a person sees them, at a
desktop width and at 360 px, with no request leaving the site; axe-core checks accessibility in
light and dark (the fixtures: tests/browser/conftest.py). Screenshots go to docs/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fanout.status.site import Site
from tests.browser.pages import Visit, serious_violations
from tests.browser.sample_site import ROOT


def test_the_index_shows_every_monitor_url_state_and_90_bars(
    browser: Any, origin: str, site: tuple[Site, Path]
) -> None:
    with Visit(browser, f"{origin}/index.html", viewport={"width": 1280, "height": 900}) as visit:
        page = visit.page
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
        assert visit.elsewhere(origin) == []
        page.screenshot(path=str(ROOT / "docs/status-page-desktop.png"))


def test_a_monitor_page_shows_its_incident_chart_and_badge(browser: Any, origin: str) -> None:
    with Visit(
        browser,
        f"{origin}/monitors/checkout.html",
        viewport={"width": 1000, "height": 1300},
        color_scheme="dark",
    ) as visit:
        page = visit.page
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
        assert visit.elsewhere(origin) == []
        page.screenshot(path=str(ROOT / "docs/status-page-monitor-dark.png"))


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("path", ["index.html", "monitors/checkout.html", "monitors/shop.html"])
def test_axe_finds_no_serious_violation(browser: Any, origin: str, scheme: str, path: str) -> None:
    assert serious_violations(browser, f"{origin}/{path}", color_scheme=scheme) == []


@pytest.mark.parametrize("path", ["monitors/checkout.html", "monitors/shop.html"])
def test_axe_finds_no_serious_violation_at_360_px(browser: Any, origin: str, path: str) -> None:
    """Where tables are wider than the screen (a scrolling region must take the keyboard's focus)."""
    assert serious_violations(browser, f"{origin}/{path}", viewport={"width": 360, "height": 780}) == []


def test_the_index_is_usable_at_360_px(browser: Any, origin: str) -> None:
    with Visit(
        browser, f"{origin}/index.html", viewport={"width": 360, "height": 780}, device_scale_factor=2
    ) as visit:
        page = visit.page
        assert page.evaluate("document.documentElement.scrollWidth") <= 360  # no sideways scrolling
        assert page.locator("svg.bars").first.bounding_box()["width"] > 250
        assert visit.errors == []
        page.screenshot(path=str(ROOT / "docs/status-page-360.png"))
