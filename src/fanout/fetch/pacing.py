"""How fast the fetcher may send to each host: a request rate, and the pauses hosts ask for.

A host is the origin the per-host concurrency cap is keyed by (``core.urls.host_key``). Every
request of a run, first attempt, retry or redirect hop, takes its host's turn here before it
is sent, so a host sees the rate it was given whatever the requests are.

- **Rate** (``per_host_rps``, off by default): a token bucket written as GCRA (one
  "theoretical arrival time" per host, no timer), holding at most ``burst`` tokens. A turn is
  reserved when asked for, so concurrent requests to a host queue up in order.
- **Pause**: a 429 or 503 with ``Retry-After`` stops the whole host until then, not only the
  URL that was told (every other URL of the host would keep hammering it otherwise). A turn
  reserved before the pause is checked again when it comes: nothing goes out during a pause.
- **Slowing down**: with a rate set, a 429 (or a 503 with ``Retry-After``) halves the host's
  rate; each later good answer gives back a twentieth of the rate it was given (AIMD, as TCP
  does: quick to back off, slow to press again).
- **Deadline**: a turn that would come after ``not_after`` is not taken (``HostPaused``): a
  request that cannot be sent in time is never sent early instead.

Without a rate and before any pause, a turn is one dictionary lookup: no host is tracked.
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from fanout.errors import FetchError

SLOWEST_SHARE = 1 / 32
"""A host's rate is never halved below this share of the rate it was given."""
PAUSING_STATUS = frozenset({429, 503})  # with ``Retry-After``: the host asks for a pause
RECOVERY_SHARE = 1 / 20
"""What each good answer gives back of a slowed host's rate, as a share of its given rate."""
TURN_SLACK_S = 0.001
"""A turn this close is due: uvloop's clock and timers count whole milliseconds (a timer for a turn
may fire up to half of one early), and a job woken for its turn must not wait for it again."""


class HostPaused(FetchError):
    """The host's next turn comes too late for this run: after the deadline allows a request."""

    type = "host_paused"

    def __init__(self, ready_in_s: float, told_s: float | None) -> None:
        told = "" if told_s is None else f" (it asked for {told_s:g} s with Retry-After)"
        super().__init__(f"its host's next turn is {ready_in_s:.3f} s away, past the run's deadline{told}")
        self.told_s = told_s


@dataclass(slots=True)
class _Host:
    """One host's pace: its rate now (None: unpaced) and the one it was given, its GCRA
    arrival time, when a pause ends and the last pause it was told."""

    given_rps: float | None
    rps: float | None
    next_at: float = 0.0
    paused_until: float = 0.0
    told_s: float | None = None

    def turn(self, now: float, burst: int) -> float:
        """When the next request may go: after the pause, and within the rate's bucket."""
        at = max(now, self.paused_until)
        if self.rps is not None:
            at = max(at, self.next_at - (burst - 1) / self.rps)
        return at

    def stale(self, taken: float, now: float) -> bool:
        """A turn more than one interval past (its request waited that long for a worker): sent
        now it would bunch with the turns given since, so it is void (one token wasted: slower,
        never faster than the rate)."""
        return self.rps is not None and now - taken > 1 / self.rps + TURN_SLACK_S

    def take(self, at: float) -> None:
        if self.rps is not None:
            self.next_at = max(self.next_at, at) + 1 / self.rps


