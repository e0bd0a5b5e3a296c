"""Every setting the service reads from its environment, in one place.

Settings are read once, on the first ``get_settings()`` (the handler's init: Lambda fixes a
function's environment for its lifetime), never when a module is imported. ``load_settings``
builds a ``Settings`` from any mapping; ``configure`` makes one current (tests and tools).

Request options have a *default* (used when the caller omits the option) and a
*maximum* (a caller asking for more gets a validation error). Both are here.
"""

from __future__ import annotations

import ipaddress
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

TransportName = Literal["aiohttp", "httpcore"]
EventLoopName = Literal["uvloop", "asyncio"]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class ConfigError(ValueError):
    """An environment variable holds a value the service cannot use."""


@dataclass(frozen=True, slots=True)
class Settings:
    """Server-side defaults, caps and tuning; see docs/configuration.md."""

    # Request size.
    max_urls: int = 10_000
    # Defaults for request options and their server-side maxima.
    default_concurrency: int = 64
    max_concurrency: int = 1_000
    default_per_host_concurrency: int = 8
    max_per_host_concurrency: int = 256
    default_request_timeout_s: float = 10.0
    max_request_timeout_s: float = 300.0
    default_retries: int = 2
    max_retries: int = 10
    default_max_redirects: int = 5
    max_max_redirects: int = 20
    default_max_body_bytes: int = 1_048_576
    max_max_body_bytes: int = 100 * 1_048_576
    max_header_bytes: int = 16_384
    # Response checks: how much of a decoded body they read (default / maximum), and extra trust.
    default_inspect_bytes: int = 65_536
    max_inspect_bytes: int = 1_048_576
    ca_bundle: str = ""
    # Deadline: remaining time minus (base + per-URL allowance).
    deadline_margin_base_ms: float = 250.0
    deadline_margin_per_url_ms: float = 0.05
    # Fetching stops this much per fetch that may be in flight before the return deadline, on a
    # whole vCPU (scaled by the function's share of one: its memory size over 1,769 MB).
    deadline_cleanup_per_url_ms: float = 0.1
    # The function's memory size (set by Lambda); 0 where unknown (a whole CPU is assumed).
    function_memory_mb: int = 0
    # API Gateway's integration timeout is 30 s: API runs answer within this cap.
    api_deadline_cap_s: float = 28.0
    # Retries: full-jitter exponential backoff.
    retry_backoff_base_s: float = 0.1
    retry_backoff_cap_s: float = 5.0
    retry_min_attempt_s: float = 0.2
    # HTTP transport under httpx's API: aiohttp (default) or httpx's stock httpcore.
    http_transport: TransportName = "aiohttp"
    # The invocation's event loop: uvloop (default; asyncio's own where uvloop is missing) or asyncio.
    event_loop: EventLoopName = "uvloop"
    user_agent: str = "fanout/1.0"
    # Egress guard: networks exempted from the default block list (comma-separated CIDRs).
    egress_allow_cidrs: str = ""
    # Persistence (docs/persistence.md). An empty name turns that store off.
    reports_bucket_name: str = ""
    runs_table_name: str = ""
    idempotency_table_name: str = ""
    # Days a run's report and record are kept (S3 lifecycle and DynamoDB TTL).
    run_retention_days: int = 30
    # The end of the run's budget reserved for writing the report and the record.
    persist_budget_s: float = 1.5
    # botocore client settings of every store (standard retry mode).
    store_connect_timeout_s: float = 0.5
    store_read_timeout_s: float = 1.0
    store_max_attempts: int = 3
    # Where the AWS clients go instead of AWS's own endpoints (a local stack); empty on AWS.
    aws_endpoint_url: str = ""
    # A document larger than this (bytes of JSON) is answered by a pointer to its report.
    max_answer_bytes: int = 5_000_000
    # Lifetime of the presigned report URL in a pointer answer.
    report_url_expires_s: int = 3_600
    # A target list in S3 (``"targets": "s3://..."``) may be at most this large.
    max_targets_bytes: int = 10_485_760
    # GET /runs: default and maximum ``limit``.
    default_runs_limit: int = 20
    max_runs_limit: int = 100
    # How long a duplicate gets the first answer; answers above the size are replayed compacted.
    idempotency_expires_s: int = 7_200
    idempotency_max_answer_bytes: int = 350_000
    # Sharded runs (docs/sharding.md). An empty queue URL turns sharding off.
    shard_queue_url: str = ""
    # A run with more URLs than this is sharded: direct and scheduled requests, API requests.
    shard_threshold: int = 2_000
    shard_threshold_api: int = 500
    # URLs per shard (at most; and at most max_urls), and the largest shard message (SQS takes
    # 262,144 bytes).
    shard_size: int = 500
    shard_message_max_bytes: int = 250_000
    # Leftovers of a shard are continued this many times at most, then given up.
    shard_max_generations: int = 3
    # The end of a shard's budget kept for its results, counts, continuation and the merge.
    shard_finish_budget_s: float = 5.0
    # Monitors (docs/monitors.md). An empty table name turns them off; empty alert targets send nothing.
    monitors_table_name: str = ""
    alert_topic_arn: str = ""
    alert_event_bus_name: str = ""
    # The slice of a monitor run's budget for its state updates and alerts, and their concurrency.
    monitor_budget_s: float = 5.0
    monitor_concurrency: int = 32


