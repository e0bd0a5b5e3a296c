"""URLs as logs and traces show them: no userinfo, no query string, never a crash."""

from __future__ import annotations

import pytest

from fanout.observability.redact import redact_url


@pytest.mark.parametrize(
    ("url", "redacted"),
    [
        ("https://user:pw@example.com:8443/a/b?token=x#frag", "https://example.com:8443/a/b?<redacted>"),
        ("http://example.com/path", "http://example.com/path"),
        ("http://[::1]:80/x", "http://[::1]:80/x"),
        ("http://[::1", "<unparseable url>"),
        ("https://example.com", "https://example.com"),
        ("http://a.example:0/x?", "http://a.example/x"),
        ("HTTPS://Ex.example/p?q=1&r=2", "https://ex.example/p?<redacted>"),
    ],
)
def test_redact_url(url: str, redacted: str) -> None:
    assert redact_url(url) == redacted
