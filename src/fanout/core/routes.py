"""A monitor's alert routes as a request writes them (``monitor.alerts``): a signed ``webhook``,
a ``slack`` incoming webhook, a ``pagerduty`` Events API v2 integration (docs/monitors.md#alerts).

A webhook's URL may be a secret reference (``${secretsmanager:...}``); a webhook secret, a Slack
URL and a routing key must be one. Routes are kept as written (in the request, the schedule, the
stored state) and references are read only to send. A route is known by ``route_id``: a short
digest of where it sends, never a secret's value.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from fanout.core.secret_refs import REFERENCE, reference_problem


def _reference_or(check: str) -> Any:
    def checked(value: str) -> str:
        problem = reference_problem(value)
        if problem is not None:
            raise ValueError(problem)
        literal = REFERENCE.fullmatch(value) is None
        if literal and check == "url" and not value.startswith(("https://", "http://")):
            raise ValueError("an http(s) URL, or a secret reference holding one")
        return value

    return AfterValidator(checked)


def _reference_only(what: str) -> Any:
    """A secret a route sends with must be a reference: the route is stored as written (with the
    monitor's state, a sharded run's record, a schedule), so a literal would be kept resolved."""

    def checked(value: str) -> str:
        problem = reference_problem(value)
        if problem is not None:
            raise ValueError(problem)
        if any(REFERENCE.fullmatch(part) is None for part in value.split()):
            raise ValueError(
                f"{what} must be a secret reference (${{secretsmanager:NAME}} or ${{ssm:/path}}), "
                "never the secret itself: routes are stored as written"
            )
        return value

    return AfterValidator(checked)


RouteUrl = Annotated[str, Field(min_length=1, max_length=2_048), _reference_or("url")]
SecretUrl = Annotated[str, Field(min_length=1, max_length=2_048), _reference_only("a Slack webhook URL")]
Secret = Annotated[str, Field(min_length=1, max_length=1_024), _reference_only("a webhook secret")]
RoutingKey = Annotated[str, Field(min_length=1, max_length=256), _reference_only("a routing key")]


class _Route(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class WebhookRoute(_Route):
    """A webhook: the alert document, signed with ``secret`` (several, space-separated, while rotating)."""

    type: Literal["webhook"]
    url: RouteUrl
    secret: Secret | list[Secret] | None = None

    @property
    def secrets(self) -> list[str]:
        if self.secret is None:
            return []
        return [self.secret] if isinstance(self.secret, str) else list(self.secret)


class SlackRoute(_Route):
    """A Slack incoming webhook (its URL is itself a secret: write a reference)."""

    type: Literal["slack"]
    url: SecretUrl


class PagerDutyRoute(_Route):
    """A PagerDuty service's Events API v2 integration."""

    type: Literal["pagerduty"]
    routing_key: RoutingKey


Route = Annotated[WebhookRoute | SlackRoute | PagerDutyRoute, Field(discriminator="type")]


def route_id(route: WebhookRoute | SlackRoute | PagerDutyRoute) -> str:
    """The route's name among an alert's delivered targets: its type and a digest of where it sends."""
    where = route.routing_key if isinstance(route, PagerDutyRoute) else route.url
    return f"{route.type}:{hashlib.sha256(where.encode()).hexdigest()[:12]}"
