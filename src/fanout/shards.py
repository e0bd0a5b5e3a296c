"""Sharded runs, the pure part: which runs are sharded, shard messages, leftovers, the merge.

Nothing here touches AWS (``shard_runs`` does): it is the arithmetic of README "Scaling
out: sharded runs", kept small enough to test without a queue.

- **Mode.** A request's ``mode`` is ``auto`` (sharded above the threshold of its way in:
  ``shard_threshold_api`` for the HTTP API, ``shard_threshold`` otherwise), ``inline``
  (never) or ``sharded`` (always).
- **Messages.** A shard is one SQS message, a compact JSON object:
  ``{"v": 1, "run_id", "shard", "generation", "source", "started_at", "options",
  "entries": [[index, entry], ...]}``, where ``index`` is the entry's position in the
  run's input and ``entry`` is what ``urls`` accepts (a bare URL string when it is a plain
  GET). Shards hold at most ``shard_size`` entries and at most ``shard_message_max_bytes``
  bytes of JSON (ASCII: bytes = characters); an entry that cannot fit in a message on its
  own is refused before anything runs.
- **Shard ids.** ``NNNNN-gG``: the shard's number in the run and its generation. A
  shard's continuation is the same number at the next generation, so a re-sent
  continuation has the same id as the first one and is counted once.
- **Leftovers.** When a shard's deadline cuts it, its ``not_started`` entries, and its
  ``cancelled`` entries whose method may be repeated (idempotent, or ``"retry": true``),
  are its leftovers: continued as the next generation, or past ``shard_max_generations``
  given up (kept ``cancelled``/``not_started``, with ``error.type`` ``given_up``).
- **Merge.** Every shard's final results carry their input index; the run's results are
  their union in input order, each index exactly once.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from fanout.config import SQS_MAX_MESSAGE_BYTES, Settings
from fanout.contract import FanoutRequest, Outcome, Source, UrlEntry, summarize_outcomes

MESSAGE_VERSION = 1
SQS_MAX_BATCH_ENTRIES = 10
INLINE_SHARD = "inline"
"""The pseudo-shard of an inline run carried over: its final results, counted at the start."""
GIVEN_UP = "given_up"

_SHARD_ID = re.compile(r"^(?:\d{5}-g\d{1,3}|inline)$")
_RUN_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_SOURCES = ("direct", "api", "schedule")

RunMode = Literal["inline", "sharded"]


class ShardInvalid(ValueError):
    """A message that is not a shard of ours: it fails every delivery and ends in the DLQ."""


class MergeError(RuntimeError):
    """The shards' results do not cover the run's input exactly once (a bug, never expected)."""


# -- mode ------------------------------------------------------------------------------


def threshold(source: Source, settings: Settings) -> int:
    return settings.shard_threshold_api if source == "api" else settings.shard_threshold


def run_mode(request: FanoutRequest, source: Source, settings: Settings, *, sharding_on: bool) -> RunMode:
    """``sharded`` or ``inline`` for a request whose URLs are known."""
    if request.mode == "sharded":
        return "sharded"
    if request.mode == "inline" or not sharding_on:
        return "inline"
    return "sharded" if len(request.urls) > threshold(source, settings) else "inline"


# -- messages --------------------------------------------------------------------------


def shard_id(number: int, generation: int) -> str:
    return f"{number:05d}-g{generation}"


def continuation_id(shard: str, generation: int) -> str:
    """The id of ``shard``'s continuation at ``generation`` (the next one)."""
    number = 0 if shard == INLINE_SHARD else int(shard.split("-g", 1)[0])
    return shard_id(number, generation)


def encode_entry(entry: UrlEntry) -> Any:
    """An entry as ``urls`` takes it, as short as possible: a plain GET is its URL."""
    dumped = entry.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    return entry.url if set(dumped) == {"url"} else dumped


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))  # ASCII: one byte per character


