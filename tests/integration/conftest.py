"""Integration fixtures: ``fetch_run`` against the real demo target, over both transports, and the
function as deployed with its stores on moto (``deployed``, shaped by a module's ``deployment`` mark)
and its shard queue (``queue``).

Every test using ``fanout`` is also a hygiene test: after it, the server must see no
connection left open. And no test here may make asyncio report an error ("Task was
destroyed but it is pending", "Task exception was never retrieved", "Unclosed client
session", ...): those go to the ``asyncio`` logger, not through warnings.
"""

from __future__ import annotations

import gc
import logging
import socket
from collections.abc import Callable, Iterator

import pytest

from devtools.demo_target import DemoTarget
from devtools.local_aws import Resources
from fanout.config import SQS_MAX_MESSAGE_BYTES, Settings, TransportName, get_settings
from tests.support import (
    TRANSPORTS,
    Deployment,
    Fanout,
    MotoAws,
    Queue,
    open_connections_after,
    point_aws_at,
)

STACK: dict[str, Callable[[Resources], dict[str, str]]] = {
    "reports": lambda r: {"reports_bucket_name": r.bucket},
    "runs": lambda r: {"runs_table_name": r.runs_table},
    "idempotency": lambda r: {"idempotency_table_name": r.idempotency_table},
    "shards": lambda r: {"shard_queue_url": r.shard_queue_url},
    "monitors": lambda r: {"monitors_table_name": r.monitors_table},
    "alerts": lambda r: {"alert_topic_arn": r.alert_topic_arn, "alert_event_bus_name": r.alert_event_bus},
    "status_page": lambda r: {"status_page_bucket_name": r.status_bucket},
    "regions": lambda r: {
        "region_reports_queue_url": r.region_reports_queue_url,
        "region_outbox_queue_url": r.region_outbox_queue_url,
    },
}
"""The template's resources a deployment can have, as the settings that name them."""


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "deployment(*resources, **settings): what `deployed` has on moto (of "
        f"{', '.join(STACK)}; the others off) and further settings",
    )


class _Keep(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(autouse=True)
def _no_asyncio_errors() -> Iterator[None]:
    keep = _Keep()
    asyncio_logger = logging.getLogger("asyncio")
    asyncio_logger.addHandler(keep)
    try:
        yield
        gc.collect()  # what was left behind is reported when it is collected
    finally:
        asyncio_logger.removeHandler(keep)
    assert not keep.records, [r.getMessage() for r in keep.records]


@pytest.fixture(params=TRANSPORTS)
def settings(request: pytest.FixtureRequest) -> Settings:
    transport: TransportName = request.param
    return get_settings().model_copy(update={"http_transport": transport})


@pytest.fixture
def fanout(fresh_target: DemoTarget, settings: Settings) -> Iterator[Fanout]:
    yield Fanout(fresh_target, settings)
    # Whatever the test did, nothing it opened may stay open at the server.
    assert open_connections_after(fresh_target) == 0, "a connection outlived the test's runs"


@pytest.fixture(scope="session")
def localhost_is_loopback() -> None:
    """The per-host tests reach the target as ``localhost`` too: it must be 127.0.0.1."""
    addresses = {info[4][0] for info in socket.getaddrinfo("localhost", 80, type=socket.SOCK_STREAM)}
    assert "127.0.0.1" in addresses, f"localhost resolves to {addresses}"


@pytest.fixture(scope="module")
def aws() -> Iterator[MotoAws]:
    """moto in server mode on 127.0.0.1 with the template's resources, one per test module."""
    with MotoAws() as moto:
        yield moto


@pytest.fixture
def deployed(aws: MotoAws, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Deployment:
    """The function as deployed: the resources its module's ``deployment`` mark names, on ``aws``.

    Every resource the mark leaves out is off (its setting empty): a module says all it relies on.
    """
    mark = request.node.get_closest_marker("deployment")
    if mark is None:
        raise pytest.UsageError(f"{request.node.nodeid}: `deployed` needs a deployment(...) mark")
    unknown = set(mark.args) - set(STACK)
    if unknown:
        raise pytest.UsageError(f"deployment(...): no such resource {sorted(unknown)}")
    changes = {name: "" for named in STACK.values() for name in named(aws.resources)}
    for resource in mark.args:
        changes |= STACK[resource](aws.resources)
    point_aws_at(monkeypatch, aws.endpoint)  # subprocesses (the CLI) inherit these credentials
    deployment = Deployment(monkeypatch, get_settings())
    deployment.configure(**changes | mark.kwargs)
    return deployment


@pytest.fixture
def queue(aws: MotoAws, deployed: Deployment) -> Iterator[Queue]:
    """The deployment's shard queue, empty, read as the event source mapping reads it; no message
    the test saw may have been larger than SQS or the deployment allow."""
    q = Queue(aws, aws.resources.shard_queue_url)
    q.purge()
    yield q
    q.purge()
    assert all(size <= SQS_MAX_MESSAGE_BYTES for size in q.body_sizes)
    assert all(size <= deployed.settings.shard_message_max_bytes for size in q.body_sizes)
