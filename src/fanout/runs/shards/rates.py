"""A paced sharded run's shards share each host's rate: the launch tells them how many of them
may run at once (``rate_shared_by`` in their messages), and each paces a host at that share of its
``per_host_rps`` (``fetch_run.pacer_for``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from fanout.core.requests import FanoutRequest, UrlEntry
from fanout.runs.shards.plan import ShardMessage


def paced(request: FanoutRequest) -> bool:
    """Whether the run asks for a rate at some host (``options.per_host_rps``, or an entry's own)."""
    if request.options.per_host_rps is not None:
        return True
    return any(isinstance(u, UrlEntry) and u.per_host_rps is not None for u in request.urls)


def rate_shared(messages: Sequence[ShardMessage], max_concurrency: int) -> list[ShardMessage]:
    """A paced run's first shards, each told among how many shards a host's rate is shared: as
    many as may run at once (the queue's ``MaximumConcurrency``, at most the shards there are), so
    a host never sees more than its rate however the queue runs them. Continuations keep it."""
    if not messages:
        return []
    shared_by = min(len(messages), max_concurrency)
    header = replace(messages[0].header, rate_shared_by=shared_by)
    return [replace(m, header=header) for m in messages]
