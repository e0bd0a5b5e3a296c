"""The Lambda entry point (``fanout.handler.lambda_handler``): decorators plus one call."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths

from fanout import snapstart  # noqa: F401  (registers the SnapStart runtime hooks)
from fanout.app import LambdaContextLike, handle_event
from fanout.observe import logger, metrics


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContextLike) -> dict[str, Any]:
    return handle_event(event, context)
