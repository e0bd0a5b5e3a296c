"""One URL of a fan-out as the engine runs it: its job, its progress and its host, in one object.

Why one object: a run holds one of these for each of up to 10,000 URLs (50,000 and more in a
shard-sized inline run) from start to answer. As partials, closures and a ``Job`` per URL they
cost about four times the memory (docs/benchmarks.md, the memory rows); with ``__slots__`` and
the progress as its base class, a URL's state is one object. Host keys are shared within a run:
10,000 URLs of one host hold one key.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Hashable
from typing import Any

from fanout.core.engine import Later
from fanout.core.requests import UrlEntry
from fanout.core.results import ErrorInfo, Outcome
from fanout.core.urls import host_key
from fanout.fetch.fetcher import Fetcher
from fanout.fetch.policy import FetchProgress, FetchResult
from fanout.observability.tracing import WAITING, RunTrace
from fanout.runs.outgoing import Sendable

OnDone = Callable[[Outcome], None]
"""Told each URL's outcome as it is known (a command line's progress bar); not for cancellations."""


class HostKeys:
    """The host keys of one run, each made once (``core.urls.host_key``).

    Looked up by the URL's head (up to the first ``/`` after ``://``, or all of it), which holds
    its scheme and authority: URLs of one head share their key, so a run of one host parses one
    URL, not each (a URL parse per entry was a tenth of the service's own CPU per request).
    """

    def __init__(self) -> None:
        self._keys: dict[Hashable, Hashable] = {}
        self._by_head: dict[str, Hashable] = {}

    def of(self, url: str) -> Hashable:
        slash = url.find("/", url.find("://") + 3) if "://" in url else -1
        head = url if slash < 0 else url[:slash]
        try:
            return self._by_head[head]
        except KeyError:
            key = host_key(url)
            key = self._by_head[head] = self._keys.setdefault(key, key)
            return key


class UrlJob(FetchProgress):
    """Fetch ``sent`` (the entry as sent: merged headers, secrets resolved, or why it cannot be);
    ``entry`` is the entry as written, the only one traced. The engine's job (``run``, ``key``,
    ``ready_at``) and the fetcher's progress at once."""

    __slots__ = ("by", "entry", "fetcher", "key", "on_done", "sent", "trace", "webhook_id")

    def __init__(
        self,
        fetcher: Fetcher,
        entry: UrlEntry,
        sent: Sendable,
        key: Hashable,
        by: float,
        trace: RunTrace | None,
        on_done: OnDone | None,
        webhook_id: str | None = None,
    ) -> None:
        super().__init__()
        self.fetcher, self.entry, self.sent, self.key = fetcher, entry, sent, key
        self.by, self.trace, self.on_done, self.webhook_id = by, trace, on_done, webhook_id

    def ready_at(self) -> float | None:
        """The first turn at its host (the entry as written: the host it is keyed by)."""
        if isinstance(self.sent, ErrorInfo):
            return None
        return self.fetcher.first_turn(self.key, self.by, self)

    def run(self) -> Coroutine[Any, Any, FetchResult | Later]:
        """The fetch itself when untraced (a coroutine frame less per URL, at the cut too); run
        again after a ``Later`` (its retry waiting for its host's turn), from where it was."""
        return self._fetch() if self.trace is None else self._traced(self.trace)

    async def _traced(self, trace: RunTrace) -> FetchResult | Later:
        async with trace.url(self.entry.url, self.entry.method) as on_result:
            result = await self._fetch()
            if isinstance(result, Later):
                on_result(WAITING, None)
            else:
                on_result(result.outcome.value, result.status_code)
            return result

    async def _fetch(self) -> FetchResult | Later:
        sent = self.sent
        if isinstance(sent, ErrorInfo):
            result = FetchResult(Outcome.FAILED, error=sent)
        else:
            answer = await self.fetcher.step(
                sent, deadline=self.by, progress=self, host=self.key, webhook_id=self.webhook_id
            )
            if isinstance(answer, Later):
                return answer
            result = answer
        if self.on_done is not None:
            self.on_done(result.outcome)
        return result
