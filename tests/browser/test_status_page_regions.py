"""A regional monitor's page in a real browser: each URL's table by region (last check, latency,
the last 7 days' p50 / p95), the regions an incident failed in, and the tables at 360 px (no
sideways scrolling of the page; a table wider than the screen scrolls with the keyboard)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from fanout.status.site import Site
from tests.browser.pages import Visit
from tests.browser.sample_site import ROOT


def _url_item(page: Any, name: str) -> Any:
    return page.locator("li.url").filter(has=page.locator(".url-name").get_by_text(name, exact=True))


def test_a_regional_monitor_page_shows_each_region_and_the_regions_that_failed(
    browser: Any, origin: str, site: tuple[Site, Path]
) -> None:
    detail = json.loads(site[0].files["monitors/shop.json"])
    figures = {u["name"]: {r["region"]: r for r in u["regions"]} for u in detail["urls"]}
    with Visit(
        browser,
        f"{origin}/monitors/shop.html",
        viewport={"width": 1000, "height": 1300},
        color_scheme="light",
    ) as visit:
        page = visit.page
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
        assert visit.elsewhere(origin) == []
        storefront.locator("table.regions").scroll_into_view_if_needed()
        storefront.screenshot(path=str(ROOT / "docs/status-page-regions.png"))


def test_a_regional_monitor_page_holds_at_360_px(browser: Any, origin: str) -> None:
    with Visit(
        browser,
        f"{origin}/monitors/shop.html",
        viewport={"width": 360, "height": 780},
        device_scale_factor=2,
    ) as visit:
        page = visit.page
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
        assert visit.elsewhere(origin) == []
