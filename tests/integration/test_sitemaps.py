"""Sitemaps as target lists, read over real HTTP on 127.0.0.1 through the service's client and
egress guard (both transports), and as the service reads them: ``"targets": {"sitemap": ...}``
through the real Lambda handler, for a direct invoke and for the schedule."""

from __future__ import annotations

import asyncio
import gzip
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape

import pytest

from devtools.demo_target import DemoTarget
from devtools.threaded import ServedOnThread
from fanout.config import Settings
from fanout.errors import TargetsUnreadable
from fanout.fetch.sitemap import read_sitemap
from tests.support import SLACK_S, api_request, call, problem_of, scheduled

NS = "http://www.sitemaps.org/schemas/sitemap/0.9"


def urlset(*locs: str) -> bytes:
    items = "".join(f"<url><loc>{escape(loc)}</loc></url>" for loc in locs)
    return f'<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="{NS}">{items}</urlset>'.encode()


def index(*locs: str) -> bytes:
    items = "".join(
        f"<sitemap><loc>{escape(loc)}</loc><lastmod>2026-11-01</lastmod></sitemap>" for loc in locs
    )
    return f'<?xml version="1.0" encoding="UTF-8"?><sitemapindex xmlns="{NS}">{items}</sitemapindex>'.encode()


class SitemapServer(ServedOnThread[ThreadingHTTPServer]):
    """Documents served on 127.0.0.1 by path (status, body, headers); anything else is a 404."""

    def __init__(self) -> None:
        self.documents: dict[str, tuple[int, bytes, dict[str, str]]] = {}
        self.hits: Counter[str] = Counter()
        documents, hits = self.documents, self.hits

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                hits[self.path] += 1
                status, body, headers = documents.get(
                    self.path, (404, b"not here", {"content-type": "text/plain"})
                )
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                return None

        super().__init__(ThreadingHTTPServer(("127.0.0.1", 0), Handler), poll_interval_s=0.05)

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self._server.server_address[1]}{path}"

    def add(self, path: str, body: bytes, content_type: str = "application/xml", **headers: str) -> str:
        more = {k.replace("_", "-"): v for k, v in headers.items()}
        self.documents[path] = (200, body, {"content-type": content_type} | more)
        return self.url(path)

    def redirect(self, path: str, to: str) -> str:
        self.documents[path] = (302, b"", {"location": to})
        return self.url(path)


@pytest.fixture(scope="module")
def sitemaps() -> Iterator[SitemapServer]:
    with SitemapServer() as server:
        yield server


def read(url: str, settings: Settings, *, within_s: float = 5.0) -> list[str]:
    async def go() -> list[str]:
        before = asyncio.get_running_loop().time() + within_s
        return await read_sitemap(url, settings, before=before)

    return asyncio.run(go())


def refusal(url: str, settings: Settings, **kwargs: float) -> str:
    with pytest.raises(TargetsUnreadable) as caught:
        read(url, settings, **kwargs)
    return caught.value.detail


PAGES = [f"https://www.example.com/page/{i}?a=1&b=2" for i in range(3)]


def test_a_plain_sitemap(sitemaps: SitemapServer, settings: Settings) -> None:
    assert read(sitemaps.add("/plain.xml", urlset(*PAGES)), settings) == PAGES


def test_a_gzipped_file_and_a_gzip_content_encoding(sitemaps: SitemapServer, settings: Settings) -> None:
    packed = gzip.compress(urlset(*PAGES[:2]))
    assert read(sitemaps.add("/pages.xml.gz", packed, "application/gzip"), settings) == PAGES[:2]
    assert read(sitemaps.add("/encoded.xml", packed, content_encoding="gzip"), settings) == PAGES[:2]
    double = gzip.compress(packed)  # a .xml.gz sent with Content-Encoding: gzip
    assert (
        read(sitemaps.add("/both.xml.gz", double, "application/gzip", content_encoding="gzip"), settings)
        == (PAGES[:2])
    )


