"""The service's own exceptions, in one hierarchy (after httpx's ``_exceptions``).

::

    FanoutError                  base of everything the service raises on purpose
    ├── RequestInvalid           the request breaks the contract (-> 4xx / validation_error)
    │   └── UnsupportedEvent     a Lambda event that is none of the ways in
    └── FetchError               one URL has no usable response (-> that URL's ``error``)
        ├── ResponseTooLarge     body over ``max_body_bytes``          type "response_too_large"
        ├── RedirectLimit        more than ``max_redirects`` hops       type "too_many_redirects"
        └── EgressBlocked        refused by the egress policy           outcome "blocked"

Transport failures are httpx's own exceptions (``httpx.ConnectError``,
``httpx.ReadError``, ...); the fetcher reports them by class name. ``asyncio.CancelledError``
is never caught as a failure anywhere.
"""

from __future__ import annotations

from typing import Any


class FanoutError(Exception):
    """Base class of the service's deliberate errors."""


MAX_LISTED_PROBLEMS = 100
"""Field-level problems an error lists at most; ``total`` counts them all. However bad a
request, its error stays small: 10,000 entries with 14 problems each would otherwise make
an error larger than Lambda's 6 MB response limit."""


class RequestInvalid(FanoutError):
    """The request does not satisfy the contract; ``errors`` lists the first problems
    (at most ``MAX_LISTED_PROBLEMS``), ``total`` says how many there are."""

    def __init__(
        self, detail: str, errors: list[dict[str, Any]] | None = None, *, total: int | None = None
    ) -> None:
        super().__init__(detail)
        listed = errors or []
        self.detail = detail
        self.errors = listed[:MAX_LISTED_PROBLEMS]
        self.total = len(listed) if total is None else total


class UnsupportedEvent(RequestInvalid):
    """A Lambda event that is not a direct request, an API request or a schedule."""


class FetchError(FanoutError):
    """One URL failed in a way the service itself detected; ``type`` is stable."""

    type = "fetch_error"


class ResponseTooLarge(FetchError):
    type = "response_too_large"


class RedirectLimit(FetchError):
    type = "too_many_redirects"


class EgressBlocked(FetchError):
    """The egress policy refused the destination; ``reason`` is machine-readable."""

    type = "egress_blocked"

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
