"""A Lambda handler that sleeps as told: proves the emulator enforces the timeout (test_rie_harness)."""

from __future__ import annotations

import os
import time
from typing import Any


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    remaining_ms = context.get_remaining_time_in_millis()
    time.sleep(float(event.get("sleep_s", 0)))
    return {"pid": os.getpid(), "remaining_ms": remaining_ms}