def test_an_index_is_followed_one_level_in_its_order(sitemaps: SitemapServer, settings: Settings) -> None:
    first = sitemaps.add("/i/1.xml", urlset("https://e.com/1a", "https://e.com/1b"))
    second = sitemaps.add("/i/2.xml.gz", gzip.compress(urlset("https://e.com/2a")), "application/x-gzip")
    top = sitemaps.add("/i/index.xml", index(first, second))
    assert read(top, settings) == ["https://e.com/1a", "https://e.com/1b", "https://e.com/2a"]


def test_an_index_inside_an_index_is_not_followed(sitemaps: SitemapServer, settings: Settings) -> None:
    leaf = sitemaps.add("/n/leaf.xml", urlset("https://e.com/x"))
    inner = sitemaps.add("/n/inner.xml", index(leaf))
    top = sitemaps.add("/n/top.xml", index(inner))
    assert "is not followed (one level)" in refusal(top, settings)
    assert sitemaps.hits["/n/leaf.xml"] == 0


def test_a_sitemap_at_a_blocked_address_is_refused_before_any_connection(
    sitemaps: SitemapServer, settings: Settings
) -> None:
    url = sitemaps.add("/blocked.xml", urlset(*PAGES))
    closed = settings.model_copy(update={"egress_allow_cidrs": ""})  # loopback is blocked by default
    detail = refusal(url, closed)
    assert "refused by the egress guard (address_blocked:loopback)" in detail
    assert sitemaps.hits["/blocked.xml"] == 0


def test_an_index_pointing_at_a_blocked_address_is_refused(
    sitemaps: SitemapServer, settings: Settings
) -> None:
    """Only 127.0.0.1 is allowed: the index's second sitemap, on 127.0.0.2, is refused unfetched."""
    allowed = settings.model_copy(update={"egress_allow_cidrs": "127.0.0.1/32"})
    sitemaps.add("/b/ok.xml", urlset("https://e.com/ok"))
    top = sitemaps.add(
        "/b/index.xml", index(sitemaps.url("/b/ok.xml"), sitemaps.url("/b/ok.xml", "127.0.0.2"))
    )
    detail = refusal(top, allowed)
    assert detail.startswith(sitemaps.url("/b/ok.xml", "127.0.0.2"))
    assert "address_blocked:loopback" in detail


def test_redirects_are_followed_and_each_hop_is_guarded(sitemaps: SitemapServer, settings: Settings) -> None:
    allowed = settings.model_copy(update={"egress_allow_cidrs": "127.0.0.1/32"})
    sitemaps.add("/r/pages.xml", urlset(*PAGES))
    assert read(sitemaps.redirect("/r/moved.xml", sitemaps.url("/r/pages.xml")), allowed) == PAGES
    away = sitemaps.redirect("/r/away.xml", sitemaps.url("/r/pages.xml", "127.0.0.2"))
    hits = sitemaps.hits["/r/pages.xml"]
    assert "refused by the egress guard (address_blocked:loopback)" in refusal(away, allowed)
    assert sitemaps.hits["/r/pages.xml"] == hits


def test_too_many_urls_are_refused(sitemaps: SitemapServer, settings: Settings) -> None:
    few = settings.model_copy(update={"max_urls": 4})
    url = sitemaps.add("/many.xml", urlset(*(f"https://e.com/{i}" for i in range(5))))
    assert "lists more than 4 URLs" in refusal(url, few)
    half = sitemaps.add("/half.xml", urlset(*(f"https://e.com/{i}" for i in range(3))))
    assert "the sitemaps list more than 4 URLs" in refusal(sitemaps.add("/two.xml", index(half, half)), few)


@pytest.mark.parametrize(
    ("path", "body", "expected"),
    [
        ("/broken.xml", b"<urlset><url><loc>https://e.com/</loc>", "not well-formed XML"),
        ("/page.html", b"<html><body>hi</body></html>", "<html> is not a sitemap"),
        ("/empty.xml", urlset(), "lists no URLs"),
        (
            "/lol.xml",
            b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;">]>'
            b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>&b;</loc></url></urlset>',
            "XML features that are refused (DTDForbidden)",
        ),
    ],
    ids=["malformed", "not-a-sitemap", "empty", "billion-laughs"],
)
def test_bad_documents_are_refused(
    sitemaps: SitemapServer, settings: Settings, path: str, body: bytes, expected: str
) -> None:
    assert expected in refusal(sitemaps.add(path, body), settings)


