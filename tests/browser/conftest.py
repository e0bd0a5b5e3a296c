"""The browser tier's fixtures: the sample site, an HTTP server on 127.0.0.1 answering with the
template's own security headers, and Debian's headless Chromium driven by playwright through its
executable path (``scripts/ensure-browser.sh`` installs both it and axe-core; ``make test`` runs it
first). One of each for the whole tier, closed when it ends (playwright's sync API keeps its loop
marked running on this thread until then)."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fanout.status.site import Site
from tests.browser.pages import AXE
from tests.browser.sample_site import build_site, template_csp

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


@pytest.fixture(scope="package")
def site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Site, Path]:
    out = tmp_path_factory.mktemp("site")
    return build_site(out), out


@pytest.fixture(scope="package")
def origin(site: tuple[Site, Path]) -> Iterator[str]:
    csp = template_csp()

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


@pytest.fixture(scope="package")
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
