"""The Lambda entry point (``fanout.handler.lambda_handler``): decorators plus one call.

Init reads the settings (an invalid one fails the cold start with a clear ``ConfigError``),
imports tens of thousands of long-lived objects (Powertools, pydantic, httpx, aiohttp) and
starts pycares' one idle channel reaper, so no invocation starts a thread. The cyclic GC is
paused while they load (no collection passes over them: a part of the cold start, measured in
docs/benchmarks.md) and they are then frozen out of its generations, so the full collections a
large run triggers do not walk them again either.
"""

from __future__ import annotations

import gc
import os

gc.disable()
# pydantic looks for plugins (an entry-point scan of every installed distribution's metadata) when
# it builds its first model; the function uses none (a deployment that wants them sets the variable,
# empty for all of them).
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

from typing import Any  # noqa: E402

from aws_lambda_powertools.logging import correlation_paths  # noqa: E402

from fanout.config import get_settings  # noqa: E402
from fanout.core.budget import LambdaContextLike  # noqa: E402
from fanout.entry import snapstart  # noqa: E402, F401  (registers the SnapStart runtime hooks)
from fanout.entry.router import handle_event  # noqa: E402
from fanout.fetch.dns import start_reaper  # noqa: E402
from fanout.observability.log import logger, metrics  # noqa: E402


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContextLike) -> dict[str, Any]:
    return handle_event(event, context)


get_settings()
start_reaper()
gc.freeze()
gc.enable()
