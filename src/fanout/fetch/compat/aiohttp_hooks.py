"""aiohttp's internals the transport relies on (checked against aiohttp 3.14.5).

Public APIs tried first, and why each falls short:

- Phase timings: ``TraceConfig``'s ``on_connection_create_start/end`` span name resolution,
  TCP connect and the TLS handshake as one interval (no signal between TCP up and TLS done),
  so ``connect_ms`` and ``tls_ms`` cannot be told apart. It is also dear: with any
  ``TraceConfig`` aiohttp makes a ``Trace`` per request and awaits a coroutine per signal
  point: measured, a clear rise in CPU per request on both loops even with three signals.
  The connection's own protocol sees both instants for free: ``use_protocol_factory``.
- Peer and TLS facts: ``response.connection.transport.get_extra_info(...)`` is empty for a
  body that arrives with the headers (the connection is back in the pool, and
  ``response.connection`` is ``None``, before ``session.request`` returns); the response
  keeps its protocol: ``response_protocol``.
- No silent re-send: no ``ClientSession`` argument turns the retry of an idempotent request on
  a dropped kept-alive connection off; aiohttp's own test client sets the same attribute
  (``aiohttp.test_utils.TestClient``): ``turn_off_connection_retry``.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable

import aiohttp
from aiohttp.client_proto import ResponseHandler

CHECKED_AGAINST = "aiohttp 3.14.5"


def use_protocol_factory(
    connector: aiohttp.TCPConnector, factory: Callable[[asyncio.AbstractEventLoop], ResponseHandler]
) -> None:
    """Make ``connector``'s connections with ``factory(loop)`` (a ``ResponseHandler`` subclass).

    aiohttp calls its ``_factory`` once a connection's TCP is up (before TLS, if any) and the
    protocol's ``connection_made`` once it is ready; call inside the connector's running loop.
    """
    connector._factory = functools.partial(factory, asyncio.get_running_loop())


def response_protocol(response: aiohttp.ClientResponse) -> ResponseHandler | None:
    """The protocol of the connection that answered ``response``, even once released to the pool."""
    return getattr(response, "_protocol", None)


def turn_off_connection_retry(session: aiohttp.ClientSession) -> None:
    """No second send of an idempotent request when a reused connection drops: the fetcher owns
    retries (its rules, its attempt count)."""
    session._retry_connection = False
