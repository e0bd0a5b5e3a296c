"""Sharded runs, the pure part: what a shard leaves behind, leftovers, the merge.

- **Leftovers.** When a run's deadline cuts it, its ``not_started`` entries, and its
  ``cancelled`` entries whose method may be repeated (idempotent, or ``"retry": true``), are
  its leftovers: continued as the next generation, or past ``shard_max_generations`` given
  up (kept ``cancelled``/``not_started``, with ``error.type`` ``given_up``).
- **Merge.** Every shard's final results carry their input index; the run's results are
  their union in input order, each index exactly once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fanout.core.documents import RunDocument
from fanout.core.requests import UrlEntry
from fanout.core.results import Outcome, Summary, UrlResult
from fanout.errors import MergeError
from fanout.runs.shards.plan import MESSAGE_VERSION, RunHeader, ShardMessage, continuation_id


def is_leftover(result: UrlResult, entry: UrlEntry) -> bool:
    """Cut by the deadline and safe to run again: never started, or cancelled and repeatable."""
    return result.outcome is Outcome.NOT_STARTED or (result.outcome is Outcome.CANCELLED and entry.may_retry)


def leftover_indexes(document: RunDocument, entries: Sequence[UrlEntry]) -> list[int]:
    """Positions of a run's leftovers: none unless its deadline (not ``on_error``) stopped it."""
    if not document.deadline_reached or document.stopped_on_error:
        return []
    results = document.results or ()
    return [i for i, (r, e) in enumerate(zip(results, entries, strict=True)) if is_leftover(r, e)]


@dataclass(frozen=True, slots=True)
class ShardOutcome:
    """What a processed shard leaves behind (its S3 object): final results and leftovers."""

    shard: str
    generation: int
    results: tuple[tuple[int, UrlResult], ...]
    leftovers: tuple[tuple[int, Any], ...]
    continuation: str | None
    given_up: int

    def to_json(self) -> dict[str, Any]:
        return {
            "v": MESSAGE_VERSION,
            "shard": self.shard,
            "generation": self.generation,
            "results": [[i, r.to_json()] for i, r in self.results],
            "leftovers": [[i, e] for i, e in self.leftovers],
            "continuation": self.continuation,
            "given_up": self.given_up,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ShardOutcome:
        return cls(
            shard=data["shard"],
            generation=data["generation"],
            results=tuple((i, UrlResult.from_json(r)) for i, r in data["results"]),
            leftovers=tuple((i, e) for i, e in data["leftovers"]),
            continuation=data["continuation"],
            given_up=data["given_up"],
        )

    def counts(self) -> dict[str, int]:
        """Final outcomes of this shard, every outcome present."""
        return Summary.of(r.outcome for _, r in self.results).outcome_counts()


def shard_outcome(
    message: ShardMessage, entries: Sequence[UrlEntry], document: RunDocument, *, max_generations: int
) -> ShardOutcome:
    """Split a shard's run document into final results and leftovers (continued or given up).

    ``entries`` are the message's entries, validated; ``document`` is the shard's run.
    """
    shard, generation, indexed = message.shard, message.generation, message.entries
    cut = set(leftover_indexes(document, entries))
    continue_them = generation < max_generations
    results: list[tuple[int, UrlResult]] = []
    leftovers: list[tuple[int, Any]] = []
    gave_up = 0
    for position, ((index, encoded), result) in enumerate(zip(indexed, document.results or (), strict=True)):
        if position not in cut:
            results.append((index, result))
        elif continue_them:
            leftovers.append((index, encoded))
        else:
            results.append((index, result.given_up(generation)))
            gave_up += 1
    return ShardOutcome(
        shard=shard,
        generation=generation,
        results=tuple(results),
        leftovers=tuple(leftovers),
        continuation=continuation_id(shard, generation + 1) if leftovers else None,
        given_up=gave_up,
    )


def continuation(header: RunHeader, outcome: ShardOutcome) -> ShardMessage | None:
    """The message that continues ``outcome``'s leftovers, or None."""
    if outcome.continuation is None:
        return None
    return ShardMessage(header, outcome.continuation, outcome.generation + 1, outcome.leftovers)


def merge(total: int, outcomes: Iterable[ShardOutcome]) -> list[UrlResult]:
    """The run's results in input order, from every shard's final results: each index once."""
    slots: list[UrlResult | None] = [None] * total
    for outcome in outcomes:
        for index, result in outcome.results:
            if not 0 <= index < total:
                raise MergeError(f"shard {outcome.shard} has a result for index {index} of {total}")
            if slots[index] is not None:
                raise MergeError(f"index {index} has two results (shard {outcome.shard})")
            slots[index] = result
    missing = [i for i, r in enumerate(slots) if r is None]
    if missing:
        raise MergeError(f"{len(missing)} index(es) have no result, first {missing[:5]}")
    return [r for r in slots if r is not None]


@dataclass(frozen=True, slots=True)
class ShardReport:
    """What processing one shard message did: ``status`` is processed, recovered, duplicate or
    skipped; its ``outcome`` (when it has one) and, when it fetched, its run's ``document``."""

    status: str
    outcome: ShardOutcome | None = None
    document: RunDocument | None = None
