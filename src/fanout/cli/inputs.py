"""What the commands read: a request file (or stdin), and where a sitemap is.

A request file is one URL per line (blank lines and ``#`` comments skipped), a JSON list of
entries (as ``urls`` takes), or a whole request object (``{"urls": [...], "options": {...}}``,
or ``{"targets": {"sitemap": ...}, ...}``): ``fanout.core.targets.parse_request_file``, the
same parsing as a target list in S3. Unreadable input is ``TargetsUnreadable`` naming the file.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fanout.config import Settings
from fanout.core.targets import parse_request_file
from fanout.errors import TargetsUnreadable

STDIN = "-"


@dataclass(frozen=True, slots=True)
class SitemapSource:
    """A sitemap to read the URLs from: a URL, or a local file (``body`` its content)."""

    location: str
    body: bytes | None = None


def is_url(text: str) -> bool:
    return text.startswith(("http://", "https://"))


def read_bytes(path: str, max_bytes: int) -> bytes:
    """A file's bytes (``-``: stdin), refused above ``max_bytes`` (``max_targets_bytes``)."""
    try:
        if path == STDIN:
            data = sys.stdin.buffer.read(max_bytes + 1)
        else:
            with Path(path).open("rb") as file:
                data = file.read(max_bytes + 1)
    except OSError as exc:
        raise TargetsUnreadable(path, f"cannot be read ({exc.strerror or exc})") from None
    if len(data) > max_bytes:
        raise TargetsUnreadable(path, f"is larger than {max_bytes} bytes")
    return data


def request_document(path: str, settings: Settings) -> dict[str, Any]:
    """The request a file holds (not validated yet; the service's parser does that)."""
    name = "stdin" if path == STDIN else path
    body = read_bytes(path, settings.max_targets_bytes)
    return parse_request_file(name, body, max_urls=settings.max_urls)


def sitemap_source(value: str, settings: Settings) -> SitemapSource:
    """``--sitemap``: a URL is fetched when the run starts; a file is read now."""
    if is_url(value):
        return SitemapSource(value)
    return SitemapSource(value, read_bytes(value, settings.max_targets_bytes))
