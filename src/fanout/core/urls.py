"""What the service needs to know of a URL without fetching it: its host group and origin."""

from __future__ import annotations

from collections.abc import Hashable
from urllib.parse import urlsplit

import idna

DEFAULT_PORTS = {"http": 80, "https": 443}


def origin(scheme: str, host: str, port: int | None) -> tuple[str, str, int | None]:
    """Scheme, host and port, the default port filled in: ``http://a`` and ``http://a:80`` are one."""
    scheme = scheme.lower()
    return scheme, host.lower(), port or DEFAULT_PORTS.get(scheme)


def host_key(url: str) -> Hashable:
    """The per-host concurrency group of a URL: its origin (as for the connection pool).

    Two groups for ``http://a/`` and ``http://a:80/`` would let twice the per-host cap through
    to queue inside the pool. An international name is keyed by its IDNA (``xn--``) form, as
    httpx sends it and names a redirect's host: ``münchen.de`` and ``xn--mnchen-3ya.de`` are
    one host, for its cap, its rate and its pauses.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if not host.isascii():
            host = idna.encode(host).decode("ascii")
        return origin(parts.scheme, host, parts.port)
    except ValueError:  # idna.IDNAError is one: a name httpx will refuse too
        return None
