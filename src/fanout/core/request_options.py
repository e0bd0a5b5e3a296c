"""The parts of a request (``fanout.core.requests``): one URL's entry and the run's options, each
option bounded by its server-side maximum when the validation context gives the limits, and
the discriminator of a union of a string and an object (a ``urls`` item, the ``targets``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from fanout.core.expect import Expect, HeaderName
from fanout.core.limits import SERVER_DEFAULTED, defaults_of, limits_of, maxima_of
from fanout.core.secret_refs import check_header_references
from fanout.core.sign_option import SignOption
from fanout.core.thresholds import Thresholds

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
Method = Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


class StrictModel(BaseModel):
    """Strict types, unknown fields refused, frozen: every model of a request."""

    # No populate_by_name: a field with an alias (``json``) is known by that name only.
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


UrlText = Annotated[str, Field(min_length=1, max_length=8_192)]
Headers = Annotated[dict[str, str], Field(max_length=100), AfterValidator(check_header_references)]
"""Request headers by name; a value may hold secret references (``fanout.core.secret_refs``)."""


class UrlEntry(StrictModel):
    """One URL to fetch; a bare string in ``urls`` means ``{"url": that}``."""

    url: UrlText
    method: Method = "GET"
    headers: Headers = Field(default_factory=dict)
    json_body: Any = Field(default=None, alias="json")
    retry: bool | None = Field(
        default=None,
        description="Allow retries of a non-idempotent method (POST, PATCH).",
    )
    expect: Expect | None = Field(
        default=None, description="This entry's checks, merged over options.expect."
    )
    per_host_rps: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = Field(
        default=None,
        description="Requests per second to this entry's host, over options.per_host_rps"
        " (entries of one host that differ: the lowest).",
    )
    sign: SignOption | None = Field(
        default=None, description="Sign this entry's request (over options.sign): Standard Webhooks."
    )

    @field_validator("method", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("per_host_rps")
    @classmethod
    def _rate_within_the_maximum(cls, value: float | None, info: ValidationInfo) -> float | None:
        return _pacing_within_the_maximum(value, info)

    @property
    def may_retry(self) -> bool:
        """A signed delivery is retried whatever its method: its receiver dedupes on its id."""
        if self.retry is not None:
            return self.retry
        return self.method in IDEMPOTENT_METHODS or self.sign is not None


def _at_most(value: float, limit: float) -> None:
    if value > limit:
        raise PydanticCustomError(
            "less_than_equal", "Input should be less than or equal to {le}", {"le": limit}
        )


def _at_least(value: float, limit: float) -> None:
    if value < limit:
        raise PydanticCustomError(
            "greater_than_equal", "Input should be greater than or equal to {ge}", {"ge": limit}
        )


def _the_server_default() -> Any:
    """Never called: ``Options._server_defaults`` fills each option left out, or refuses."""
    raise AssertionError("an option left out was neither filled in nor refused")


_SERVER_DEFAULT = Field(default_factory=_the_server_default)


def _pacing_within_the_maximum(value: float | None, info: ValidationInfo) -> float | None:
    """``per_host_rps`` and ``per_host_burst`` have a maximum but no server default (off, 1)."""
    limits = limits_of(info)
    if limits is not None and value is not None:
        burst = info.field_name == "per_host_burst"
        _at_most(value, limits.max_per_host_burst if burst else limits.max_per_host_rps)
    return value


class Options(StrictModel):
    """Run options; each has a default and a server-side maximum (``config``)."""

    concurrency: Annotated[int, Field(ge=1)] = _SERVER_DEFAULT
    per_host_concurrency: Annotated[int, Field(ge=1)] = _SERVER_DEFAULT
    request_timeout_s: Annotated[float, Field(gt=0, allow_inf_nan=False)] = _SERVER_DEFAULT
    retries: Annotated[int, Field(ge=0)] = _SERVER_DEFAULT
    on_error: Literal["continue", "cancel"] = "continue"
    follow_redirects: bool = True
    max_redirects: Annotated[int, Field(ge=0)] = _SERVER_DEFAULT
    max_body_bytes: Annotated[int, Field(ge=0)] = _SERVER_DEFAULT
    headers: Headers | None = Field(
        default=None, description="Headers for every entry, merged under an entry's own (by name, any case)."
    )
    expect: Expect | None = Field(default=None, description="Checks every entry's response must pass.")
    capture_headers: Annotated[list[HeaderName], Field(max_length=50)] | None = None
    inspect_bytes: Annotated[int, Field(ge=1)] = _SERVER_DEFAULT
    thresholds: Thresholds | None = Field(default=None, description="Run metrics and their conditions.")
    per_host_rps: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = Field(
        default=None, description="Requests per second to each host (off when left out)."
    )
    per_host_burst: Annotated[int, Field(ge=1)] | None = Field(
        default=None, description="Requests a host may get at once within per_host_rps (1 when left out)."
    )

    @field_validator("per_host_rps", "per_host_burst")
    @classmethod
    def _pacing_within_the_maximum(cls, value: float | None, info: ValidationInfo) -> float | None:
        return _pacing_within_the_maximum(value, info)

    shard_size: Annotated[int, Field(ge=1)] | None = Field(
        default=None,
        description="URLs per shard when the run is sharded (FANOUT_SHARD_SIZE when left out; from"
        " FANOUT_MIN_SHARD_SIZE to FANOUT_MAX_URLS): bigger shards cost fewer invocation-seconds per"
        " URL, smaller ones finish sooner.",
    )

    @field_validator("shard_size")
    @classmethod
    def _shard_size_within_the_deployments_bounds(cls, value: int | None, info: ValidationInfo) -> int | None:
        """At most ``max_urls`` (a shard is validated as a request of its own); at least the
        deployment's ``min_shard_size`` (every shard is a message sent at launch and an invocation)."""
        limits = limits_of(info)
        if limits is not None and value is not None:
            _at_most(value, limits.max_urls)
            _at_least(value, limits.min_shard_size)
        return value

    sign: SignOption | None = Field(
        default=None, description="Sign every request sent (Standard Webhooks): a webhook fan-out."
    )

    @model_validator(mode="before")
    @classmethod
    def _server_defaults(cls, data: object, info: ValidationInfo) -> object:
        """An option left out gets the server's default; without the limits there is none."""
        if not isinstance(data, dict):
            return data
        limits = limits_of(info)
        if limits is not None:
            return defaults_of(limits) | data
        if missing := [name for name in SERVER_DEFAULTED if name not in data]:
            raise PydanticCustomError(
                "missing", "Field required: {names} (no server defaults here)", {"names": ", ".join(missing)}
            )
        return data

    @field_validator(*SERVER_DEFAULTED)
    @classmethod
    def _within_the_maximum(cls, value: float, info: ValidationInfo) -> float:
        limits = limits_of(info)
        if limits is not None and info.field_name is not None:
            _at_most(value, maxima_of(limits)[info.field_name])
        return value


def text_or_object(
    text_tag: str, model: type[BaseModel], object_tag: str, *, error: str, message: str
) -> Discriminator:
    """A union's discriminator: a string is its ``text_tag`` member, a mapping (or a ``model``) its
    ``object_tag`` one; anything else is one clear error (``error``: ``message``), not one per member."""

    def kind(value: object) -> str | None:
        if isinstance(value, str):
            return text_tag
        if isinstance(value, (dict, model)):
            return object_tag
        return None

    return Discriminator(kind, custom_error_type=error, custom_error_message=message)
