"""The settings model: each variable declared once, with its environment name, type, default,
bounds and meaning (``docs/configuration.md``'s table is generated from it: ``make configdoc``).

One flat model (a class per group would collect every field twice, at every cold start); the
first field of each group carries its ``Section``. Request options come in pairs, a *default*
(used when the caller omits the option) and a *maximum* (a caller asking for more gets a
validation error): the default's ``AtMost`` names its maximum, a rule checked across fields.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

TransportName = Literal["aiohttp", "httpcore"]
EventLoopName = Literal["uvloop", "asyncio"]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

SQS_MAX_MESSAGE_BYTES = 262_144
"""SQS's limit on one message, and on one ``SendMessageBatch`` call (all its messages)."""


class ConfigError(ValueError):
    """An environment variable holds a value the service cannot use."""


@dataclass(frozen=True, slots=True)
class Section:
    """Where a group of settings starts (the configuration chapter's sections)."""

    title: str
    about: str


@dataclass(frozen=True, slots=True)
class AtMost:
    """A cross-field bound: this setting may not exceed the setting ``field`` (its maximum)."""

    field: str


def setting(env: str, default: Any, description: str, **bounds: Any) -> Any:
    """One setting: its environment variable, default, meaning and bounds (``ge``, ``le``, ...)."""
    return Field(default, validation_alias=env, description=description, **bounds)


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


def _cidrs(value: str) -> str:
    """Comma-separated CIDR networks."""
    parse_cidrs(value)
    return value


def _a_file_or_empty(value: str) -> str:
    """An existing file, or empty."""
    if value and not os.path.isfile(value):
        raise PydanticCustomError("not_a_file", "must name an existing file")
    return value


def _an_http_url_or_empty(value: str) -> str:
    """An http(s) address, or empty."""
    if value and not value.startswith(("https://", "http://")):
        raise PydanticCustomError("not_a_url", "must be an http(s) URL, or empty")
    return value


Cidrs = Annotated[str, AfterValidator(_cidrs)]
FilePath = Annotated[str, AfterValidator(_a_file_or_empty)]


