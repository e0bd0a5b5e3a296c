"""Sending one alert along a monitor's own routes (``monitor.alerts``: webhook, Slack, PagerDuty),
next to the deployment's topic and bus (docs/monitors.md#alerts).

Secrets (a route's URL, signing secret or routing key written as a reference) are read at send
time through ``fanout.aws.secrets`` (cached by it) and used for the request only: never logged,
never stored. A route that answers 410 is stopped: the alert counts as delivered there (a retry
would meet the same 410), the route is kept in ``gone`` (the monitor's summary carries it to later
runs) and a ``channel_gone`` alert goes to the monitor's other routes. A route whose secret
cannot be read, whose URL cannot be parsed, or whose URL the egress guard refuses, fails: the
alert stays pending for it (and only for it).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import httpx

from fanout.aws.alerts import AlertSinks
from fanout.aws.secrets import resolve
from fanout.aws.session import AwsClients
from fanout.config import Settings
from fanout.core.alerts import AlertMessage
from fanout.core.channels import pagerduty_event, slack_message
from fanout.core.model import encode
from fanout.core.monitors import MonitorSpec
from fanout.core.routes import PagerDutyRoute, Route, SlackRoute, WebhookRoute, route_id
from fanout.core.secret_refs import Reference, Unresolved, references, resolved_body
from fanout.core.signing import BadSecret, signed_headers, split_secrets
from fanout.fetch.delivery import Delivered, Deliveries, Signer
from fanout.observability.log import logger


@dataclass(slots=True)
class RouteOutcome:
    """What one alert's sending along the routes did."""

    done: set[str] = field(default_factory=set)  # route ids that have it (or are gone)
    gone: set[str] = field(default_factory=set)  # route ids that answered 410 now
    errors: dict[str, str] = field(default_factory=dict)  # route id -> why not


def _texts(route: Route) -> list[str]:
    """The route's strings that may hold references."""
    if isinstance(route, PagerDutyRoute):
        return [route.routing_key]
    return [route.url, *(route.secrets if isinstance(route, WebhookRoute) else [])]


def _value(text: str, values: dict[Reference, str | Unresolved]) -> str:
    """``text`` with its references replaced (raises ``Unresolved``)."""
    return str(resolved_body(text, values))