@dataclass(frozen=True, slots=True)
class RunHeader:
    """What every shard of a run carries besides its entries."""

    run_id: str
    source: Source
    started_at: str
    options: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ShardMessage:
    header: RunHeader
    shard: str
    generation: int
    entries: tuple[tuple[int, Any], ...]  # (input index, encoded entry)

    def body(self) -> str:
        h = self.header
        return _dumps(
            {
                "v": MESSAGE_VERSION,
                "run_id": h.run_id,
                "shard": self.shard,
                "generation": self.generation,
                "source": h.source,
                "started_at": h.started_at,
                "options": h.options,
                "entries": [[index, entry] for index, entry in self.entries],
            }
        )

    def request(self) -> FanoutRequest:
        """The shard as a request of its own (validated again: a bad entry is a poison shard)."""
        try:
            return FanoutRequest.model_validate(
                {"urls": [entry for _, entry in self.entries], "options": self.header.options}
            )
        except ValueError as exc:
            raise ShardInvalid(f"shard {self.shard} of run {self.header.run_id}: {exc}") from None


def _overhead(header: RunHeader) -> int:
    """Bytes of a message with no entries, for the longest shard id and generation."""
    return len(ShardMessage(header, "99999-g999", 999, ()).body())


def entry_bytes(index: int, encoded: Any) -> int:
    """What one entry adds to a message: ``[index,entry]`` and its comma."""
    return len(_dumps([index, encoded])) + 1


def oversized(
    header: RunHeader, entries: Sequence[UrlEntry], max_bytes: int, *, loc: str = "urls"
) -> list[dict[str, Any]]:
    """A validation error per entry too large to travel in a shard message even alone."""
    room = max_bytes - _overhead(header)
    errors = []
    for index, entry in enumerate(entries):
        size = entry_bytes(index, encode_entry(entry))
        if size > room:
            errors.append(
                {
                    "loc": f"{loc}.{index}",
                    "msg": f"this entry is {size} bytes; a shard message has room for {room}",
                    "type": "entry_too_large",
                }
            )
    return errors


def split(
    header: RunHeader,
    entries: Iterable[tuple[int, Any]],
    *,
    shard_size: int,
    max_bytes: int,
    generation: int = 0,
    first_number: int = 0,
) -> list[ShardMessage]:
    """Cut ``(index, encoded entry)`` pairs into messages of at most ``shard_size`` entries and
    ``max_bytes`` bytes, in order. Every entry must fit alone (``oversized``)."""
    overhead = _overhead(header)
    groups: list[list[tuple[int, Any]]] = [[]]
    size = overhead
    for index, encoded in entries:
        grow = entry_bytes(index, encoded)
        if overhead + grow > max_bytes:
            raise ShardInvalid(f"entry {index} does not fit in a shard message")
        if groups[-1] and (len(groups[-1]) >= shard_size or size + grow > max_bytes):
            groups.append([])
            size = overhead
        groups[-1].append((index, encoded))
        size += grow
    return [
        ShardMessage(header, shard_id(first_number + n, generation), generation, tuple(group))
        for n, group in enumerate(groups)
        if group
    ]


def batches(bodies: Sequence[str], *, max_bytes: int = SQS_MAX_MESSAGE_BYTES) -> list[list[str]]:
    """``SendMessageBatch`` calls: at most 10 messages and ``max_bytes`` in all per call."""
    calls: list[list[str]] = []
    size = 0
    for body in bodies:
        if not calls or len(calls[-1]) >= SQS_MAX_BATCH_ENTRIES or size + len(body) > max_bytes:
            calls.append([])
            size = 0
        calls[-1].append(body)
        size += len(body)
    return calls


