"""Sharded runs, the pure part: what a shard leaves behind, leftovers, the merge.

- **Leftovers.** When a run's deadline cuts it, its ``not_started`` entries, and its
  ``cancelled`` entries whose method may be repeated (idempotent, or ``"retry": true``), are
  its leftovers: continued as the next generation, or past ``shard_max_generations`` given
  up (kept ``cancelled``/``not_started``, with ``error.type`` ``given_up``).
- **Held.** A leftover cut while in flight carries how long it was in flight (``held``). A
  later generation that cannot give it at least twice that (``HELD_GAIN``: the time left for
  fetching when it starts, against what it had) gives it up at once, unfetched: a URL that
  hangs past every shard's budget then costs about one shard's window, not one per generation.
- **Merge.** Every shard's final results carry their input index; the run's results are
  their union in input order, each index exactly once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import msgspec

from fanout.core.documents import RunDocument
from fanout.core.model import encode
from fanout.core.requests import UrlEntry
from fanout.core.results import GIVEN_UP, ErrorInfo, Outcome, Summary, UrlResult
from fanout.errors import MergeError
from fanout.runs.shards.plan import MESSAGE_VERSION, RunHeader, ShardMessage, continuation_id

HELD_GAIN = 2.0
"""A held leftover is fetched again only when the time left for it is at least this times what it
had (as retry timeouts double): a generation that cannot even double the attempt that was cut,
on a URL that is still unanswered after it, is not worth its invocation."""


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
    held: tuple[tuple[int, float], ...] = ()  # leftovers cut in flight: ms they had

    def payload(self) -> dict[str, Any]:
        """What is stored: plain data holding the results as documents (for ``model.encode``)."""
        return {
            "v": MESSAGE_VERSION,
            "shard": self.shard,
            "generation": self.generation,
            "results": [[i, r] for i, r in self.results],
            "leftovers": [[i, e] for i, e in self.leftovers],
            "continuation": self.continuation,
            "given_up": self.given_up,
            "held": [[i, ms] for i, ms in self.held],
        }

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = msgspec.json.decode(encode(self.payload()))
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ShardOutcome:
        return cls(
            shard=data["shard"],
            generation=data["generation"],
            results=tuple((i, UrlResult.from_json(r)) for i, r in data["results"]),
            leftovers=tuple((i, e) for i, e in data["leftovers"]),
            continuation=data["continuation"],
            given_up=data["given_up"],
            held=tuple((i, float(ms)) for i, ms in data.get("held", ())),
        )

    def counts(self) -> dict[str, int]:
        """Final outcomes of this shard, every outcome present."""
        return Summary.of(r.outcome for _, r in self.results).outcome_counts()


def held_ms(result: UrlResult) -> float | None:
    """How long a leftover cut in flight had (None for one never started)."""
    if result.outcome is Outcome.CANCELLED and result.elapsed_ms is not None:
        return result.elapsed_ms
    return None


def shard_outcome(
    message: ShardMessage,
    entries: Sequence[UrlEntry],
    document: RunDocument | None,
    *,
    max_generations: int,
    gave_up: Sequence[tuple[int, UrlResult]] = (),
) -> ShardOutcome:
    """Split a shard's run document into final results and leftovers (continued or given up).

    ``entries`` are the message's entries, validated, and ``document`` their run (None when
    there was nothing to fetch); ``gave_up`` are results of entries given up before fetching.
    """
    shard, generation, indexed = message.shard, message.generation, message.entries
    cut = set(leftover_indexes(document, entries)) if document is not None else set()
    continue_them = generation < max_generations
    results: list[tuple[int, UrlResult]] = list(gave_up)
    leftovers: list[tuple[int, Any]] = []
    held: list[tuple[int, float]] = []
    given = len(gave_up)
    fetched = document.results or () if document is not None else ()
    for position, ((index, encoded), result) in enumerate(zip(indexed, fetched, strict=True)):
        if position not in cut:
            results.append((index, result))
        elif continue_them:
            leftovers.append((index, encoded))
            had = held_ms(result)
            if had is not None:
                held.append((index, had))
        else:
            results.append((index, result.given_up(generation)))
            given += 1
    return ShardOutcome(
        shard=shard,
        generation=generation,
        results=tuple(sorted(results, key=lambda r: r[0])),
        leftovers=tuple(leftovers),
        continuation=continuation_id(shard, generation + 1) if leftovers else None,
        given_up=given,
        held=tuple(held),
    )


def continuation(header: RunHeader, outcome: ShardOutcome) -> ShardMessage | None:
    """The message that continues ``outcome``'s leftovers, or None."""
    if outcome.continuation is None:
        return None
    return ShardMessage(header, outcome.continuation, outcome.generation + 1, outcome.leftovers, outcome.held)


def give_up_held(
    message: ShardMessage, entries: Sequence[UrlEntry], can_give_ms: float
) -> tuple[ShardMessage, list[UrlEntry], list[tuple[int, UrlResult]]]:
    """Give up the entries that had, when last cut, more than half of what this generation can
    give them (``can_give_ms``: the time left for fetching); the message and entries left to fetch."""
    held = message.held_ms()
    keep: list[tuple[tuple[int, Any], UrlEntry]] = []
    gave_up: list[tuple[int, UrlResult]] = []
    for (index, encoded), entry in zip(message.entries, entries, strict=True):
        had = held.get(index)
        if had is None or can_give_ms >= had * HELD_GAIN:
            keep.append(((index, encoded), entry))
            continue
        text = (
            f"in flight for {had / 1000:.1f} s when generation {message.generation - 1} was cut; "
            f"generation {message.generation} could give it at most {can_give_ms / 1000:.1f} s: "
            "not fetched again"
        )
        result = UrlResult(entry.url, Outcome.CANCELLED, None, 1, had, None, ErrorInfo(GIVEN_UP, text))
        gave_up.append((index, result))
    if not gave_up:
        return message, list(entries), []
    kept = tuple(e for e, _ in keep)
    left = replace(message, entries=kept, held=tuple(h for h in message.held if h[0] in {i for i, _ in kept}))
    return left, [u for _, u in keep], gave_up


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
