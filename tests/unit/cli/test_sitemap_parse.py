"""Sitemap documents as ``fanout.fetch.sitemap.parse_sitemap`` reads them: plain or gzipped,
urlsets and indexes, and every hostile or broken document refused with a reason."""

from __future__ import annotations

import gzip

import pytest

from fanout.errors import TargetsUnreadable
from fanout.fetch.sitemap import MAX_CHILD_SITEMAPS, SitemapLimits, gunzip, parse_sitemap

LIMITS = SitemapLimits(max_urls=5, max_bytes=10_000)
NS = "http://www.sitemaps.org/schemas/sitemap/0.9"


def urlset(*locs: str, ns: str = NS) -> bytes:
    items = "".join(f"<url><loc>{loc}</loc><lastmod>2026-11-01</lastmod></url>" for loc in locs)
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="{ns}">{items}</urlset>'.encode()


def index(*locs: str) -> bytes:
    items = "".join(f"<sitemap><loc>{loc}</loc></sitemap>" for loc in locs)
    return f'<?xml version="1.0"?><sitemapindex xmlns="{NS}">{items}</sitemapindex>'.encode()


def test_a_urlset_gives_its_locs_in_order_with_entities_decoded() -> None:
    sitemap = parse_sitemap("s", urlset("https://e.com/a", " https://e.com/b?x=1&amp;y=2 \n"), LIMITS)
    assert not sitemap.is_index
    assert sitemap.locs == ("https://e.com/a", "https://e.com/b?x=1&y=2")


def test_a_gzipped_sitemap_is_recognised_by_its_magic_bytes() -> None:
    assert parse_sitemap("s.xml", gzip.compress(urlset("https://e.com/a")), LIMITS).locs == (
        "https://e.com/a",
    )


def test_a_sitemap_without_the_namespace_is_read_too() -> None:
    assert parse_sitemap("s", urlset("https://e.com/a", ns=""), LIMITS).locs == ("https://e.com/a",)


def test_an_index_lists_its_sitemaps() -> None:
    sitemap = parse_sitemap("i", index("https://e.com/1.xml", "https://e.com/2.xml.gz"), LIMITS)
    assert sitemap.is_index
    assert sitemap.locs == ("https://e.com/1.xml", "https://e.com/2.xml.gz")


def reason(body: bytes, limits: SitemapLimits = LIMITS) -> str:
    with pytest.raises(TargetsUnreadable) as caught:
        parse_sitemap("https://e.com/sitemap.xml", body, limits)
    assert caught.value.uri == "https://e.com/sitemap.xml"
    assert caught.value.detail.startswith("https://e.com/sitemap.xml: ")
    return caught.value.detail


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol9 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
]>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>https://e.com/&lol9;</loc></url></urlset>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE urlset [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>https://e.com/&secret;</loc></url></urlset>"""


def test_a_billion_laughs_is_refused_before_any_expansion() -> None:
    assert "XML features that are refused (DTDForbidden)" in reason(BILLION_LAUGHS)


def test_an_external_entity_is_refused() -> None:
    assert "refused" in reason(EXTERNAL_ENTITY)


def test_any_doctype_is_refused() -> None:
    assert "DTDForbidden" in reason(b'<?xml version="1.0"?><!DOCTYPE urlset><urlset/>')


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"<urlset><url><loc>https://e.com/a</loc></url>", "not well-formed XML"),
        (b"not xml at all", "not well-formed XML"),
        (b"", "not well-formed XML"),
        (b"<html><body>404</body></html>", "<html> is not a sitemap"),
        (urlset("https://e.com/a").replace(b"<loc>https://e.com/a</loc>", b""), "<url> 1 has no <loc>"),
        (urlset("https://e.com/a", "   "), "<url> 2 has no <loc>"),
        (gzip.compress(urlset("https://e.com/a"))[:30], "truncated"),
        (gzip.compress(urlset("https://e.com/a"))[:10] + b"\xff" * 40, "not valid gzip"),
    ],
    ids=["unclosed", "text", "empty", "html", "no-loc", "blank-loc", "truncated-gzip", "bad-gzip"],
)
def test_broken_documents_are_refused_with_a_reason(body: bytes, expected: str) -> None:
    assert expected in reason(body)


def test_more_urls_than_the_limit_are_refused() -> None:
    body = urlset(*(f"https://e.com/{i}" for i in range(6)))
    assert "more than 5 URLs" in reason(body)
    assert len(parse_sitemap("s", body, SitemapLimits(max_urls=6, max_bytes=10_000)).locs) == 6


def test_an_index_of_too_many_sitemaps_is_refused() -> None:
    body = index(*(f"https://e.com/{i}.xml" for i in range(MAX_CHILD_SITEMAPS + 1)))
    assert f"at most {MAX_CHILD_SITEMAPS} are followed" in reason(body, SitemapLimits(10, 1_000_000))


def test_a_gzip_bomb_inflates_no_further_than_the_cap() -> None:
    bomb = gzip.compress(b"\0" * 50_000_000, compresslevel=9)  # 50 MB of zeros in ~50 KB
    assert len(bomb) < 100_000
    assert "inflates to more than 10000 bytes" in reason(bomb)
    with pytest.raises(TargetsUnreadable):
        gunzip("bomb", bomb, 1_000_000)