class Pacer:
    """The pace of every host of one run (not shared between runs: each has its own loop)."""

    def __init__(
        self,
        rps: float | None = None,
        *,
        burst: int = 1,
        rps_by_host: Mapping[Hashable, float] | None = None,
    ) -> None:
        if burst < 1:
            raise ValueError(f"burst must be >= 1, got {burst}")
        self._rps = rps
        self._burst = burst
        self._hosts: dict[Hashable, _Host] = {}
        for key, rate in (rps_by_host or {}).items():
            self._hosts[key] = _Host(rate, rate)
        self._loop: asyncio.AbstractEventLoop | None = None  # the running one, on first use
        self.paced = rps is not None or bool(self._hosts)
        """Whether any host has a rate (the run's own or an entry's)."""

    @property
    def idle(self) -> bool:
        """No host has a rate or was ever paused: no request has a turn to wait for."""
        return self._rps is None and not self._hosts

    def _host(self, key: Hashable) -> _Host:
        host = self._hosts.get(key)
        if host is None:
            host = self._hosts[key] = _Host(self._rps, self._rps)
        return host

    def _now(self) -> float:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        return self._loop.time()

    def reserve(self, key: Hashable, not_after: float) -> float:
        """Take ``key``'s next turn: the loop time it comes (now, or later). ``HostPaused`` when
        that would be after ``not_after`` (nothing taken then)."""
        host = self._hosts.get(key) or self._host(key)
        now = self._now()
        at = host.turn(now, self._burst)
        if at > not_after:
            raise HostPaused(at - now, host.told_s if host.paused_until > now else None)
        host.take(at)
        return at

    def hold(self, key: Hashable, not_after: float, taken: float | None = None) -> float | None:
        """The turn a request holds at ``key``: None when it may go now; else the loop time it
        comes, reserved. ``taken`` is the turn it holds already, kept unless the host was paused
        since or it is stale (``_Host.stale``). ``HostPaused`` when the turn would come after
        ``not_after``. For a caller that waits for the turn elsewhere (the engine parks the job)."""
        if taken is None and self._rps is None and key not in self._hosts:
            return None  # never paused, no rate: nothing to wait for
        now = self._now()
        if taken is None:
            at = self.reserve(key, not_after)
        else:
            host = self._hosts[key]
            renew = host.paused_until > now or host.stale(taken, now)
            at = self.reserve(key, not_after) if renew else taken
        if at <= now + TURN_SLACK_S and self._hosts[key].paused_until <= now:
            return None
        return at

    async def turn(self, key: Hashable, not_after: float) -> bool:
        """Wait for ``key``'s turn in place (a redirect hop, its attempt under way); ``True`` when
        that took waiting. ``HostPaused`` (without waiting) when it would come after ``not_after``."""
        if self._rps is None and key not in self._hosts:
            return False  # never paused, no rate: nothing to wait for
        at = self.reserve(key, not_after)
        waited = False
        while True:
            now = self._now()
            if at > now:
                await asyncio.sleep(at - now)
                waited = True
                now = self._now()
            if self._hosts[key].paused_until <= now:
                return waited
            at = self.reserve(key, not_after)  # paused since the turn was taken: after the pause

    async def waited_turn(self, key: Hashable, not_after: float) -> float:
        """``turn``, and the seconds it waited (0.0: none)."""
        if self.idle:
            return 0.0
        loop = asyncio.get_running_loop()
        began = loop.time()
        if not await self.turn(key, not_after):
            return 0.0
        return loop.time() - began

    def heard(self, key: Hashable, status: int, retry_after_s: float | None) -> None:
        """What the host answered: a pause asked for (429/503 with ``Retry-After``), a slow-down
        (429 without), or a good answer."""
        if status in PAUSING_STATUS and retry_after_s is not None:
            self.told_to_wait(key, retry_after_s)
        elif status == 429:
            self.slow_down(key)
        else:
            self.answered(key)

    def told_to_wait(self, key: Hashable, seconds: float) -> None:
        """The host answered 429/503 with ``Retry-After: seconds``: pause it; slow it if paced."""
        host = self._host(key)
        until = self._now() + seconds
        host.paused_until = max(host.paused_until, until)
        host.told_s = seconds
        self.slow_down(key)

    def slow_down(self, key: Hashable) -> None:
        """Halve a paced host's rate (not below ``SLOWEST_SHARE`` of its given one)."""
        host = self._host(key)
        if host.rps is not None and host.given_rps is not None:
            host.rps = max(host.rps / 2, host.given_rps * SLOWEST_SHARE)

    def answered(self, key: Hashable) -> None:
        """A good answer from the host: a slowed rate recovers a step."""
        host = self._hosts.get(key)
        if (
            host is not None
            and host.rps is not None
            and host.given_rps is not None
            and host.rps < host.given_rps
        ):
            host.rps = min(host.given_rps, host.rps + host.given_rps * RECOVERY_SHARE)

    def rps_of(self, key: Hashable) -> float | None:
        """The host's rate now (None: unpaced)."""
        host = self._hosts.get(key)
        return self._rps if host is None else host.rps


def retry_after_s(headers: Mapping[str, str]) -> float | None:
    """``Retry-After`` in seconds (delta or HTTP date), or ``None``."""
    value = headers.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
