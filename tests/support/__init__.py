"""Helpers every tier shares (fixtures live in the ``conftest.py`` files; no test module imports
another): a Lambda context with a real clock and the fan-out in-process (``invoking``), loopback
servers that misbehave or keep what they were sent (``servers``), the function as deployed
with its stores on moto, realistic events and checks of a result document (``deployment``), and
its shard queue driven as Lambda's event source mapping drives it (``sharding``).
"""

from devtools.local_aws import CREDENTIALS, ROOT, LocalAws, load_template, table_kwargs
from tests.support.deployment import (
    OUTCOMES,
    Deployment,
    api_request,
    body_of,
    check_document,
    every_log_line,
    monitor_run,
    point_aws_at,
    problem_of,
    requested_urls,
    scheduled,
    stored_text,
    unique,
)
from tests.support.invoking import (
    E2E_ENV,
    E2E_TIMEOUT_S,
    SLACK_S,
    TRANSPORTS,
    EmulatorFactory,
    Fanout,
    InvocationContext,
    KeepingEmitter,
    call,
    keeping_xray,
    other_tasks,
    run_context,
    within_lambda_timeout,
)
from tests.support.servers import (
    CLOSE_WITHIN_S,
    QUIET_FOR_S,
    HangingServer,
    RecordingServer,
    TcpProxy,
    free_port,
    open_connections_after,
    open_connections_after_async,
    requests_during,
)
from tests.support.sharding import SHARDED, Queue, get_run, receive_all, record_of
from tests.support.stamps import ARRIVAL_JITTER_S, most_in_any_window

MotoAws = LocalAws

__all__ = [
    "ARRIVAL_JITTER_S",
    "CLOSE_WITHIN_S",
    "CREDENTIALS",
    "E2E_ENV",
    "E2E_TIMEOUT_S",
    "OUTCOMES",
    "QUIET_FOR_S",
    "ROOT",
    "SHARDED",
    "SLACK_S",
    "TRANSPORTS",
    "Deployment",
    "EmulatorFactory",
    "Fanout",
    "HangingServer",
    "InvocationContext",
    "KeepingEmitter",
    "MotoAws",
    "Queue",
    "RecordingServer",
    "TcpProxy",
    "api_request",
    "body_of",
    "call",
    "check_document",
    "every_log_line",
    "free_port",
    "get_run",
    "keeping_xray",
    "load_template",
    "monitor_run",
    "most_in_any_window",
    "open_connections_after",
    "open_connections_after_async",
    "other_tasks",
    "point_aws_at",
    "problem_of",
    "receive_all",
    "record_of",
    "requested_urls",
    "requests_during",
    "run_context",
    "scheduled",
    "stored_text",
    "table_kwargs",
    "unique",
    "within_lambda_timeout",
]