_ENV_NAMES: dict[str, str] = {
    "max_urls": "FANOUT_MAX_URLS",
    "default_concurrency": "FANOUT_DEFAULT_CONCURRENCY",
    "max_concurrency": "FANOUT_MAX_CONCURRENCY",
    "default_per_host_concurrency": "FANOUT_DEFAULT_PER_HOST_CONCURRENCY",
    "max_per_host_concurrency": "FANOUT_MAX_PER_HOST_CONCURRENCY",
    "default_request_timeout_s": "FANOUT_DEFAULT_REQUEST_TIMEOUT_S",
    "max_request_timeout_s": "FANOUT_MAX_REQUEST_TIMEOUT_S",
    "default_retries": "FANOUT_DEFAULT_RETRIES",
    "max_retries": "FANOUT_MAX_RETRIES",
    "default_max_redirects": "FANOUT_DEFAULT_MAX_REDIRECTS",
    "max_max_redirects": "FANOUT_MAX_MAX_REDIRECTS",
    "default_max_body_bytes": "FANOUT_DEFAULT_MAX_BODY_BYTES",
    "max_max_body_bytes": "FANOUT_MAX_MAX_BODY_BYTES",
    "max_header_bytes": "FANOUT_MAX_HEADER_BYTES",
    "default_inspect_bytes": "FANOUT_DEFAULT_INSPECT_BYTES",
    "max_inspect_bytes": "FANOUT_MAX_INSPECT_BYTES",
    "ca_bundle": "FANOUT_CA_BUNDLE",
    "deadline_margin_base_ms": "FANOUT_DEADLINE_MARGIN_BASE_MS",
    "deadline_margin_per_url_ms": "FANOUT_DEADLINE_MARGIN_PER_URL_MS",
    "deadline_cleanup_per_url_ms": "FANOUT_DEADLINE_CLEANUP_PER_URL_MS",
    "function_memory_mb": "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "api_deadline_cap_s": "FANOUT_API_DEADLINE_CAP_S",
    "retry_backoff_base_s": "FANOUT_RETRY_BACKOFF_BASE_S",
    "retry_backoff_cap_s": "FANOUT_RETRY_BACKOFF_CAP_S",
    "retry_min_attempt_s": "FANOUT_RETRY_MIN_ATTEMPT_S",
    "http_transport": "FANOUT_HTTP_TRANSPORT",
    "event_loop": "FANOUT_EVENT_LOOP",
    "user_agent": "FANOUT_USER_AGENT",
    "egress_allow_cidrs": "EGRESS_ALLOW_CIDRS",
    "reports_bucket_name": "REPORTS_BUCKET_NAME",
    "runs_table_name": "RUNS_TABLE_NAME",
    "idempotency_table_name": "IDEMPOTENCY_TABLE_NAME",
    "run_retention_days": "FANOUT_RUN_RETENTION_DAYS",
    "persist_budget_s": "FANOUT_PERSIST_BUDGET_S",
    "store_connect_timeout_s": "FANOUT_STORE_CONNECT_TIMEOUT_S",
    "store_read_timeout_s": "FANOUT_STORE_READ_TIMEOUT_S",
    "store_max_attempts": "FANOUT_STORE_MAX_ATTEMPTS",
    "aws_endpoint_url": "FANOUT_AWS_ENDPOINT_URL",
    "max_answer_bytes": "FANOUT_MAX_ANSWER_BYTES",
    "report_url_expires_s": "FANOUT_REPORT_URL_EXPIRES_S",
    "max_targets_bytes": "FANOUT_MAX_TARGETS_BYTES",
    "default_runs_limit": "FANOUT_DEFAULT_RUNS_LIMIT",
    "max_runs_limit": "FANOUT_MAX_RUNS_LIMIT",
    "idempotency_expires_s": "FANOUT_IDEMPOTENCY_EXPIRES_S",
    "idempotency_max_answer_bytes": "FANOUT_IDEMPOTENCY_MAX_ANSWER_BYTES",
    "shard_queue_url": "SHARD_QUEUE_URL",
    "shard_threshold": "FANOUT_SHARD_THRESHOLD",
    "shard_threshold_api": "FANOUT_SHARD_THRESHOLD_API",
    "shard_size": "FANOUT_SHARD_SIZE",
    "shard_message_max_bytes": "FANOUT_SHARD_MESSAGE_MAX_BYTES",
    "shard_max_generations": "FANOUT_SHARD_MAX_GENERATIONS",
    "shard_finish_budget_s": "FANOUT_SHARD_FINISH_BUDGET_S",
    "monitors_table_name": "MONITORS_TABLE_NAME",
    "alert_topic_arn": "ALERT_TOPIC_ARN",
    "alert_event_bus_name": "ALERT_EVENT_BUS_NAME",
    "monitor_budget_s": "FANOUT_MONITOR_BUDGET_S",
    "monitor_concurrency": "FANOUT_MONITOR_CONCURRENCY",
}


