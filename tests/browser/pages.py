"""Pages opened in the browser: every console error and request recorded, and axe-core's findings."""

from __future__ import annotations

from types import TracebackType
from typing import Any

from tests.browser.sample_site import ROOT

AXE = ROOT / "node_modules/axe-core/axe.min.js"


class Visit:
    """``with Visit(browser, url, **context) as visit:`` a page opened in a context of its own, with
    every console error and every request it made recorded; the context is closed on the way out."""

    def __init__(self, browser: Any, url: str, **context: Any) -> None:
        self.context = browser.new_context(**context)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.goto(url, wait_until="networkidle")

    def __enter__(self) -> Visit:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.context.close()

    def elsewhere(self, origin: str) -> list[str]:
        """The requests the page made outside ``origin`` (the site loads nothing from elsewhere)."""
        return [r for r in self.requests if not r.startswith(origin + "/")]


def serious_violations(browser: Any, url: str, **context: Any) -> list[Any]:
    # axe is injected as a script: this context bypasses the page's CSP (which allows no script).
    with Visit(browser, url, bypass_csp=True, **context) as visit:
        visit.page.add_script_tag(path=str(AXE))
        result = visit.page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
