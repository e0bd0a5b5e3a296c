"""The Lambda entry point (``fanout.handler.lambda_handler``): decorators plus one call."""

from __future__ import annotations

from typing import Any

from fanout.app import LambdaContextLike, handle_event, logger


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContextLike) -> dict[str, Any]:
    return handle_event(event, context)