def test_an_answer_that_is_not_200_is_refused(sitemaps: SitemapServer, settings: Settings) -> None:
    assert "the sitemap answered HTTP 404" in refusal(sitemaps.url("/nothing-here.xml"), settings)


def test_a_body_over_the_cap_is_refused_on_the_wire(sitemaps: SitemapServer, settings: Settings) -> None:
    small = settings.model_copy(update={"max_targets_bytes": 2_000})
    url = sitemaps.add("/big.xml", urlset(*(f"https://e.com/{i:04}" for i in range(100))))
    assert "larger than 2000 bytes" in refusal(url, small)
    packed = gzip.compress(b" " * 1_500_000, compresslevel=9)
    assert len(packed) < 2_000  # small on the wire, 1.5 MB inflated
    bomb = sitemaps.add("/bomb.xml.gz", packed, "application/gzip")
    assert "inflates to more than 2000 bytes" in refusal(bomb, small)


def test_a_sitemap_that_never_answers_is_given_up_at_the_bound(
    target: DemoTarget, settings: Settings
) -> None:
    started = time.monotonic()
    detail = refusal(target.url("/hang"), settings, within_s=0.5)
    assert "could not be read in the time the run has" in detail
    assert time.monotonic() - started < 0.5 + SLACK_S


# -- the service: "targets": {"sitemap": ...} through the handler ------------------------------


def test_a_direct_invoke_runs_the_urls_of_a_sitemap(sitemaps: SitemapServer, target: DemoTarget) -> None:
    pages = [target.url("/ok?s=1"), target.url("/status/404"), target.url("/ok?s=2")]
    url = sitemaps.add("/service.xml.gz", gzip.compress(urlset(*pages)), "application/gzip")
    document = call({"targets": {"sitemap": url}, "options": {"retries": 0}})
    assert document["source"] == "direct"
    assert document["targets"] == url
    assert [r["url"] for r in document["results"]] == pages
    assert [r["outcome"] for r in document["results"]] == ["ok", "http_error", "ok"]


def test_the_schedule_runs_a_sitemap_index(sitemaps: SitemapServer, target: DemoTarget) -> None:
    child = sitemaps.add("/sched/pages.xml", urlset(target.url("/ok?sched=1"), target.url("/ok?sched=2")))
    top = sitemaps.add("/sched/index.xml", index(child))
    document = call(scheduled({"targets": {"sitemap": top}}))
    assert document["source"] == "schedule"
    assert document["targets"] == top
    assert document["summary"]["ok"] == 2


def test_an_unusable_sitemap_is_a_typed_error_and_nothing_runs(
    sitemaps: SitemapServer, target: DemoTarget
) -> None:
    before = int(target.stats()["requests"])
    url = sitemaps.add("/bad-entry.xml", urlset(target.url("/ok"), "x" * 9_000))
    answer = call({"targets": {"sitemap": url}})
    assert set(answer) == {"error"}
    assert answer["error"]["type"] == "targets_unreadable"
    assert answer["error"]["status"] == 422
    assert [e["loc"] for e in answer["error"]["errors"]] == ["targets.1"]
    missing = call({"targets": {"sitemap": sitemaps.url("/gone.xml")}})
    assert missing["error"]["type"] == "targets_unreadable"
    assert "answered HTTP 404" in missing["error"]["detail"]
    assert int(target.stats()["requests"]) == before


def test_a_bad_sitemap_target_is_a_validation_error_and_the_api_takes_no_targets() -> None:
    answer = call({"targets": {"sitemap": "ftp://example.com/sitemap.xml"}})
    assert answer["error"]["type"] == "validation_error"
    assert [e["loc"] for e in answer["error"]["errors"]] == ["targets.sitemap"]
    assert call({"targets": {"sitemap": "https://e.com/s.xml", "extra": 1}})["error"]["errors"][0]["loc"] == (
        "targets.extra"
    )
    assert call({"targets": ["https://e.com/"]})["error"]["errors"][0]["type"] == "targets_type"
    body = {"targets": {"sitemap": "https://example.com/sitemap.xml"}}
    problem = problem_of(call(api_request("POST", "/fanout", body=body)), 422, "validation-error")
    assert "targets" in [e["loc"] for e in problem["errors"]]
