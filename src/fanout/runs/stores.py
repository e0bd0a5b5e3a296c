"""Which stores a deployment has, and the invocation's adapters over them.

An empty bucket, table or queue name turns that store off; the answer says so in its
``persisted`` section. The AWS clients resolve endpoint names with c-ares on the
invocation's loop (``fanout.fetch.dns``), handed to them here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING

from fanout.aws.alerts import AlertSinks
from fanout.aws.session import AwsClients, ClientConfig, Service
from fanout.config import Settings
from fanout.fetch.dns import AresResolver
from fanout.observability.log import logger

if TYPE_CHECKING:  # each store's adapter is imported when the deployment has that store (cold start)
    from fanout.aws.history_table import HistoryTable
    from fanout.aws.monitors_table import MonitorsTable
    from fanout.aws.region_queues import RegionQueues
    from fanout.aws.reports import Reports
    from fanout.aws.runs_table import RunsTable
    from fanout.aws.shard_queue import ShardQueue


@dataclass(frozen=True, slots=True)
class StoreConfig:
    """Which stores are on, and how their clients behave (from ``Settings``)."""

    reports_bucket: str = ""
    runs_table: str = ""
    shard_queue_url: str = ""
    monitors_table: str = ""
    alert_topic_arn: str = ""
    alert_event_bus_name: str = ""
    status_page_bucket: str = ""
    home_region: str = ""  # a probe region's home (empty: this region is home, nothing to send)
    region_reports_queue_url: str = ""
    region_outbox_queue_url: str = ""
    home_endpoint_url: str = ""
    retention_days: int = 30
    report_url_expires_s: int = 3_600
    client: ClientConfig = field(default_factory=ClientConfig)

    @classmethod
    def from_settings(cls, settings: Settings) -> StoreConfig:
        return cls(
            reports_bucket=settings.reports_bucket_name,
            runs_table=settings.runs_table_name,
            shard_queue_url=settings.shard_queue_url,
            monitors_table=settings.monitors_table_name,
            alert_topic_arn=settings.alert_topic_arn,
            alert_event_bus_name=settings.alert_event_bus_name,
            status_page_bucket=settings.status_page_bucket_name,
            home_region="" if settings.is_home else settings.home_region,
            region_reports_queue_url=settings.region_reports_queue_url,
            region_outbox_queue_url=settings.region_outbox_queue_url,
            home_endpoint_url=settings.home_endpoint_url,
            retention_days=settings.run_retention_days,
            report_url_expires_s=settings.report_url_expires_s,
            client=ClientConfig.from_settings(settings),
        )

    @property
    def reports_on(self) -> bool:
        return bool(self.reports_bucket)

    @property
    def runs_on(self) -> bool:
        return bool(self.runs_table)

    @property
    def any_on(self) -> bool:
        return self.reports_on or self.runs_on

    @property
    def monitors_on(self) -> bool:
        return bool(self.monitors_table)

    @property
    def probe_on(self) -> bool:
        """A probe region: its regional monitors' reports go to the home region's queue."""
        return bool(self.home_region and self.region_reports_queue_url)

    @property
    def sharding_on(self) -> bool:
        """Sharded runs need the queue, the runs table and the reports bucket."""
        return bool(self.shard_queue_url and self.runs_on and self.reports_on)


def c_ares(budget_s: float) -> AresResolver:
    return AresResolver(budget_s=budget_s)


class RunStores:
    """The invocation's stores (those that are on): ``async with RunStores(config)``."""

    def __init__(self, config: StoreConfig) -> None:
        self.config = config
        self.clients = clients = AwsClients(config.client, dns=c_ares)
        self.reports: Reports | None = None
        self.runs: RunsTable | None = None
        self.queue: ShardQueue | None = None
        self.monitors: MonitorsTable | None = None
        self.history: HistoryTable | None = None
        if config.reports_on:
            from fanout.aws.reports import Reports

            self.reports = Reports(clients, config.reports_bucket)
        if config.runs_on:
            from fanout.aws.runs_table import RunsTable

            self.runs = RunsTable(clients, config.runs_table, retention_days=config.retention_days)
        if config.shard_queue_url:
            from fanout.aws.shard_queue import ShardQueue

            self.queue = ShardQueue(clients, config.shard_queue_url)
        if config.monitors_on:
            from fanout.aws.history_table import HistoryTable
            from fanout.aws.monitors_table import MonitorsTable

            self.monitors = MonitorsTable(clients, config.monitors_table)
            self.history = HistoryTable(clients, config.monitors_table)
        self.regions: RegionQueues | None = None
        if config.probe_on:
            from fanout.aws.region_queues import RegionQueues

            self.regions = RegionQueues(
                clients,
                home_region=config.home_region,
                reports_url=config.region_reports_queue_url,
                outbox_url=config.region_outbox_queue_url,
                home_endpoint_url=config.home_endpoint_url,
            )
        self.alerts = AlertSinks(
            self.clients, topic_arn=config.alert_topic_arn, bus_name=config.alert_event_bus_name
        )

    async def __aenter__(self) -> RunStores:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.clients.__aexit__(exc_type, exc, tb)

    async def open(self, *, before: float, queue: bool = False, monitor: bool = False) -> None:
        """Make the clients of the stores that are on now, before the fan-out; failures are
        logged (the store's own call then fails within its slice)."""
        services: list[Service] = []
        if self.reports is not None:
            services.append("s3")
        if self.runs is not None:
            services.append("dynamodb")
        if queue and self.queue is not None:
            services.append("sqs")
        if monitor and self.monitors is not None:
            if "dynamodb" not in services:
                services.append("dynamodb")
            if self.alerts.topic_arn:
                services.append("sns")
            if self.alerts.bus_name:
                services.append("events")
            if self.config.status_page_bucket and "s3" not in services:
                services.append("s3")
        if monitor and self.regions is not None and "sqs" not in services:
            services.append("sqs")  # the outbox's (the home region's client is made when used)
        for service, exc in (await self.clients.open(services, before=before)).items():
            logger.warning("store client not created", extra={"service": service, "error": repr(exc)})
