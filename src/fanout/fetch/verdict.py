"""From a final response to a URL's outcome and its details: the checks, applied.

Without an ``expect``, the rule is the status: < 400 is ``ok``, >= 400 ``http_error``. With
one, a status outside ``expect.status`` (when it has one) is ``check_failed``, as is a
response that fails any other expectation; without ``expect.status``, >= 400 is still
``http_error`` and no other check runs. Details (timings, peer, TLS, captured headers, and the
checks) are reported when the entry asked: an ``expect`` (even ``{}``) or ``capture_headers``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from fanout.core.checks import Checker, ResponseFacts
from fanout.core.facts import Check, Details, Redirect, TlsFacts
from fanout.core.results import Outcome
from fanout.fetch.body import BodyInspector
from fanout.fetch.trace import AttemptTrace
from fanout.fetch.transports.base import PEER, PeerInfo
from fanout.fetch.wire import Hop


@dataclass(slots=True)
class FinalResponse:
    """The last hop of an attempt, as the fetcher saw it (the body already drained)."""

    status_code: int
    size: int
    retry_after_s: float | None
    headers: Mapping[str, str]  # lower-case names (``plain_headers``) when it is to be judged
    url: str  # as sent (egress-checked, httpx's canonical form)
    extensions: Mapping[str, object]
    redirects: tuple[Redirect, ...] = ()
    body: str | None = None
    body_error: str | None = None


def final_response(
    hop: Hop,
    headers: Mapping[str, str],
    size: int,
    redirects: list[Redirect],
    inspector: BodyInspector | None,
    retry_after_s: float | None,
    *,
    judged: bool,
) -> FinalResponse:
    """The last hop of an attempt, drained: what ``judge`` and the fetcher's retries read."""
    return FinalResponse(
        status_code=hop.status_code,
        size=size,
        retry_after_s=retry_after_s,  # read only where a retry may use it (``Fetcher.fetch``)
        headers=headers,
        url=hop.url,
        extensions=hop.extensions() if judged else {},  # read only by ``judge``
        redirects=tuple(redirects),
        body=None if inspector is None else inspector.text(),
        body_error=None if inspector is None else inspector.error,
    )


_VERSIONS = {b"HTTP/1.1": "1.1", b"HTTP/1.0": "1.0", b"HTTP/2": "2", b"HTTP/3": "3"}
"""The version strings every result shares (not one copy per checked result)."""


def _http_version(extensions: Mapping[str, object]) -> str | None:
    raw = extensions.get("http_version")
    if not isinstance(raw, bytes):
        return None
    return _VERSIONS.get(raw) or raw.decode().removeprefix("HTTP/")


def plain_headers(raw: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    """A response's headers as a dict by lower-case name (repeats joined with ", ", as httpx
    does): read once for all the checks, where ``httpx.Headers.get`` scans the list each time."""
    plain: dict[str, str] = {}
    for raw_name, raw_value in raw:
        name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
        plain[name] = f"{plain[name]}, {value}" if name in plain else value
    return plain


def _captured(headers: Mapping[str, str], names: tuple[str, ...]) -> dict[str, str] | None:
    if not names:
        return None
    return {name: value for name in names if (value := headers.get(name)) is not None}


def judge(
    response: FinalResponse, trace: AttemptTrace, checker: Checker | None, capture: tuple[str, ...]
) -> tuple[Outcome, Details | None]:
    """The outcome of a final response and, when the entry asked for them, its details."""
    code = response.status_code
    by_status = Outcome.OK if code < 400 else Outcome.HTTP_ERROR
    if checker is None and not capture:
        return by_status, None
    peer = response.extensions.get(PEER)
    peer = peer if isinstance(peer, PeerInfo) else None
    https = response.url.startswith("https:")
    tls = peer.tls if peer is not None and https else None
    timings = trace.timings(https=https)
    outcome, checks, degraded = by_status, None, None
    if checker is not None and (code < 400 or checker.status_ok(code) is not None):
        outcome, checks, degraded = _checked(response, checker, timings.total_ms, tls, https)
    return outcome, Details(
        timings=timings,
        remote_ip=peer.ip if peer is not None and peer.ip else trace.remote_ip,
        http_version=_http_version(response.extensions),
        final_url=response.url,
        redirects=response.redirects,
        tls=tls,
        headers=_captured(response.headers, capture),
        checks=checks,
        degraded=degraded,
    )


def _checked(
    response: FinalResponse, checker: Checker, total_ms: float, tls: TlsFacts | None, https: bool
) -> tuple[Outcome, tuple[Check, ...], bool]:
    """The checks' outcome, the checks, and the degraded flag."""
    facts = ResponseFacts(
        status_code=response.status_code,
        headers=response.headers,
        total_ms=total_ms,
        body=response.body,
        days_to_expiry=None if tls is None else tls.days_to_expiry,
        https=https,
    )
    verdict = checker.judge(facts)
    checks, passed = verdict.checks, verdict.passed
    if response.body_error is not None and checker.needs_body:
        checks, passed = (*checks, Check("body", False, "a readable body", response.body_error)), False
    return (Outcome.OK if passed else Outcome.CHECK_FAILED), checks, passed and verdict.degraded
