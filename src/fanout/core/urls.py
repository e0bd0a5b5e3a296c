"""What the service needs to know of a URL without fetching it: its host group and origin."""

from __future__ import annotations

from collections.abc import Hashable
from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}


def origin(scheme: str, host: str, port: int | None) -> tuple[str, str, int | None]:
    """Scheme, host and port, the default port filled in: ``http://a`` and ``http://a:80`` are one."""
    scheme = scheme.lower()
    return scheme, host.lower(), port or DEFAULT_PORTS.get(scheme)


def host_key(url: str) -> Hashable:
    """The per-host concurrency group of a URL: its origin (as for the connection pool).

    Two groups for ``http://a/`` and ``http://a:80/`` would let twice the per-host cap through
    to queue inside the pool.
    """
    try:
        parts = urlsplit(url)
        return origin(parts.scheme, parts.hostname or "", parts.port)
    except ValueError:
        return None
