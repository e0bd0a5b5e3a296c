"""The settings of the service around a run's fetch: persistence, sharding, monitors, the status
page and regions. A group of ``Settings`` fields, declared here and collected by the model once
(``fanout.config.model``).
"""

from __future__ import annotations

from typing import Annotated

from fanout.config.fields import SQS_MAX_MESSAGE_BYTES, HttpUrlOrEmpty, Section, setting


class ServiceFields:
    """Persistence's, sharding's, monitors', the status page's and regions' settings (not a model:
    ``Settings`` is)."""

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
        "FANOUT_SHARD_SIZE",
        500,
        "URLs in one shard unless the run sets `options.shard_size` (at most `FANOUT_MAX_URLS`)",
        ge=1,
    )
    min_shard_size: int = setting(
        "FANOUT_MIN_SHARD_SIZE", 100, "the smallest `options.shard_size` a run may ask for", ge=1
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
    shard_max_concurrency: int = setting(
        "FANOUT_SHARD_MAX_CONCURRENCY",
        10,
        "shards that may run at once (the shard queue's `MaximumConcurrency`): a paced run's shards"
        " share each host's `per_host_rps` among that many",
        ge=1,
        le=1_000,
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
    status_page_url: HttpUrlOrEmpty = setting(
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
    home_endpoint_url: HttpUrlOrEmpty = setting(
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