class AlertRoutes:
    """A monitor's routes for one run: which are live, and sending an alert along them."""

    def __init__(
        self,
        routes: Sequence[Route],
        settings: Settings,
        clients: AwsClients,
        deliveries: Deliveries,
        *,
        gone: Iterable[str] = (),
        status_page: str | None = None,
    ) -> None:
        self._settings, self._clients, self._deliveries = settings, clients, deliveries
        self._status_page = status_page  # the monitor's page, linked from Slack
        self.gone = set(gone)
        self._routes = {route_id(r): r for r in routes}
        self._values: dict[Reference, str | Unresolved] | None = None
        self._reading = asyncio.Lock()

    @property
    def ids(self) -> frozenset[str]:
        """The routes an alert is owed to (those stopped by a 410 are not)."""
        return frozenset(self._routes) - self.gone

    async def _resolved(self, before: float) -> dict[Reference, str | Unresolved]:
        async with self._reading:
            if self._values is None:
                wanted = references({}, [t for r in self._routes.values() for t in _texts(r)])
                self._values = await resolve(wanted, self._clients, before=before) if wanted else {}
            return self._values

    async def send(
        self, message: AlertMessage, subject: str, targets: Iterable[str], before: float
    ) -> RouteOutcome:
        """Send ``message`` along each of ``targets`` (route ids), concurrently."""
        outcome = RouteOutcome()
        wanted = sorted(set(targets) & self.ids)
        if not wanted:
            return outcome
        values = await self._resolved(before)
        async with asyncio.TaskGroup() as group:
            tasks = {
                rid: group.create_task(self._one(self._routes[rid], message, subject, values, before))
                for rid in wanted
            }
        for rid, task in tasks.items():
            delivered = task.result()
            if delivered.ok or delivered.gone:
                outcome.done.add(rid)
            if delivered.gone:
                outcome.gone.add(rid)
                self.gone.add(rid)
            elif not delivered.ok:
                outcome.errors[rid] = delivered.error or "not delivered"
        return outcome

    async def tell_gone(self, sinks: AlertSinks, message: AlertMessage, gone: str, before: float) -> None:
        """A ``channel_gone`` alert to the topic, the bus and every live route, once, in this run."""
        subject, notice = channel_gone(message, gone)
        attributes = {"monitor": message.monitor, "to": "channel_gone"}
        sent, _ = await sinks.send(subject, notice, attributes, before, targets=sinks.targets)
        routed = await self.send(notice, subject, self.ids, before)
        log_route_errors(message.monitor, notice, routed)
        told = sorted(sent | routed.done)
        logger.warning("alert route gone", extra={"monitor": message.monitor, "route": gone, "told": told})

    async def _one(
        self,
        route: Route,
        message: AlertMessage,
        subject: str,
        values: dict[Reference, str | Unresolved],
        before: float,
    ) -> Delivered:
        try:
            url, body, sign = self._request(route, message, subject, values)
        except (Unresolved, BadSecret) as exc:
            return Delivered(False, None, 0, f"secret unavailable: {exc}")
        try:
            return await self._deliveries.post(url, body, before=before, sign=sign)
        except httpx.InvalidURL:  # not an HTTPError: it would cancel the other routes' sends
            return Delivered(False, None, 0, "invalid URL")  # its text may quote a secret URL

    def _request(
        self, route: Route, message: AlertMessage, subject: str, values: dict[Reference, str | Unresolved]
    ) -> tuple[str, bytes, Signer | None]:
        """The URL, the exact body and the signer of one route's request."""
        if isinstance(route, PagerDutyRoute):
            key = _value(route.routing_key, values)
            return self._settings.pagerduty_events_url, encode(pagerduty_event(message, subject, key)), None
        url = _value(route.url, values)
        if isinstance(route, SlackRoute):
            return url, encode(slack_message(message, subject, status_page=self._status_page)), None
        secrets = [s for text in route.secrets for s in split_secrets(_value(text, values))]
        body = message.to_bytes()
        if not secrets:
            return url, body, None

        def sign(sent: bytes) -> dict[str, str]:
            return signed_headers(secrets, message.id, int(time.time()), sent)

        signed_headers(secrets, message.id, 0, b"")  # a bad secret fails here, before any request
        return url, body, sign


def status_page_link(spec: MonitorSpec, settings: Settings) -> str | None:
    """The monitor's page on the status page (none when the page is off or leaves it out)."""
    if not settings.status_page_url or not settings.status_page_bucket_name or spec.public is False:
        return None
    return f"{settings.status_page_url.rstrip('/')}/monitors/{spec.name}.html"


def channel_gone(message: AlertMessage, gone: str) -> tuple[str, AlertMessage]:
    """The alert that tells the other routes that ``gone`` answered 410 (its id derived from the
    alert's and the route's, so a receiver dedupes a repeat)."""
    notice = message.replaced(
        id=hashlib.sha256(f"{message.id}\n{gone}".encode()).hexdigest()[:32],
        event="channel_gone",
        outcome=f"route {gone} answered 410 Gone and is stopped",
    )
    return f"[fanout] {message.monitor}: alert route {gone} is gone (410)", notice


def log_route_errors(monitor: str, message: AlertMessage, outcome: RouteOutcome) -> None:
    """One line per route that did not take the alert (the reason only: never a secret's value)."""
    for rid, why in sorted(outcome.errors.items()):
        logger.warning(
            "alert not delivered", extra={"monitor": monitor, "url": message.url, "route": rid, "error": why}
        )
