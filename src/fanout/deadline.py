"""The run's deadlines, computed once per invocation and passed down.

Two instants, on the monotonic clock the event loop uses (``loop.time()`` is
``time.monotonic()`` for asyncio's default loop)::

    Lambda deadline = invocation start + clamp(remaining time)
    return deadline = Lambda deadline - margin        margin  = base + per URL x n_urls
    fetch deadline  = return deadline - cleanup       cleanup = per in-flight fetch x in_flight

- The **return deadline** (``Deadline.return_at``) is when the handler returns its
  answer. The **margin** is what comes after that and before Lambda's timeout: the
  handler's decorators flush the metrics and logs, the runtime serialises and sends the
  answer (which grows with the URLs), and whatever else the runtime does.
- The **fetch deadline** (``Deadline.at``) is when the work inside the invocation's
  event loop must end: the engine's deadline (``app`` cuts persistence's slices from its
  end). The **cleanup** is what happens between the two: cancelling and awaiting every
  fetch still in flight, closing its connection, building the document, closing the
  loop, the run's log lines. It grows with the fetches that can be in flight when the
  deadline comes: ``in_flight`` = min(URLs, the request's ``concurrency``), by default
  min(URLs, ``FANOUT_MAX_CONCURRENCY``), which is never less. Its per-fetch figure is
  measured by ``make bench`` (deadline scenario: ~0.1 ms of CPU per fetch in flight on
  the 2-core bench machine) and set with headroom.

A run that ends at its fetch deadline thus returns by the return deadline, and the
invocation ends before Lambda's timeout by at least the margin. ``cap_s`` (API
Gateway's 30 s integration timeout) bounds the return deadline the same way.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from fanout.config import Settings

LAMBDA_MAX_REMAINING_MS = 15 * 60 * 1000


@dataclass(frozen=True, slots=True)
class Deadline:
    at: float  # the fetch deadline, monotonic seconds: the engine and persistence end here
    budget_s: float  # from the invocation's start to ``at``
    margin_s: float  # from ``return_at`` to the Lambda deadline
    remaining_s: float  # from the invocation's start to the Lambda deadline
    cleanup_s: float = 0.0  # from ``at`` to ``return_at`` (less when the budget ran out)
    return_at: float = 0.0  # the return deadline, monotonic seconds


def clamp_remaining_ms(remaining_ms: float) -> float:
    """Lambda's remaining time, clamped to [0, 15 min] (emulators have reported nonsense)."""
    if remaining_ms != remaining_ms:  # NaN
        return 0.0
    return min(max(float(remaining_ms), 0.0), float(LAMBDA_MAX_REMAINING_MS))


def margin_s(n_urls: int, settings: Settings) -> float:
    """From the return deadline to Lambda's: base + per-URL allowance."""
    return (settings.deadline_margin_base_ms + settings.deadline_margin_per_url_ms * n_urls) / 1000


def cleanup_s(in_flight: int, settings: Settings) -> float:
    """From the fetch deadline to the return deadline, for ``in_flight`` fetches in flight."""
    return settings.deadline_cleanup_per_url_ms * max(0, in_flight) / 1000


def compute_deadline(
    remaining_ms: float,
    *,
    n_urls: int,
    settings: Settings,
    cap_s: float | None = None,
    now: float | None = None,
    in_flight: int | None = None,
) -> Deadline:
    """The deadlines of a run of ``n_urls`` with ``remaining_ms`` left.

    ``in_flight`` is how many fetches can be in flight at once (min(URLs, the request's
    ``concurrency``)); by default min(``n_urls``, ``settings.max_concurrency``), the
    most any request can have. ``cap_s`` bounds the return deadline further (API
    Gateway's 30 s integration timeout). ``now`` is the invocation's start.
    """
    start = time.monotonic() if now is None else now
    remaining = clamp_remaining_ms(remaining_ms) / 1000
    margin = margin_s(n_urls, settings)
    if in_flight is None:
        in_flight = min(n_urls, settings.max_concurrency)
    return_budget = max(0.0, remaining - margin)
    if cap_s is not None:
        return_budget = min(return_budget, max(0.0, cap_s - margin))
    budget = max(0.0, return_budget - cleanup_s(in_flight, settings))
    return Deadline(
        at=start + budget,
        budget_s=budget,
        margin_s=margin,
        remaining_s=remaining,
        cleanup_s=return_budget - budget,
        return_at=start + return_budget,
    )
