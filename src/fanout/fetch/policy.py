"""What one URL's fetch is given and gives back: the run's fetch policy, a fetch's progress as it
goes (read back when the fetch is cancelled), and its result."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from fanout.core.facts import Details
from fanout.core.results import ErrorInfo, Outcome
from fanout.fetch.pacing import HostPaused

if TYPE_CHECKING:
    from fanout.fetch.trace import AttemptTrace
    from fanout.fetch.verdict import FinalResponse

RETRYABLE_STATUS = frozenset({429, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class FetchPolicy:
    """Per-run fetch settings (from the request's options and ``config``)."""

    request_timeout_s: float
    retries: int
    follow_redirects: bool
    max_redirects: int
    max_body_bytes: int
    backoff_base_s: float = 0.1
    backoff_cap_s: float = 5.0
    min_attempt_s: float = 0.2
    capture_headers: tuple[str, ...] = ()
    inspect_bytes: int = 65_536


@dataclass(slots=True)
class FetchProgress:
    """Updated as the fetch goes, so a cancelled fetch still reports its attempts; and what a
    fetch that waits without a worker (``Fetcher.step`` answered ``Later``) goes on from."""

    attempts: int = 0
    throttled: int = 0  # times a request of this URL waited for its host's turn
    retry_after_s: float | None = None  # the last ``Retry-After`` it was told
    turn: float | HostPaused | None = None  # its next attempt's turn, taken before it runs
    waited_for: int = 0  # the attempt whose wait for its turn ``throttled`` has counted
    last: tuple[FinalResponse, AttemptTrace] | FetchResult | None = None  # the attempt before


@dataclass(frozen=True, slots=True)
class FetchResult:
    outcome: Outcome
    status_code: int | None = None
    bytes: int | None = None
    error: ErrorInfo | None = None
    details: Details | None = None
