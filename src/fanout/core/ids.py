"""Run ids, shard ids and timestamps: one definition each."""

from __future__ import annotations

import os
import re
import time
import uuid
from datetime import UTC, datetime

RUN_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def new_run_id() -> str:
    """A UUIDv7 (RFC 9562): unique, and sorts by creation time as a string."""
    unix_ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (unix_ms & (2**48 - 1)) << 80 | 0x7 << 76 | (rand >> 68 & 0xFFF) << 64
    value |= 0b10 << 62 | rand & (2**62 - 1)
    return str(uuid.UUID(int=value))


def is_run_id(text: str) -> bool:
    return RUN_ID.match(text) is not None


def utc_now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def elapsed_ms(started_at: str, finished_at: str) -> float:
    """Milliseconds between two of ``utc_now_iso``'s timestamps."""
    return round((parse_iso(finished_at) - parse_iso(started_at)).total_seconds() * 1000, 1)


def iso_from_epoch(seconds: float) -> str:
    """Whole seconds as ``...T12:00:00Z``, fractions to the millisecond (as ``utc_now_iso``)."""
    moment = datetime.fromtimestamp(seconds, UTC)
    spec = "seconds" if moment.microsecond == 0 else "milliseconds"
    return moment.isoformat(timespec=spec).replace("+00:00", "Z")