class Settings(BaseModel):
    """Server-side defaults, caps and tuning (docs/configuration.md), in sections."""

    # Built on first use (the cold start's ``get_settings``), not when the module is imported;
    # fields are set by their variable's name (the environment) or their own (tests, tools).
    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        allow_inf_nan=False,
        validate_by_alias=True,
        validate_by_name=True,
        defer_build=True,
    )

    max_urls: Annotated[int, Section("Requests", "their size, and each option's default and maximum")] = (
        setting("FANOUT_MAX_URLS", 10_000, "most URLs in one request", ge=1)
    )
    default_concurrency: Annotated[int, AtMost("max_concurrency")] = setting(
        "FANOUT_DEFAULT_CONCURRENCY", 64, "`concurrency` default", ge=1
    )
    max_concurrency: int = setting("FANOUT_MAX_CONCURRENCY", 1_000, "`concurrency` maximum", ge=1)
    default_per_host_concurrency: Annotated[int, AtMost("max_per_host_concurrency")] = setting(
        "FANOUT_DEFAULT_PER_HOST_CONCURRENCY", 8, "`per_host_concurrency` default", ge=1
    )
    max_per_host_concurrency: int = setting(
        "FANOUT_MAX_PER_HOST_CONCURRENCY", 256, "`per_host_concurrency` maximum", ge=1
    )
    max_per_host_rps: float = setting(
        "FANOUT_MAX_PER_HOST_RPS",
        1_000.0,
        "`per_host_rps` maximum (requests per second to one host; off unless a request sets it)",
        gt=0,
    )
    max_per_host_burst: int = setting("FANOUT_MAX_PER_HOST_BURST", 100, "`per_host_burst` maximum", ge=1)
    default_request_timeout_s: Annotated[float, AtMost("max_request_timeout_s")] = setting(
        "FANOUT_DEFAULT_REQUEST_TIMEOUT_S", 10.0, "`request_timeout_s` default", gt=0
    )
    max_request_timeout_s: float = setting(
        "FANOUT_MAX_REQUEST_TIMEOUT_S", 300.0, "`request_timeout_s` maximum", gt=0
    )
    default_retries: Annotated[int, AtMost("max_retries")] = setting(
        "FANOUT_DEFAULT_RETRIES", 2, "`retries` default", ge=0
    )
    max_retries: int = setting("FANOUT_MAX_RETRIES", 10, "`retries` maximum", ge=0)
    default_max_redirects: Annotated[int, AtMost("max_max_redirects")] = setting(
        "FANOUT_DEFAULT_MAX_REDIRECTS", 5, "`max_redirects` default", ge=0
    )
    max_max_redirects: int = setting("FANOUT_MAX_MAX_REDIRECTS", 20, "`max_redirects` maximum", ge=0)
    default_max_body_bytes: Annotated[int, AtMost("max_max_body_bytes")] = setting(
        "FANOUT_DEFAULT_MAX_BODY_BYTES", 1_048_576, "`max_body_bytes` default", ge=0
    )
    max_max_body_bytes: int = setting(
        "FANOUT_MAX_MAX_BODY_BYTES", 100 * 1_048_576, "`max_body_bytes` maximum", ge=0
    )
    max_header_bytes: int = setting(
        "FANOUT_MAX_HEADER_BYTES", 16_384, "longest response header line accepted", ge=1
    )
    default_inspect_bytes: Annotated[int, AtMost("max_inspect_bytes")] = setting(
        "FANOUT_DEFAULT_INSPECT_BYTES",
        65_536,
        "`inspect_bytes` default: how much of the decoded body the checks see (see [Checks](checks.md))",
        ge=1,
    )
    max_inspect_bytes: int = setting("FANOUT_MAX_INSPECT_BYTES", 1_048_576, "`inspect_bytes` maximum", ge=1)
    default_runs_limit: Annotated[int, AtMost("max_runs_limit")] = setting(
        "FANOUT_DEFAULT_RUNS_LIMIT", 20, "`GET /runs?limit=` default", ge=1
    )
    max_runs_limit: int = setting("FANOUT_MAX_RUNS_LIMIT", 100, "`GET /runs?limit=` maximum", ge=1)
    max_targets_bytes: int = setting(
        "FANOUT_MAX_TARGETS_BYTES", 10_485_760, "largest target list object (`targets`, `--file`)", ge=1
    )

    deadline_margin_base_ms: Annotated[
        float, Section("Deadline", "the deadline and retries ([The deadline](deadline.md))")
    ] = setting("FANOUT_DEADLINE_MARGIN_BASE_MS", 250.0, "fixed part of the deadline margin", ge=0)
    deadline_margin_per_url_ms: float = setting(
        "FANOUT_DEADLINE_MARGIN_PER_URL_MS", 0.05, "per-URL part of the deadline margin", ge=0
    )
    deadline_cleanup_per_url_ms: float = setting(
        "FANOUT_DEADLINE_CLEANUP_PER_URL_MS",
        0.07,
        "per request that can be in flight, on a whole vCPU: fetching stops this much (divided by the"
        " function's share of a vCPU) before the answer is due (`work_by` before `answer_by`), until"
        " the process has learned the real cost",
        ge=0,
    )
    function_memory_mb: int = setting(
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        0,
        "set by Lambda: the function's memory size; its share of a vCPU (memory / 1,769 MB) scales"
        " the cleanup allowance; unset: a whole CPU",
        ge=0,
    )
    api_deadline_cap_s: float = setting(
        "FANOUT_API_DEADLINE_CAP_S", 28.0, "longest run behind API Gateway", gt=0
    )
    retry_backoff_base_s: float = setting(
        "FANOUT_RETRY_BACKOFF_BASE_S", 0.1, "full-jitter backoff: its first step", ge=0
    )
    retry_backoff_cap_s: float = setting(
        "FANOUT_RETRY_BACKOFF_CAP_S", 5.0, "full-jitter backoff: its longest step", ge=0
    )
    retry_min_attempt_s: float = setting(
        "FANOUT_RETRY_MIN_ATTEMPT_S", 0.2, "no retry unless at least this much time is left for it", ge=0
    )

    http_transport: Annotated[
        TransportName, Section("Fetching", "the transport, the event loop, trust and the egress guard")
    ] = setting(
        "FANOUT_HTTP_TRANSPORT",
        "aiohttp",
        "`aiohttp` (httpx API over aiohttp's pool) or `httpcore` (httpx's stock transport)",
    )
    event_loop: EventLoopName = setting(
        "FANOUT_EVENT_LOOP",
        "uvloop",
        "the invocation's event loop: `uvloop` (libuv; packaged for Lambda's Linux, `arm64` and"
        " `x86_64`) or `asyncio` (the standard library's). Where uvloop cannot be imported (another"
        " OS, a build without it) `uvloop` falls back to asyncio's loop, logged once as a warning,"
        " not an error",
    )
    user_agent: str = setting("FANOUT_USER_AGENT", "fanout/1.0", "the `User-Agent` of every request")
    ca_bundle: FilePath = setting(
        "FANOUT_CA_BUNDLE",
        "",
        "a PEM file of extra CAs trusted beside the default store (private PKI, tests); must exist."
        " Verification is never switched off",
    )
    egress_allow_cidrs: Cidrs = setting(
        "EGRESS_ALLOW_CIDRS",
        "",
        "networks exempted from the egress guard, comma-separated CIDRs (see [Security](security.md))",
    )
    aws_endpoint_url: str = setting(
        "FANOUT_AWS_ENDPOINT_URL",
        "",
        "where the AWS clients go instead of AWS's endpoints (a local stack: `make api STORE=moto`);"
        " empty on AWS",
    )

    reports_bucket_name: Annotated[
        str,
        Section(
            "Persistence",
            "[Persistence](persistence.md#settings-and-parameters): an empty name turns that store off",
        ),
    ] = setting("REPORTS_BUCKET_NAME", "", "bucket of the reports; empty: off")
    runs_table_name: str = setting("RUNS_TABLE_NAME", "", "table of the run records; empty: off")
    idempotency_table_name: str = setting(
        "IDEMPOTENCY_TABLE_NAME", "", "Powertools idempotency table; empty: off"
    )
    run_retention_days: int = setting(
        "FANOUT_RUN_RETENTION_DAYS", 30, "report lifecycle and record TTL", ge=1
    )
    persist_budget_s: float = setting(
        "FANOUT_PERSIST_BUDGET_S", 1.5, "end of the budget kept for the report and record", gt=0
    )
    store_connect_timeout_s: float = setting(
        "FANOUT_STORE_CONNECT_TIMEOUT_S", 0.5, "botocore connect timeout of every store call", gt=0
    )
    store_read_timeout_s: float = setting(
        "FANOUT_STORE_READ_TIMEOUT_S", 1.0, "botocore read timeout of every store call", gt=0
    )
    store_max_attempts: int = setting(
        "FANOUT_STORE_MAX_ATTEMPTS",
        3,
        "attempts per S3/DynamoDB call (standard retry mode), within the slice",
        ge=1,
    )
    max_answer_bytes: int = setting(
        "FANOUT_MAX_ANSWER_BYTES", 5_000_000, "larger answers carry a pointer (or cut results)", ge=10_000
    )
    report_url_expires_s: int = setting(
        "FANOUT_REPORT_URL_EXPIRES_S",
        3_600,
        "lifetime of the presigned report URL (SigV4's limit: 7 days)",
        ge=1,
        le=604_800,
    )
    idempotency_expires_s: int = setting(
        "FANOUT_IDEMPOTENCY_EXPIRES_S", 7_200, "how long duplicates get the first answer", ge=1
    )
    idempotency_max_answer_bytes: int = setting(
        "FANOUT_IDEMPOTENCY_MAX_ANSWER_BYTES",
        350_000,
        "larger answers are replayed with cut results",
        ge=10_000,
    )

    shard_queue_url: Annotated[
        str, Section("Sharding", "[Sharding](sharding.md): an empty queue URL turns sharding off")
    ] = setting("SHARD_QUEUE_URL", "", "the shard queue; empty: off")
    shard_threshold: int = setting(
        "FANOUT_SHARD_THRESHOLD",
        2_000,
        "direct and scheduled runs with more URLs are sharded (`mode` `auto`)",
        ge=1,
    )
    shard_threshold_api: int = setting(
        "FANOUT_SHARD_THRESHOLD_API",
        500,
        "`POST /fanout` runs with more URLs are sharded (`mode` `auto`)",
        ge=1,
    )
    shard_size: int = setting(
        "FANOUT_SHARD_SIZE", 500, "most URLs in one shard (and at most `FANOUT_MAX_URLS`)", ge=1
    )
    shard_message_max_bytes: int = setting(
        "FANOUT_SHARD_MESSAGE_MAX_BYTES",
        250_000,
        "largest shard message",
        ge=10_000,
        le=SQS_MAX_MESSAGE_BYTES,
    )
    shard_max_generations: int = setting(
        "FANOUT_SHARD_MAX_GENERATIONS",
        3,
        "continuations of a shard's leftovers before they are given up",
        ge=0,
        le=100,
    )
    shard_finish_budget_s: float = setting(
        "FANOUT_SHARD_FINISH_BUDGET_S",
        5.0,
        "end of a shard's budget kept for its results, counts, continuation and the merge",
        gt=0,
    )

    monitors_table_name: Annotated[
        str,
        Section(
            "Monitors",
            "[Monitors](monitors.md#settings): an empty table name turns them off;"
            " empty alert targets send nothing",
        ),
    ] = setting("MONITORS_TABLE_NAME", "", "the monitors table; empty turns monitors off")
    alert_topic_arn: str = setting("ALERT_TOPIC_ARN", "", "the SNS topic alerts go to; empty: none")
    alert_event_bus_name: str = setting(
        "ALERT_EVENT_BUS_NAME", "", "the EventBridge bus alerts go to; empty: none"
    )
    pagerduty_events_url: str = setting(
        "FANOUT_PAGERDUTY_EVENTS_URL",
        "https://events.pagerduty.com/v2/enqueue",
        "where `pagerduty` alert routes send (an EU account: `https://events.eu.pagerduty.com/v2/enqueue`)",
    )
    monitor_budget_s: float = setting(
        "FANOUT_MONITOR_BUDGET_S", 5.0, "the monitor's slice of a run's budget", ge=0
    )
    monitor_concurrency: int = setting(
        "FANOUT_MONITOR_CONCURRENCY",
        32,
        "transactions (and batch reads) of one monitor run in flight at once",
        ge=1,
    )

    status_page_bucket_name: Annotated[
        str,
        Section(
            "Status page",
            "[The status page](status-page.md#settings): an empty bucket name turns it off",
        ),
    ] = setting("STATUS_PAGE_BUCKET_NAME", "", "the status page's bucket; empty turns the page off")
    status_page_url: Annotated[str, AfterValidator(_an_http_url_or_empty)] = setting(
        "STATUS_PAGE_URL",
        "",
        "the page's public address (the stack's `StatusPageUrl`): Slack alerts link the monitor's page;"
        " empty: no link",
    )
    status_page_min_interval_s: float = setting(
        "STATUS_PAGE_MIN_INTERVAL_SECONDS",
        60.0,
        "seconds between two renders of the page (per deployment) when no URL changed state",
        ge=0,
    )

    region: Annotated[
        str,
        Section(
            "Regions",
            "[Probes from several regions](monitors.md#regions): where this deployment runs, and its"
            " home region (where regional monitors keep their state and alerts)",
        ),
    ] = setting("AWS_REGION", "", "the region this function runs in (Lambda sets it)")
    home_region: str = setting(
        "FANOUT_HOME_REGION", "", "the home region of regional monitors; empty: this region is home"
    )
    region_reports_queue_url: str = setting(
        "FANOUT_REGION_REPORTS_QUEUE_URL",
        "",
        "the home region's queue of region reports (a probe region sends its reports there)",
    )
    region_outbox_queue_url: str = setting(
        "FANOUT_REGION_OUTBOX_QUEUE_URL",
        "",
        "this region's outbox: reports kept while the home region cannot be reached",
    )
    home_endpoint_url: Annotated[str, AfterValidator(_an_http_url_or_empty)] = setting(
        "FANOUT_HOME_ENDPOINT_URL",
        "",
        "the endpoint of the home region's queue (a VPC endpoint); empty: the region's public one",
    )
    round_max_age_s: float = setting(
        "FANOUT_ROUND_MAX_AGE_S",
        900.0,
        "a round older than this (from its scheduled time) is closed undecided; later reports are dropped"
        " and counted",
        ge=60,
        le=86_400,
    )

    @property
    def is_home(self) -> bool:
        """This deployment is its regional monitors' home (no home named, or this region named)."""
        return not self.home_region or self.home_region == self.region

    @model_validator(mode="after")
    def _defaults_within_their_maxima(self) -> Self:
        for name, field in type(self).model_fields.items():
            for bound in field.metadata:
                if isinstance(bound, AtMost) and getattr(self, name) > getattr(self, bound.field):
                    maximum = type(self).model_fields[bound.field].validation_alias
                    raise PydanticCustomError(
                        "above_its_maximum",
                        "must be <= {maximum} ({limit})",
                        {"setting": name, "maximum": maximum, "limit": getattr(self, bound.field)},
                    )
        return self
