"""What a failed attempt of the fetcher is: its outcome, its error, whether another may help.

``Fetcher.fetch`` catches ``FAILURES`` around each attempt and reads the first row of
``FAILURE_KINDS`` that matches; anything else (``CancelledError`` first of all: the engine
reports a cancelled URL itself) goes up untouched. Order matters: ``DnsTimeout`` before the
``FetchError`` it is, ``httpx.TimeoutException`` before the ``httpx.HTTPError`` it is.

Retried, within the entry's retries and the run's deadline: connect errors (nothing was sent)
and, of DNS failures, only those that may pass (SERVFAIL, a refused query); never a timeout of
the whole attempt, nor a lookup that used it up.
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from fanout.core.results import ErrorInfo, Outcome
from fanout.errors import DnsError, DnsTimeout, EgressBlocked, FetchError
from fanout.fetch.trace import AttemptTrace

RETRYABLE_ERRORS: tuple[type[Exception], ...] = (httpx.ConnectError, httpx.ConnectTimeout)


def _attempt_timed_out(exc: Exception, trace: AttemptTrace, limit: float) -> ErrorInfo:
    """The attempt ran out of ``request_timeout_s``: while waiting for DNS, or later."""
    if trace.resolving is not None:
        return ErrorInfo(DnsTimeout.type, f"no DNS answer for {trace.resolving!r} within {limit:g} s")
    return ErrorInfo("request_timeout", f"no complete response within {limit:g} s")


def _blocked(exc: Exception, trace: AttemptTrace, limit: float) -> ErrorInfo:
    return ErrorInfo(typing.cast(EgressBlocked, exc).reason, str(exc))


def _own_error(exc: Exception, trace: AttemptTrace, limit: float) -> ErrorInfo:
    return ErrorInfo(typing.cast(FetchError, exc).type, str(exc))


def _library_error(exc: Exception, trace: AttemptTrace, limit: float) -> ErrorInfo:
    return ErrorInfo(type(exc).__name__, str(exc) or type(exc).__name__)


def _never(exc: Exception) -> bool:
    return False


def _temporary(exc: Exception) -> bool:
    return typing.cast(DnsError, exc).temporary  # SERVFAIL may pass; "no such name" will not


def _connect_failed(exc: Exception) -> bool:
    return isinstance(exc, RETRYABLE_ERRORS)  # nothing was sent: safe to send again


@dataclass(frozen=True, slots=True)
class FailureKind:
    """How a failed attempt is reported, and whether another attempt may help."""

    catches: tuple[type[Exception], ...]
    outcome: Outcome
    describe: Callable[[Exception, AttemptTrace, float], ErrorInfo]  # (exc, trace, request_timeout_s)
    retryable: Callable[[Exception], bool]


FAILURE_KINDS: tuple[FailureKind, ...] = (
    # The attempt's own ``asyncio.timeout`` (never retried: the attempt had its whole time).
    FailureKind((TimeoutError,), Outcome.TIMED_OUT, _attempt_timed_out, _never),
    FailureKind((EgressBlocked,), Outcome.BLOCKED, _blocked, _never),
    FailureKind((DnsTimeout,), Outcome.TIMED_OUT, _own_error, _never),  # the lookup had the attempt's time
    FailureKind((DnsError,), Outcome.FAILED, _own_error, _temporary),
    FailureKind((FetchError,), Outcome.FAILED, _own_error, _never),  # too large, too many redirects, ...
    FailureKind((httpx.TimeoutException,), Outcome.TIMED_OUT, _library_error, _connect_failed),
    FailureKind(
        (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError),
        Outcome.FAILED,
        _library_error,
        _connect_failed,
    ),
)
"""What a failed attempt raised, and what it is: the first row whose ``catches`` matches."""

FAILURES: tuple[type[Exception], ...] = tuple(kind for row in FAILURE_KINDS for kind in row.catches)


def classify(exc: Exception) -> FailureKind:
    """The row of ``FAILURE_KINDS`` for ``exc`` (one of ``FAILURES``)."""
    for row in FAILURE_KINDS:
        if isinstance(exc, row.catches):
            return row
    raise TypeError(f"not a fetch failure: {type(exc).__name__}")  # pragma: no cover - FAILURES rows
