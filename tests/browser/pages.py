"""Pages opened in the browser: every console error and request recorded, and axe-core's findings."""

from __future__ import annotations

from typing import Any

from tests.browser.sample_site import ROOT

AXE = ROOT / "node_modules/axe-core/axe.min.js"


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


def serious_violations(browser: Any, url: str, **context: Any) -> list[Any]:
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
