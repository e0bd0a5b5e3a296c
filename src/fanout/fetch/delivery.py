"""Delivering one small POST (an alert to a webhook, Slack or PagerDuty) through the egress guard:
bounded attempts, exponential backoff with full jitter, ``Retry-After`` honoured, all before the
caller's deadline (docs/monitors.md#alerts).

Its client is the run's kind (``build_client``: the egress policy of the settings, never
unguarded), redirects not followed (a receiver that moves must be reconfigured, not chased). A URL
the guard refuses is never connected to: it fails at once, ``blocked``. A 410 says the receiver
is gone for good: no retry, ``gone``. Connection errors, 408, 429 and 5xx are retried; any other
status is final. Each attempt is signed anew (``sign``: its own timestamp, the same id).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType

import httpx

from fanout.config import Settings
from fanout.errors import EgressBlocked
from fanout.fetch.client import FanoutClient, build_client
from fanout.fetch.egress.policy import policy_for
from fanout.fetch.pacing import retry_after_s

MAX_ATTEMPTS = 4
ATTEMPT_TIMEOUT_S = 10.0
BACKOFF_BASE_S = 0.25
BACKOFF_CAP_S = 4.0
RETRYABLE = frozenset({408, 429, 500, 502, 503, 504})
CONCURRENCY = 16

Signer = Callable[[bytes], Mapping[str, str]]
"""The signature headers of one attempt over the exact body it sends."""


@dataclass(frozen=True, slots=True)
class Delivered:
    """How one delivery ended: ``ok`` (2xx), else why not (``error``), ``gone`` (410)."""

    ok: bool
    status: int | None
    attempts: int
    error: str | None = None
    gone: bool = False
    blocked: bool = False


class Deliveries:
    """One client for the alerts of a run: ``async with Deliveries(settings) as d``."""

    def __init__(self, settings: Settings, *, rng: random.Random | None = None) -> None:
        self._client: FanoutClient = build_client(
            transport=settings.http_transport,
            concurrency=CONCURRENCY,
            per_host_concurrency=CONCURRENCY,
            follow_redirects=False,
            max_redirects=0,
            max_header_bytes=settings.max_header_bytes,
            user_agent=settings.user_agent,
            egress=policy_for(settings),
            dns_budget_s=min(ATTEMPT_TIMEOUT_S, settings.default_request_timeout_s),
            ca_bundle=settings.ca_bundle,
        )
        self._rng = rng or random.Random()

    async def __aenter__(self) -> Deliveries:
        await self._client.__aenter__()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._client.__aexit__(exc_type, exc, tb)

    async def post(self, url: str, body: bytes, *, before: float, sign: Signer | None = None) -> Delivered:
        """POST ``body`` (JSON) to ``url`` until it is taken, refused for good, or ``before`` (loop time)."""
        loop = asyncio.get_running_loop()
        status: int | None = None
        error = "no time left to send"
        for attempt in range(1, MAX_ATTEMPTS + 1):
            left = before - loop.time()
            if left <= 0:
                return Delivered(False, status, attempt - 1, error)
            headers = {"content-type": "application/json", **(sign(body) if sign else {})}
            retry_after: float | None = None
            try:
                async with asyncio.timeout(min(ATTEMPT_TIMEOUT_S, left)):
                    response = await self._client.post(url, content=body, headers=headers)
            except EgressBlocked as exc:
                return Delivered(False, None, attempt, f"blocked: {exc.reason}", blocked=True)
            except (httpx.HTTPError, TimeoutError) as exc:
                error = f"{type(exc).__name__}: {exc}"[:200]
            else:
                status = response.status_code
                if 200 <= status < 300:
                    return Delivered(True, status, attempt)
                if status == 410:
                    return Delivered(False, status, attempt, "gone (410)", gone=True)
                error = f"HTTP {status}"
                if status not in RETRYABLE:
                    return Delivered(False, status, attempt, error)
                retry_after = retry_after_s({k.lower(): v for k, v in response.headers.items()})
            wait = self._backoff(attempt, retry_after)
            if attempt == MAX_ATTEMPTS or loop.time() + wait >= before:
                return Delivered(False, status, attempt, error)
            await asyncio.sleep(wait)
        return Delivered(False, status, MAX_ATTEMPTS, error)

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return retry_after
        return self._rng.uniform(0, min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** (attempt - 1)))
