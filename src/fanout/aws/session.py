"""AWS clients for one invocation (aioboto3), made inside its event loop, every call bounded.

The clients hold aiohttp sessions bound to the loop: they are made on first use and closed
when the ``AwsClients`` context exits, so nothing outlives the invocation. ``aioboto3`` is
imported on first use only: a run with every store off never pays for it. What is pure data is
kept for the process, so a warm invocation's clients skip making it again (docs/benchmarks.md):
botocore's data loader (the parsed service models) and the TLS context that verifies the
endpoints (the CA bundle loaded once, not once per client per invocation: ``SharedTlsSession``).

Every call is bounded twice: by botocore (connect/read timeouts, standard retry mode,
``max_attempts``) and by ``asyncio.timeout_at`` at the slice of the deadline the caller
gives it (``call``). Endpoint names are resolved by the resolver the caller supplies
(``dns``: the orchestration hands in c-ares on the loop, never aiohttp's threaded
``getaddrinfo``), so an endpoint whose name never resolves costs at most the call's slice.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable, Iterable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal, Protocol, TypeVar

from aiohttp.abc import AbstractResolver

from fanout.config import Settings
from fanout.errors import StoreError

T = TypeVar("T")
Service = Literal["s3", "dynamodb", "sqs", "sns", "events", "secretsmanager", "ssm"]

_loader: Any = None  # botocore's data loader: parsed service models, reused by every session
_tls_contexts: dict[str, ssl.SSLContext] = {}  # CA bundle path -> its verifying context
_http_session_cls: Any = None  # SharedTlsSession, made on first use (it subclasses aiobotocore's)


class ClientDns(Protocol):
    """Name resolution for the clients' connectors, closed after them."""

    def connector_resolver(self) -> AbstractResolver: ...

    async def aclose(self) -> None: ...


DnsFactory = Callable[[float], ClientDns]
"""Makes the clients' resolver (inside the loop) for lookups bounded by the given seconds."""


@dataclass(frozen=True, slots=True)
class ClientConfig:
    """How every client behaves: botocore's timeouts and attempts."""

    connect_timeout_s: float = 0.5
    read_timeout_s: float = 1.0
    max_attempts: int = 3
    endpoint_url: str = ""  # a local stack's; empty: botocore's own (and its AWS_ENDPOINT_URL*)

    @classmethod
    def from_settings(cls, settings: Settings, *, max_attempts: int | None = None) -> ClientConfig:
        return cls(
            connect_timeout_s=settings.store_connect_timeout_s,
            read_timeout_s=settings.store_read_timeout_s,
            max_attempts=settings.store_max_attempts if max_attempts is None else max_attempts,
            endpoint_url=settings.aws_endpoint_url,
        )


def _new_session() -> Any:
    """An aioboto3 session per invocation (credentials may be loop-bound), sharing the loader."""
    global _loader
    import aioboto3
    from aiobotocore.session import AioSession

    core = AioSession()
    if _loader is None:
        _loader = core.get_component("data_loader")
    else:
        core.register_component("data_loader", _loader)
    return aioboto3.Session(botocore_session=core)


def forget_tls_contexts() -> None:
    """Drop the process's AWS TLS contexts (a restored snapshot must not share their sessions)."""
    _tls_contexts.clear()


def tls_context(ca_bundle: str) -> ssl.SSLContext:
    """The process's context verifying against ``ca_bundle``, made as aiobotocore makes its own.

    A context holds no loop, socket or session, only settings and the trust store: sharing it
    across invocations carries nothing over but the parsed CA bundle. It is made by a client's
    first connection, in an invocation, never at init: no SnapStart snapshot holds one.
    """
    context = _tls_contexts.get(ca_bundle)
    if context is None:
        from botocore.httpsession import create_urllib3_context

        context = create_urllib3_context()
        context.load_verify_locations(ca_bundle, None, None)
        _tls_contexts[ca_bundle] = context
    return context


def shared_tls_session_cls() -> Any:
    """aiobotocore's HTTP session class, but its connectors verify with ``tls_context``.

    aiobotocore loads the CA bundle into a new context for every client's connector (tens of ms
    each: most of a short shard invocation's own time). Only the plain case is changed: with a
    proxy, a client certificate or ``verify=False``, aiobotocore's own connector is made.
    """
    global _http_session_cls
    if _http_session_cls is None:
        import aiohttp
        from aiobotocore.httpsession import AIOHTTPSession
        from botocore.httpsession import get_cert_path

        class SharedTlsSession(AIOHTTPSession):  # type: ignore[misc]
            def _create_connector(self, proxy_url: str | None) -> aiohttp.TCPConnector:
                ca_bundle = get_cert_path(self._verify) if self._verify else None
                if proxy_url or self._cert_file or not isinstance(ca_bundle, str):
                    return super()._create_connector(proxy_url)  # type: ignore[no-any-return]
                return aiohttp.TCPConnector(
                    limit=self._max_pool_connections, ssl=tls_context(ca_bundle), **self._connector_args
                )

        _http_session_cls = SharedTlsSession
    return _http_session_cls