def parse_message(body: str) -> ShardMessage:
    """A message body back into a shard; anything else is ``ShardInvalid``."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise ShardInvalid("the message is not JSON") from None
    if not isinstance(data, dict) or data.get("v") != MESSAGE_VERSION:
        raise ShardInvalid(f"not a version {MESSAGE_VERSION} shard message")
    run_id, shard, generation = data.get("run_id"), data.get("shard"), data.get("generation")
    source, started_at = data.get("source"), data.get("started_at")
    options, entries = data.get("options"), data.get("entries")
    if not (isinstance(run_id, str) and _RUN_ID.match(run_id)):
        raise ShardInvalid("the message has no valid run_id")
    if not (isinstance(shard, str) and _SHARD_ID.match(shard)):
        raise ShardInvalid("the message has no valid shard id")
    if not (isinstance(generation, int) and not isinstance(generation, bool) and generation >= 0):
        raise ShardInvalid("the message has no valid generation")
    if source not in _SOURCES or not isinstance(started_at, str) or not isinstance(options, dict):
        raise ShardInvalid("the message has no valid source, started_at or options")
    if not (
        isinstance(entries, list)
        and entries
        and all(
            isinstance(e, list) and len(e) == 2 and isinstance(e[0], int) and not isinstance(e[0], bool)
            for e in entries
        )
    ):
        raise ShardInvalid("the message has no valid entries")
    header = RunHeader(run_id=run_id, source=source, started_at=started_at, options=options)
    return ShardMessage(header, shard, generation, tuple((e[0], e[1]) for e in entries))


# -- a shard's outcome: final results and leftovers --------------------------------------


def is_leftover(result: Mapping[str, Any], entry: UrlEntry) -> bool:
    """Cut by the deadline and safe to run again: never started, or cancelled and repeatable."""
    outcome = result["outcome"]
    return outcome == Outcome.NOT_STARTED or (outcome == Outcome.CANCELLED and entry.may_retry)


def leftover_indexes(document: Mapping[str, Any], entries: Sequence[UrlEntry]) -> list[int]:
    """Positions of a run's leftovers: none unless its deadline (not ``on_error``) stopped it."""
    if not document["deadline_reached"] or document["stopped_on_error"]:
        return []
    return [
        i
        for i, (result, entry) in enumerate(zip(document["results"], entries, strict=True))
        if is_leftover(result, entry)
    ]


def given_up(result: dict[str, Any], generation: int) -> dict[str, Any]:
    return result | {
        "error": {
            "type": GIVEN_UP,
            "message": f"still unfinished at the deadline of generation {generation}: not continued further",
        }
    }


@dataclass(frozen=True, slots=True)
class ShardOutcome:
    """What a processed shard leaves behind (its S3 object): final results and leftovers."""

    shard: str
    generation: int
    results: tuple[tuple[int, dict[str, Any]], ...]
    leftovers: tuple[tuple[int, Any], ...]
    continuation: str | None
    given_up: int

    def to_json(self) -> dict[str, Any]:
        return {
            "v": MESSAGE_VERSION,
            "shard": self.shard,
            "generation": self.generation,
            "results": [[i, r] for i, r in self.results],
            "leftovers": [[i, e] for i, e in self.leftovers],
            "continuation": self.continuation,
            "given_up": self.given_up,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ShardOutcome:
        return cls(
            shard=data["shard"],
            generation=data["generation"],
            results=tuple((i, r) for i, r in data["results"]),
            leftovers=tuple((i, e) for i, e in data["leftovers"]),
            continuation=data["continuation"],
            given_up=data["given_up"],
        )

    def counts(self) -> dict[str, int]:
        """Final outcomes of this shard, every outcome present."""
        return summarize_outcomes(r["outcome"] for _, r in self.results)


def shard_outcome(
    message: ShardMessage,
    entries: Sequence[UrlEntry],
    document: Mapping[str, Any],
    *,
    max_generations: int,
) -> ShardOutcome:
    """Split a shard's run document into final results and leftovers (continued or given up).

    ``entries`` are the message's entries, validated; ``document`` is the shard's run.
    """
    shard, generation, indexed = message.shard, message.generation, message.entries
    cut = set(leftover_indexes(document, entries))
    continue_them = generation < max_generations
    results: list[tuple[int, dict[str, Any]]] = []
    leftovers: list[tuple[int, Any]] = []
    gave_up = 0
    for position, ((index, encoded), result) in enumerate(zip(indexed, document["results"], strict=True)):
        if position not in cut:
            results.append((index, result))
        elif continue_them:
            leftovers.append((index, encoded))
        else:
            results.append((index, given_up(result, generation)))
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


# -- the merge ---------------------------------------------------------------------------


def merge(total: int, outcomes: Iterable[ShardOutcome]) -> list[dict[str, Any]]:
    """The run's results in input order, from every shard's final results: each index once."""
    slots: list[dict[str, Any] | None] = [None] * total
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