def env_names() -> Mapping[str, str]:
    """Setting name -> environment variable name (for docs and tests)."""
    return dict(_ENV_NAMES)


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build settings from ``environ`` (default ``os.environ``); empty values mean default."""
    env = os.environ if environ is None else environ
    defaults = Settings()
    values: dict[str, object] = {}
    for field, var in _ENV_NAMES.items():
        raw = env.get(var, "").strip()
        if not raw:
            continue
        current = getattr(defaults, field)
        try:
            if isinstance(current, bool):
                values[field] = raw.lower() in {"1", "true", "yes", "on"}
            elif isinstance(current, int):
                values[field] = int(raw)
            elif isinstance(current, float):
                values[field] = float(raw)
            else:
                values[field] = raw
        except ValueError as exc:
            raise ConfigError(f"{var}={raw!r} is not a valid {type(current).__name__}") from exc
    settings = Settings(**values)  # type: ignore[arg-type]
    _check(settings)
    return settings


def _check(s: Settings) -> None:
    pairs = [
        ("default_concurrency", "max_concurrency"),
        ("default_per_host_concurrency", "max_per_host_concurrency"),
        ("default_request_timeout_s", "max_request_timeout_s"),
        ("default_retries", "max_retries"),
        ("default_max_redirects", "max_max_redirects"),
        ("default_max_body_bytes", "max_max_body_bytes"),
        ("default_inspect_bytes", "max_inspect_bytes"),
    ]
    for default, maximum in pairs:
        if getattr(s, default) > getattr(s, maximum):
            raise ConfigError(f"{_ENV_NAMES[default]} exceeds {_ENV_NAMES[maximum]}")
    positive = [
        "max_urls",
        "max_concurrency",
        "max_per_host_concurrency",
        "max_header_bytes",
        "max_inspect_bytes",
        "monitor_concurrency",
    ]
    for name in positive:
        if getattr(s, name) < 1:
            raise ConfigError(f"{_ENV_NAMES[name]} must be at least 1")
    if s.function_memory_mb < 0:
        raise ConfigError("AWS_LAMBDA_FUNCTION_MEMORY_SIZE must be at least 0")
    if s.http_transport not in ("aiohttp", "httpcore"):
        raise ConfigError("FANOUT_HTTP_TRANSPORT must be 'aiohttp' or 'httpcore'")
    if s.event_loop not in ("uvloop", "asyncio"):
        raise ConfigError("FANOUT_EVENT_LOOP must be 'uvloop' or 'asyncio'")
    # Defaults are not validated by the contract (only what callers send is): check them here.
    for name in ["default_concurrency", "default_per_host_concurrency"]:
        if getattr(s, name) < 1:
            raise ConfigError(f"{_ENV_NAMES[name]} must be at least 1")
    if s.ca_bundle and not os.path.isfile(s.ca_bundle):
        raise ConfigError(f"FANOUT_CA_BUNDLE={s.ca_bundle!r} is not a file")
    for name in [
        "default_retries",
        "default_max_redirects",
        "default_max_body_bytes",
        "default_inspect_bytes",
    ]:
        if getattr(s, name) < 0:
            raise ConfigError(f"{_ENV_NAMES[name]} must be at least 0")
    for name in ["default_request_timeout_s", "max_request_timeout_s"]:
        if not (math.isfinite(getattr(s, name)) and getattr(s, name) > 0):
            raise ConfigError(f"{_ENV_NAMES[name]} must be a finite number of seconds above 0")
    non_negative = [
        "deadline_margin_base_ms",
        "deadline_margin_per_url_ms",
        "deadline_cleanup_per_url_ms",
        "retry_backoff_base_s",
        "retry_backoff_cap_s",
        "retry_min_attempt_s",
        "monitor_budget_s",
    ]
    for name in non_negative:
        if not (math.isfinite(getattr(s, name)) and getattr(s, name) >= 0):
            raise ConfigError(f"{_ENV_NAMES[name]} must be a finite number, at least 0")
    parse_cidrs(s.egress_allow_cidrs)
    _check_persistence(s)
    _check_sharding(s)


def _check_persistence(s: Settings) -> None:
    at_least_one = [
        "run_retention_days",
        "store_max_attempts",
        "report_url_expires_s",
        "max_targets_bytes",
        "default_runs_limit",
        "max_runs_limit",
        "idempotency_expires_s",
    ]
    for name in at_least_one:
        if getattr(s, name) < 1:
            raise ConfigError(f"{_ENV_NAMES[name]} must be at least 1")
    durations = ["persist_budget_s", "store_connect_timeout_s", "store_read_timeout_s"]
    for name in durations:
        value = getattr(s, name)
        if not (math.isfinite(value) and value > 0):
            raise ConfigError(f"{_ENV_NAMES[name]} must be a finite number of seconds above 0")
    if s.max_answer_bytes < 10_000 or s.idempotency_max_answer_bytes < 10_000:
        raise ConfigError("FANOUT_MAX_ANSWER_BYTES and FANOUT_IDEMPOTENCY_MAX_ANSWER_BYTES must be >= 10000")
    if s.report_url_expires_s > 604_800:
        raise ConfigError("FANOUT_REPORT_URL_EXPIRES_S must be at most 604800 (7 days, SigV4's limit)")
    if s.default_runs_limit > s.max_runs_limit:
        raise ConfigError("FANOUT_DEFAULT_RUNS_LIMIT exceeds FANOUT_MAX_RUNS_LIMIT")


SQS_MAX_MESSAGE_BYTES = 262_144
"""SQS's limit on one message, and on one ``SendMessageBatch`` call (all its messages)."""


