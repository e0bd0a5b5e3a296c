"""What a setting is made of: its declaration (``setting``: environment name, default, meaning,
bounds), the markers the configuration chapter reads (``Section``, ``AtMost``), and the types
whose values are checked beyond their type (networks, files, addresses).
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field
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
HttpUrlOrEmpty = Annotated[str, AfterValidator(_an_http_url_or_empty)]
