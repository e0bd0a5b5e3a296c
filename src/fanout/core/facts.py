"""What a response was, beyond its status: checks, timings, the peer, TLS, captured headers.

A result carries these when its entry asked for them (an ``expect``, even ``{}``, or
``capture_headers``), as fields of the result itself, left out when they do not apply (no TLS
for http, no redirects when there were none). ``Details`` carries them from the fetcher to the
result. Durations are rounded to 0.1 ms where they are made, so the JSON and every reader agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import msgspec
from msgspec import UNSET, Meta

from fanout.core.model import Document

PHASES = ("dns_ms", "connect_ms", "tls_ms", "ttfb_ms", "transfer_ms", "total_ms")

_set = msgspec.structs.force_setattr


class Check(Document, frozen=True, gc=False):
    """One expectation and whether the response met it (``expected``/``actual`` when it did not)."""

    check: Annotated[str, Meta(description="The expectation: status, json:<pointer>, header:<name>, ...")]
    ok: Annotated[bool, Meta(description="Whether the response met it")]
    expected: Annotated[Any, Meta(description="What was expected (a failed check only)")] = UNSET
    actual: Annotated[Any, Meta(description="What the response had, clipped (a failed check only)")] = UNSET


_Ms = Annotated[float | None, Meta(description="Milliseconds; null: the transport cannot see this phase")]


class Timings(Document, frozen=True, gc=False):
    """The final attempt's phases in ms (redirect hops summed); null: the transport cannot see it."""

    dns_ms: _Ms
    connect_ms: _Ms
    tls_ms: _Ms
    ttfb_ms: _Ms
    transfer_ms: _Ms
    total_ms: Annotated[float, Meta(description="The final attempt, start to last byte, in milliseconds")]

    @classmethod
    def rounded(
        cls,
        dns_ms: float | None,
        connect_ms: float | None,
        tls_ms: float | None,
        ttfb_ms: float | None,
        transfer_ms: float | None,
        total_ms: float,
    ) -> Timings:
        """Timings of these phases, each rounded to 0.1 ms (made for every checked response: no
        ``__post_init__``, which every decode of a stored result would run too)."""
        return cls(  # a phase not needed (0.0) or not seen (None) stays as it is
            round(dns_ms, 1) if dns_ms else dns_ms,
            round(connect_ms, 1) if connect_ms else connect_ms,
            round(tls_ms, 1) if tls_ms else tls_ms,
            round(ttfb_ms, 1) if ttfb_ms else ttfb_ms,
            round(transfer_ms, 1) if transfer_ms else transfer_ms,
            round(total_ms, 1),
        )


class TlsFacts(Document, frozen=True):
    """The leaf certificate and protocol of the connection that answered."""

    version: Annotated[str | None, Meta(description="The TLS version: TLSv1.3, ...")]
    issuer: Annotated[str, Meta(description="The leaf certificate's issuer (RFC 4514)")]
    subject: Annotated[str, Meta(description="The leaf certificate's subject (RFC 4514)")]
    sans: Annotated[tuple[str, ...], Meta(description="Its subject alternative names")]
    not_after: Annotated[str, Meta(description="When it expires, ISO 8601 UTC")]
    days_to_expiry: Annotated[float, Meta(description="Days until it expires (0.1 day)")]

    def __post_init__(self) -> None:
        _set(self, "days_to_expiry", round(self.days_to_expiry, 1))


class Redirect(Document, frozen=True):
    """One redirect the request followed."""

    url: Annotated[str, Meta(description="The URL that answered with a redirect")]
    status_code: Annotated[int, Meta(description="Its status (301, 302, 303, 307, 308)")]


class Details(msgspec.Struct, frozen=True, gc=False):
    """What a checked response was, from the fetcher to its result (whose fields these become);
    ``checks`` and ``degraded`` only when it had expectations."""

    timings: Timings | None = None
    remote_ip: str | None = None
    http_version: str | None = None
    final_url: str | None = None
    redirects: tuple[Redirect, ...] = ()
    tls: TlsFacts | None = None
    headers: Mapping[str, str] | None = None
    checks: tuple[Check, ...] | None = None
    degraded: bool | None = None
