"""The AWS clients' TLS: one verifying context per CA bundle for the process, still verifying.

An HTTPS server on 127.0.0.1 with a certificate from a private CA (``trustme``) stands in for an
AWS endpoint. Each invocation's clients are made in a loop of their own (``asyncio.run``), as on
Lambda; the context they verify with is the process's, made once.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterator

import pytest

from devtools.demo_checks import DemoTls
from devtools.demo_target import DemoTarget
from fanout.aws.session import AwsClients, ClientConfig, Service, shared_tls_session_cls
from fanout.errors import StoreError
from tests.support import point_aws_at


@pytest.fixture(scope="module")
def tls() -> Iterator[DemoTls]:
    made = DemoTls()
    yield made
    made.close()


@pytest.fixture(scope="module")
def https_endpoint(tls: DemoTls) -> Iterator[str]:
    with DemoTarget(ssl_context=tls.server_context()) as server:
        yield server.base_url


def invocation(endpoint: str, service: Service = "s3") -> tuple[str, ssl.SSLContext | bool]:
    """One invocation's clients: the outcome of a call to ``endpoint``, and the TLS context its
    client's connector verified with."""

    async def run() -> tuple[str, ssl.SSLContext | bool]:
        async with AwsClients(ClientConfig(max_attempts=1, endpoint_url=endpoint)) as clients:
            client = await clients.client(service)
            loop = asyncio.get_running_loop()
            method = client.list_buckets if service == "s3" else client.list_tables
            try:
                await clients.call("probe", loop.time() + 5, method)
                outcome = "answered"
            except StoreError as exc:
                outcome = exc.error_type
            http = client._endpoint.http_session
            assert isinstance(http, shared_tls_session_cls())
            (session,) = http._sessions.values()
            return outcome, session.connector._ssl

    return asyncio.run(run())


def test_an_untrusted_endpoint_is_refused_with_the_shared_context(
    https_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    point_aws_at(monkeypatch, https_endpoint)
    first, first_tls = invocation(https_endpoint)
    second, second_tls = invocation(https_endpoint, "dynamodb")
    assert first == second == "SSLError"  # the private CA is not in the default bundle
    assert isinstance(first_tls, ssl.SSLContext)
    assert first_tls is second_tls  # made once, for both invocations and both services
    assert first_tls.verify_mode is ssl.CERT_REQUIRED
    assert first_tls.cert_store_stats()["x509_ca"] > 100  # the default bundle, loaded


def test_a_ca_bundle_of_the_deployment_gets_a_context_of_its_own(
    https_endpoint: str, tls: DemoTls, monkeypatch: pytest.MonkeyPatch
) -> None:
    point_aws_at(monkeypatch, https_endpoint)
    _, default_tls = invocation(https_endpoint)
    monkeypatch.setenv("AWS_CA_BUNDLE", str(tls.ca_file))
    first, bundle_tls = invocation(https_endpoint)
    second, again = invocation(https_endpoint)
    assert first == second == "404"  # verified, then answered over TLS (the target is no S3)
    assert bundle_tls is again
    assert bundle_tls is not default_tls
    assert isinstance(bundle_tls, ssl.SSLContext)
    assert bundle_tls.cert_store_stats()["x509_ca"] == 1


def test_without_verification_no_context_is_shared() -> None:
    """``verify=False`` (never set by the service) keeps aiobotocore's own connector."""

    async def run() -> ssl.SSLContext | bool:
        async with shared_tls_session_cls()(verify=False) as http:
            connector = http._create_connector(None)
            try:
                tls: ssl.SSLContext | bool = connector._ssl
                return tls
            finally:
                await connector.close()

    assert asyncio.run(run()) is False


def test_the_s3_client_presigns_in_sigv4_with_the_shared_context(
    https_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """S3's signature version and the shared TLS session travel in one config (``AioConfig.merge``
    would drop the session class)."""
    point_aws_at(monkeypatch, https_endpoint)

    async def run() -> tuple[str, object]:
        async with AwsClients(ClientConfig(endpoint_url=https_endpoint)) as clients:
            s3 = await clients.client("s3")
            url: str = await s3.generate_presigned_url(
                "get_object", Params={"Bucket": "b", "Key": "k"}, ExpiresIn=60
            )
            return url, s3._endpoint.http_session

    url, http = asyncio.run(run())
    assert "X-Amz-Algorithm=AWS4-HMAC-SHA256" in url
    assert isinstance(http, shared_tls_session_cls())
