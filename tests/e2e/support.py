"""Helpers for the runtime-emulator tests (fixtures live in ``conftest.py``)."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

from devtools.demo_target import DemoTarget
from devtools.rie import LambdaEmulator, function_error

# The Lambda timeout the emulator enforces in these tests: short, so a deadline run takes seconds.
E2E_TIMEOUT_S = 4
# Make the function's interpreter report unclosed sockets/transports in the log.
E2E_ENV = {"PYTHONWARNINGS": "default::ResourceWarning"}
OUTCOMES = {"ok", "http_error", "failed", "timed_out", "cancelled", "not_started", "blocked"}
CLOSE_WITHIN_S = 5.0

# new_emulator(**LambdaEmulator options) -> a started emulator, stopped after the test.
EmulatorFactory = Callable[..., LambdaEmulator]
QUIET_FOR_S = 0.6


def unique(prefix: str) -> str:
    """A fresh key for /flaky/{key}, so its counter never carries over between runs."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def requested_urls(entries: list[Any]) -> list[str]:
    return [e if isinstance(e, str) else e["url"] for e in entries]


def check_document(
    payload: Any, rie: LambdaEmulator, urls: list[str], *, source: str = "direct"
) -> list[str]:
    """A complete result document: one result per URL, in order; the summary adds up. Its outcomes."""
    failure = function_error(payload)
    assert failure is None, f"the invocation failed: {failure}\n{rie.log_tail()}"
    assert isinstance(payload, dict), payload
    assert "results" in payload, payload
    assert payload["source"] == source
    results = payload["results"]
    assert [r["url"] for r in results] == urls, "one result per input URL, in input order"
    outcomes = [r["outcome"] for r in results]
    assert set(outcomes) <= OUTCOMES, outcomes
    summary = payload["summary"]
    assert summary["total"] == len(urls)
    assert sum(v for k, v in summary.items() if k != "total") == len(urls), summary
    assert {k: v for k, v in summary.items() if k != "total" and v} == dict(Counter(outcomes)), summary
    return outcomes


def within_lambda_timeout(wall_s: float, rie: LambdaEmulator) -> None:
    assert wall_s < rie.timeout_s, (
        f"answered after {wall_s:.2f}s: not within the {rie.timeout_s}s Lambda timeout\n{rie.log_tail()}"
    )


def open_connections_after(target: DemoTarget, within_s: float = CLOSE_WITHIN_S) -> int:
    """The target's open connection count, once it is 0 or ``within_s`` has passed."""
    return target.open_connections_after(within_s)


def requests_during(target: DemoTarget, seconds: float = QUIET_FOR_S) -> dict[str, int]:
    """Requests the target received (by path) during the next ``seconds``: zombies, if any."""
    before = Counter(target.stats()["hits"])
    time.sleep(seconds)
    after = Counter(target.stats()["hits"])
    return dict(after - before)
