"""Reading a stamping host's requests (``devtools.stamping_target``): how close together they came.

A request reaches the server some time after its token was granted, and the first one to a host
later than the rest (resolving, connecting): spacings as the server sees them are the grants'
spacings give or take ``ARRIVAL_JITTER_S``. Generous: without a rate the same requests come within
a few milliseconds.
"""

from __future__ import annotations

from devtools.stamping_target import Stamp

ARRIVAL_JITTER_S = 0.15


def most_in_any_window(stamps: list[Stamp], window_s: float) -> int:
    """The most requests that came within any ``window_s`` (from one request's arrival on)."""
    times = sorted(s.at for s in stamps)
    return max(sum(1 for t in times[i:] if t - start < window_s) for i, start in enumerate(times))
