"""Lambda SnapStart: do all the init before the snapshot, rebuild what must not be shared.

Without SnapStart the service imports the heavy parts lazily (aioboto3, the X-Ray SDK: their
import costs are in docs/benchmarks.md; the HTTP API's resolver and its request validation,
monitors, target lists and sitemaps, continuations) so a run that does not need them never
pays for them. With
SnapStart (template parameter ``SnapStart=Enabled``) the init is paid once, before the
snapshot, and every restored environment starts warm: ``before_snapshot`` imports and
builds everything a run can use.

Nothing that must differ between environments may come from the snapshot:
``after_restore`` reseeds the random generators and drops the cached TLS contexts (the fetch's and
the AWS clients'; their
session cache and keys would otherwise be shared by every environment restored from
one snapshot). Event loops, HTTP clients, connection pools and AWS clients are never
created at init: each invocation makes its own inside its own event loop, so there is
nothing of them in a snapshot.

``snapshot_restore_py`` ships in Lambda's Python runtimes (and with ``awslambdaric``);
without it (tests, tools) the hooks are plain functions that nothing calls.
"""

from __future__ import annotations

import importlib
import random
from collections.abc import Callable
from typing import Any

try:
    from snapshot_restore_py import register_after_restore, register_before_snapshot
except ImportError:  # pragma: no cover - outside a Lambda runtime

    def register_before_snapshot(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Callable[..., Any]:
        return func

    def register_after_restore(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Callable[..., Any]:
        return func


LAZY_MODULES = (
    "aioboto3",
    "aiobotocore.session",
    "aiobotocore.config",
    "botocore.exceptions",
    "fanout.aws.idempotency",
    "fanout.aws.runs_table",
    "fanout.aws.shard_queue",
    "fanout.aws.monitors_table",
    "fanout.aws.history_table",
    "fanout.aws.region_queues",
    "fanout.fetch.transports.httpcore",
    "aws_lambda_powertools.utilities.batch",
    "fanout.entry.api",
    "fanout.entry.sqs",
    "fanout.runs.judging",
    "fanout.runs.monitor",
    "fanout.runs.regional_run",
    "fanout.runs.shards.carry",
    "fanout.runs.targets",
)
"""Imported on first use normally; imported up front before a snapshot."""


@register_before_snapshot
def before_snapshot() -> list[str]:
    """Import and build everything a run can use, so restored environments start warm."""
    from fanout.aws.session import preload
    from fanout.config import get_settings
    from fanout.core.requests import parse_request
    from fanout.fetch.transports.base import verified_ssl_context
    from fanout.observability.tracing import get_tracer, tracing_enabled

    loaded = []
    for name in LAZY_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:  # a store module this build does not have
            continue
        loaded.append(name)
    if "aioboto3" in loaded:
        preload()  # botocore's S3, DynamoDB and SQS models parsed now: first clients in ms
    verified_ssl_context()
    parse_request(
        {"urls": ["https://example.com/", {"url": "https://example.com/", "method": "POST"}]}, get_settings()
    )
    if tracing_enabled():
        get_tracer()
    return loaded


@register_after_restore
def after_restore() -> None:
    """Make this environment's state its own again."""
    from fanout.aws.session import forget_tls_contexts
    from fanout.fetch.transports.base import verified_ssl_context

    random.seed()
    verified_ssl_context.cache_clear()
    forget_tls_contexts()