def preload() -> None:
    """Import aioboto3 and parse the S3, DynamoDB and SQS models now, creating no client.

    For an init that is paid once (SnapStart's before-snapshot hook): the first run's clients
    are then made in milliseconds. Nothing here holds a loop or a connection.
    """
    _new_session()
    for service in ("s3", "dynamodb", "sqs"):
        for kind in ("service-2", "endpoint-rule-set-1"):
            _loader.load_service_model(service, kind)


def error_type(exc: BaseException) -> str:
    """AWS's error code for a botocore error, else the exception's class name."""
    response = getattr(exc, "response", None)
    code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
    return str(code) if code else type(exc).__name__


class AwsClients:
    """S3, DynamoDB and SQS clients for one invocation: ``async with AwsClients(config, dns)``."""

    def __init__(self, config: ClientConfig, dns: DnsFactory | None = None) -> None:
        self.config = config
        self._dns_factory = dns
        self._stack = AsyncExitStack()
        self._session: Any = None
        self._resolver: AbstractResolver | None = None
        self._clients: dict[str, Any] = {}

    async def __aenter__(self) -> AwsClients:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._stack.aclose()

    def _start(self) -> None:
        self._session = _new_session()
        if self._dns_factory is not None:
            c = self.config
            dns = self._dns_factory(c.connect_timeout_s + c.read_timeout_s)
            self._stack.push_async_callback(dns.aclose)  # closed after every client
            self._resolver = dns.connector_resolver()

    async def client(self, service: Service, *, region: str = "", endpoint_url: str = "") -> Any:
        """The service's client, created in this loop on first use; ``region`` and ``endpoint_url``
        name another region's (a probe region's calls to its home region), on the same session."""
        key = f"{service}@{region}@{endpoint_url}" if region or endpoint_url else service
        if key not in self._clients:
            from aiobotocore.config import AioConfig

            if self._session is None:
                self._start()
            c = self.config
            connector_args = {} if self._resolver is None else {"resolver": self._resolver}
            # S3: presigned URLs in SigV4 (up to 7 days), not legacy SigV2. Passed here, not by
            # ``merge``: AioConfig.merge drops ``http_session_cls``.
            signing = {"signature_version": "s3v4"} if service == "s3" else {}
            config = AioConfig(
                connector_args=connector_args,
                http_session_cls=shared_tls_session_cls(),
                connect_timeout=c.connect_timeout_s,
                read_timeout=c.read_timeout_s,
                retries={"mode": "standard", "total_max_attempts": c.max_attempts},
                **signing,
            )
            where: dict[str, str] = {"region_name": region} if region else {}
            if endpoint_url or c.endpoint_url:
                where["endpoint_url"] = endpoint_url or c.endpoint_url
            self._clients[key] = await self._stack.enter_async_context(
                self._session.client(service, config=config, **where)
            )
        return self._clients[key]

    async def open(self, services: Iterable[Service], *, before: float) -> dict[str, Exception]:
        """Make the clients a run will need now, before the fan-out, not in the persist slice.

        Making a client does not touch the network; what failed is returned (the store's own
        call then fails later, within its slice).
        """
        failures: dict[str, Exception] = {}
        for service in services:
            try:
                async with asyncio.timeout_at(before):
                    await self.client(service)
            except Exception as exc:
                failures[service] = exc
        return failures

    async def call(self, what: str, before: float, make: Callable[[], Awaitable[T]]) -> T:
        """``await make()`` before ``before``; any failure becomes a ``StoreError``."""
        try:
            async with asyncio.timeout_at(before) as scope:
                return await make()
        except TimeoutError:
            if scope.expired():
                raise StoreError(
                    f"{what}: no answer within its time slice", error_type="Timeout", timed_out=True
                ) from None
            raise StoreError(f"{what}: timed out", error_type="TimeoutError") from None
        except StoreError:
            raise
        except Exception as exc:
            raise StoreError(f"{what}: {exc}", error_type=error_type(exc)) from exc
