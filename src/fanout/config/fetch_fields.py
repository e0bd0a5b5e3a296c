"""The settings of a run's fetch: the requests (each option's default and maximum), the deadline
and retries, and fetching itself (the transport, the loop, trust, the egress guard). A group of
``Settings`` fields, declared here and collected by the model once (``fanout.config.model``).
"""

from __future__ import annotations

from typing import Annotated

from fanout.config.fields import AtMost, Cidrs, EventLoopName, FilePath, Section, TransportName, setting


class FetchFields:
    """The requests', the deadline's and fetching's settings (not a model: ``Settings`` is)."""

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
