"""Sharded runs, the pure part: which runs are sharded, and their shard messages.

Nothing here touches AWS: it is the arithmetic of docs/sharding.md, small enough to
test without a queue.

- **Mode.** A request's ``mode`` is ``auto`` (sharded above the threshold of its way in:
  ``shard_threshold_api`` for the HTTP API, ``shard_threshold`` otherwise), ``inline``
  (never) or ``sharded`` (always).
- **Messages.** A shard is one SQS message, a compact JSON object:
  ``{"v": 1, "run_id", "shard", "generation", "source", "started_at", "options",
  "entries": [[index, entry], ...]}``, where ``index`` is the entry's position in the run's
  input and ``entry`` is what ``urls`` accepts (a bare URL string when it is a plain GET).
  Shards hold at most ``shard_size`` entries and at most ``shard_message_max_bytes`` bytes
  of JSON (ASCII: bytes = characters); an entry that cannot fit in a message on its own is
  refused before anything runs.
- **Held.** A continuation may carry ``"held": [[index, ms], ...]``: how long each of its
  entries was in flight when an earlier generation's deadline cut it (docs/sharding.md: a
  generation that cannot give an entry more than it had gives it up without fetching it).
- **Shard ids.** ``NNNNN-gG``: the shard's number in the run and its generation. A shard's
  continuation is the same number at the next generation, so a re-sent continuation has
  the same id as the first one and is counted once.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from pydantic import ValidationError

from fanout.config import Settings
from fanout.core.documents import Source
from fanout.core.ids import is_run_id
from fanout.core.monitors import MonitorSpec
from fanout.core.requests import FanoutRequest, Options, UrlEntry
from fanout.errors import ShardInvalid

MESSAGE_VERSION = 1
INLINE_SHARD = "inline"
"""The pseudo-shard of an inline run carried over: its final results, counted at the start."""

_SHARD_ID = re.compile(r"^(?:\d{5}-g\d{1,3}|inline)$")

RunMode = Literal["inline", "sharded"]


def threshold(source: Source, settings: Settings) -> int:
    return settings.shard_threshold_api if source is Source.API else settings.shard_threshold


def run_mode(request: FanoutRequest, source: Source, settings: Settings, *, sharding_on: bool) -> RunMode:
    """``sharded`` or ``inline`` for a request whose URLs are known."""
    if request.mode == "sharded":
        return "sharded"
    if request.mode == "inline" or not sharding_on:
        return "inline"
    return "sharded" if len(request.urls) > threshold(source, settings) else "inline"


def shard_size(settings: Settings, options: Options) -> int:
    """URLs per shard: the run's ``options.shard_size``, else the deployment's; a shard is
    validated as a request of its own, so at most ``max_urls``."""
    return min(options.shard_size or settings.shard_size, settings.max_urls)


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


def encoded_entries(request: FanoutRequest) -> list[Any]:
    """Every entry of ``request`` as ``encode_entry`` has it. A bare URL string already is, so
    no model is built for it: a 100,000-URL launch would otherwise build 100,000, twice."""
    return [item if isinstance(item, str) else encode_entry(item) for item in request.urls]


_ENCODE = json.JSONEncoder(separators=(",", ":")).encode  # ensure_ascii: one byte per character


def _dumps(value: Any) -> str:
    return _ENCODE(value)


@dataclass(frozen=True, slots=True)
class RunHeader:
    """What every shard of a run carries besides its entries."""

    run_id: str
    source: Source
    started_at: str
    options: Options
    # Kept in the run's record for its completion (not in the shard messages).
    monitor: MonitorSpec | None = None
    observation_key: str | None = None
    scheduled_at: str | None = None  # a regional monitor run's round
    # The run's shards that may run at once, among which each host's rate is shared (``rate_shared``).
    rate_shared_by: int = 1


@dataclass(frozen=True, slots=True)
class ShardMessage:
    header: RunHeader
    shard: str
    generation: int
    entries: tuple[tuple[int, Any], ...]  # (input index, encoded entry)
    held: tuple[tuple[int, float], ...] = ()  # (input index, ms in flight when last cut)

    def body(self) -> str:
        h = self.header
        data: dict[str, Any] = {
            "v": MESSAGE_VERSION,
            "run_id": h.run_id,
            "shard": self.shard,
            "generation": self.generation,
            "source": h.source.value,
            "started_at": h.started_at,
            "options": h.options.model_dump(mode="json"),
            "entries": [[index, entry] for index, entry in self.entries],
        }
        if self.held:
            data["held"] = [[index, round(ms, 1)] for index, ms in self.held]
        if h.rate_shared_by > 1:
            data["rate_shared_by"] = h.rate_shared_by
        return _dumps(data)

    def held_ms(self) -> dict[int, float]:
        return dict(self.held)

    def request(self) -> FanoutRequest:
        """The shard as a request of its own (validated again: a bad entry is a poison shard)."""
        try:
            return FanoutRequest.model_validate(
                {"urls": [e for _, e in self.entries], "options": self.header.options}
            )
        except ValueError as exc:
            raise ShardInvalid(f"shard {self.shard} of run {self.header.run_id}: {exc}") from None


RATE_SHARED_MAX = 1_000  # FANOUT_SHARD_MAX_CONCURRENCY's maximum (``rates.rate_shared``)


def _overhead(header: RunHeader) -> int:
    """Bytes of a message with no entries, for the longest shard id and generation, and room for
    the widest ``rate_shared_by`` (set once the run's shards are counted: ``rate_shared``)."""
    widest = replace(header, rate_shared_by=RATE_SHARED_MAX)
    return len(ShardMessage(widest, "99999-g999", 999, ()).body())


def entry_bytes(index: int, encoded: Any) -> int:
    """What one entry adds to a message: ``[index,entry]`` and its comma (a bare URL counted
    without encoding the list: the encoder's string path is several times faster)."""
    if isinstance(encoded, str):
        return len(str(index)) + len(_ENCODE(encoded)) + len("[,],")
    return len(_dumps([index, encoded])) + 1


def oversized(
    header: RunHeader, encoded: Sequence[Any], max_bytes: int, *, loc: str = "urls"
) -> list[dict[str, Any]]:
    """A validation error per entry (``encoded_entries``) too large for a shard message alone."""
    room = max_bytes - _overhead(header)
    errors = []
    for index, entry in enumerate(encoded):
        size = entry_bytes(index, entry)
        if size > room:
            msg = f"this entry is {size} bytes; a shard message has room for {room}"
            errors.append({"loc": f"{loc}.{index}", "msg": msg, "type": "entry_too_large"})
    return errors


def held_bytes(index: int, ms: float) -> int:
    """What one ``held`` item adds to a message (and the key, counted once per item: a bound)."""
    return len(_dumps([index, round(ms, 1)])) + len(',"held":[]')


def split(
    header: RunHeader,
    entries: Iterable[tuple[int, Any]],
    *,
    shard_size: int,
    max_bytes: int,
    generation: int = 0,
    first_number: int = 0,
    held: Mapping[int, float] | None = None,
) -> list[ShardMessage]:
    """Cut ``(index, encoded entry)`` pairs into messages of at most ``shard_size`` entries and
    ``max_bytes`` bytes, in order. Every entry must fit alone (``oversized``); an entry's
    ``held`` time travels with it when there is room (it is only a hint)."""
    overhead = _overhead(header)
    held = held or {}
    groups: list[list[tuple[int, Any]]] = [[]]
    size = overhead
    for index, encoded in entries:
        grow = entry_bytes(index, encoded)
        if overhead + grow > max_bytes:
            raise ShardInvalid(f"entry {index} does not fit in a shard message")
        if index in held and overhead + grow + held_bytes(index, held[index]) <= max_bytes:
            grow += held_bytes(index, held[index])
        if groups[-1] and (len(groups[-1]) >= shard_size or size + grow > max_bytes):
            groups.append([])
            size = overhead
        groups[-1].append((index, encoded))
        size += grow
    return [
        ShardMessage(
            header,
            shard_id(first_number + n, generation),
            generation,
            tuple(group),
            tuple((i, held[i]) for i, _ in group if i in held),
        )
        for n, group in enumerate(groups)
        if group
    ]


def fits(message: ShardMessage, max_bytes: int) -> ShardMessage:
    """``message``, without its ``held`` hints if they would make it too large."""
    if message.held and len(message.body()) > max_bytes:
        return replace(message, held=())
    return message


def _valid_entries(entries: object) -> bool:
    return (
        isinstance(entries, list)
        and bool(entries)
        and all(
            isinstance(e, list) and len(e) == 2 and isinstance(e[0], int) and not isinstance(e[0], bool)
            for e in entries
        )
    )


def _valid_held(held: object) -> bool:
    return isinstance(held, list) and all(
        isinstance(h, list)
        and len(h) == 2
        and isinstance(h[0], int)
        and isinstance(h[1], int | float)
        and not isinstance(h[0], bool)
        and not isinstance(h[1], bool)
        and 0 <= h[1] < 1e9
        for h in held
    )


def parse_message(body: str) -> ShardMessage:
    """A message body back into a shard; anything else is ``ShardInvalid``."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise ShardInvalid("the message is not JSON") from None
    if not isinstance(data, dict) or data.get("v") != MESSAGE_VERSION:
        raise ShardInvalid(f"not a version {MESSAGE_VERSION} shard message")
    run_id, shard, generation = data.get("run_id"), data.get("shard"), data.get("generation")
    source, started_at, options = data.get("source"), data.get("started_at"), data.get("options")
    if not (isinstance(run_id, str) and is_run_id(run_id)):
        raise ShardInvalid("the message has no valid run_id")
    if not (isinstance(shard, str) and _SHARD_ID.match(shard)):
        raise ShardInvalid("the message has no valid shard id")
    if not (isinstance(generation, int) and not isinstance(generation, bool) and generation >= 0):
        raise ShardInvalid("the message has no valid generation")
    if source not in set(Source) or not isinstance(started_at, str) or not isinstance(options, dict):
        raise ShardInvalid("the message has no valid source, started_at or options")
    if not _valid_entries(data.get("entries")):
        raise ShardInvalid("the message has no valid entries")
    if not _valid_held(data.get("held", [])):
        raise ShardInvalid("the message's held times are not valid")
    shared_by = data.get("rate_shared_by", 1)
    if not (
        isinstance(shared_by, int) and not isinstance(shared_by, bool) and 1 <= shared_by <= RATE_SHARED_MAX
    ):
        raise ShardInvalid("the message's rate_shared_by is not valid")
    try:
        parsed_options = Options.model_validate(options)
    except ValidationError as exc:
        raise ShardInvalid(f"the message's options are not valid: {exc.error_count()} problem(s)") from None
    header = RunHeader(
        run_id=run_id,
        source=Source(source),
        started_at=started_at,
        options=parsed_options,
        rate_shared_by=shared_by,
    )
    held = tuple((h[0], float(h[1])) for h in data.get("held", []))
    return ShardMessage(header, shard, generation, tuple((e[0], e[1]) for e in data["entries"]), held)