def _check_sharding(s: Settings) -> None:
    for name in ["shard_threshold", "shard_threshold_api", "shard_size"]:
        if getattr(s, name) < 1:
            raise ConfigError(f"{_ENV_NAMES[name]} must be at least 1")
    if not 10_000 <= s.shard_message_max_bytes <= SQS_MAX_MESSAGE_BYTES:
        raise ConfigError(f"FANOUT_SHARD_MESSAGE_MAX_BYTES must be between 10000 and {SQS_MAX_MESSAGE_BYTES}")
    if not 0 <= s.shard_max_generations <= 100:
        raise ConfigError("FANOUT_SHARD_MAX_GENERATIONS must be between 0 and 100")
    if not (math.isfinite(s.shard_finish_budget_s) and s.shard_finish_budget_s > 0):
        raise ConfigError("FANOUT_SHARD_FINISH_BUDGET_S must be a finite number of seconds above 0")


def parse_cidrs(value: str, *, source: str = "EGRESS_ALLOW_CIDRS") -> tuple[Network, ...]:
    """Comma-separated networks (``10.0.0.0/8, ::1``); raises ``ConfigError`` on a bad one."""
    networks: list[Network] = []
    for item in value.split(","):
        text = item.strip()
        if not text:
            continue
        try:
            networks.append(ipaddress.ip_network(text, strict=True))
        except ValueError as exc:
            raise ConfigError(f"{source}: {text!r} is not a valid CIDR network ({exc})") from None
    return tuple(networks)


_current: Settings | None = None


def get_settings() -> Settings:
    """The process's settings: read from the environment once, on first use."""
    global _current
    if _current is None:
        _current = load_settings()
    return _current


def configure(settings: Settings | None) -> None:
    """Make ``settings`` current (``None``: read the environment again on next use)."""
    global _current
    _current = settings
