"""The run's absolute deadline, computed once per invocation and passed down.

deadline = now + clamp(remaining time) - margin, on the monotonic clock the event
loop uses (``loop.time()`` is ``time.monotonic()`` for asyncio's default loop).
The margin is what the invocation needs *after* the deadline: cancelling and
awaiting the fetches still in flight, closing the client, building and serialising
the answer and flushing metrics. It grows with the number of URLs; both parts are
configurable and sized by ``make bench`` (README "Deadline").
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from fanout.config import Settings

LAMBDA_MAX_REMAINING_MS = 15 * 60 * 1000


@dataclass(frozen=True, slots=True)
class Deadline:
    at: float  # monotonic seconds
    budget_s: float
    margin_s: float
    remaining_s: float


def clamp_remaining_ms(remaining_ms: float) -> float:
    """Lambda's remaining time, clamped to [0, 15 min] (emulators have reported nonsense)."""
    if remaining_ms != remaining_ms:  # NaN
        return 0.0
    return min(max(float(remaining_ms), 0.0), float(LAMBDA_MAX_REMAINING_MS))


def margin_s(n_urls: int, settings: Settings) -> float:
    return (settings.deadline_margin_base_ms + settings.deadline_margin_per_url_ms * n_urls) / 1000


def compute_deadline(
    remaining_ms: float,
    *,
    n_urls: int,
    settings: Settings,
    cap_s: float | None = None,
    now: float | None = None,
) -> Deadline:
    """The absolute deadline for a run of ``n_urls`` with ``remaining_ms`` left.

    ``cap_s`` bounds the budget further (API Gateway's 30 s integration timeout).
    """
    start = time.monotonic() if now is None else now
    remaining = clamp_remaining_ms(remaining_ms) / 1000
    margin = margin_s(n_urls, settings)
    budget = max(0.0, remaining - margin)
    if cap_s is not None:
        budget = min(budget, max(0.0, cap_s - margin))
    return Deadline(at=start + budget, budget_s=budget, margin_s=margin, remaining_s=remaining)
