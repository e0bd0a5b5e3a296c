"""What a deployment sets for requests, as the core sees it: the most URLs, and each option's
default (used when the caller leaves it out) and maximum.

The core reads no setting (import-linter forbids ``fanout.core`` -> ``fanout.config``): the ways
in pass the limits to validation as its context (``model_validate(payload, context=limits)``),
and ``fanout.config.Settings`` is such limits as it is.
"""

from __future__ import annotations

from typing import Any, Protocol, cast

from pydantic import ValidationInfo


class RequestLimits(Protocol):
    """What a deployment sets for requests: the most URLs, each option's default (used when the
    caller leaves it out) and maximum. ``fanout.config.Settings`` is one."""

    @property
    def max_urls(self) -> int: ...
    @property
    def default_concurrency(self) -> int: ...
    @property
    def max_concurrency(self) -> int: ...
    @property
    def default_per_host_concurrency(self) -> int: ...
    @property
    def max_per_host_concurrency(self) -> int: ...
    @property
    def min_shard_size(self) -> int: ...
    @property
    def max_per_host_rps(self) -> float: ...
    @property
    def max_per_host_burst(self) -> int: ...
    @property
    def default_request_timeout_s(self) -> float: ...
    @property
    def max_request_timeout_s(self) -> float: ...
    @property
    def default_retries(self) -> int: ...
    @property
    def max_retries(self) -> int: ...
    @property
    def default_max_redirects(self) -> int: ...
    @property
    def max_max_redirects(self) -> int: ...
    @property
    def default_max_body_bytes(self) -> int: ...
    @property
    def max_max_body_bytes(self) -> int: ...
    @property
    def default_inspect_bytes(self) -> int: ...
    @property
    def max_inspect_bytes(self) -> int: ...


def limits_of(info: ValidationInfo) -> RequestLimits | None:
    """The limits the way in gave as the validation context (None: a document read back)."""
    return cast(RequestLimits | None, info.context)


SERVER_DEFAULTED = (  # the options whose default and maximum are settings
    "concurrency",
    "per_host_concurrency",
    "request_timeout_s",
    "retries",
    "max_redirects",
    "max_body_bytes",
    "inspect_bytes",
)


def defaults_of(limits: RequestLimits) -> dict[str, Any]:
    """Each option's default, by the option's name."""
    return {
        "concurrency": limits.default_concurrency,
        "per_host_concurrency": limits.default_per_host_concurrency,
        "request_timeout_s": limits.default_request_timeout_s,
        "retries": limits.default_retries,
        "max_redirects": limits.default_max_redirects,
        "max_body_bytes": limits.default_max_body_bytes,
        "inspect_bytes": limits.default_inspect_bytes,
    }


def maxima_of(limits: RequestLimits) -> dict[str, float]:
    """Each option's maximum, by the option's name."""
    return {
        "concurrency": limits.max_concurrency,
        "per_host_concurrency": limits.max_per_host_concurrency,
        "request_timeout_s": limits.max_request_timeout_s,
        "retries": limits.max_retries,
        "max_redirects": limits.max_max_redirects,
        "max_body_bytes": limits.max_max_body_bytes,
        "inspect_bytes": limits.max_inspect_bytes,
    }
