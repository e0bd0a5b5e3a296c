"""The request every way in accepts, validated with pydantic: strict types, unknown fields
refused, every option bounded by its server-side maximum.

Defaults and maxima are deployment settings, which the core does not read: the way in gives
them as the validation context (``model_validate(payload, context=limits)``, ``RequestLimits``;
``parse_request`` takes them as an argument). A value over its maximum is the same error
pydantic gives for ``le`` (``less_than_equal``, naming the limit). Without a context (options
read back from a stored record or a shard message, checked when the run was asked for) nothing
is filled in or capped, and an option left out is refused (there is no default to give it).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from fanout.core.checks import Expect, HeaderName
from fanout.core.limits import SERVER_DEFAULTED, RequestLimits, defaults_of, limits_of, maxima_of
from fanout.core.monitors import MonitorSpec
from fanout.core.regions import round_of
from fanout.core.secret_refs import check_header_references
from fanout.core.sign_option import SignOption
from fanout.core.thresholds import Thresholds
from fanout.errors import MAX_LISTED_PROBLEMS, RequestInvalid

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
Method = Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


class _Strict(BaseModel):
    # No populate_by_name: a field with an alias (``json``) is known by that name only.
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


UrlText = Annotated[str, Field(min_length=1, max_length=8_192)]
Headers = Annotated[dict[str, str], Field(max_length=100), AfterValidator(check_header_references)]
"""Request headers by name; a value may hold secret references (``fanout.core.secret_refs``)."""


class UrlEntry(_Strict):
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


class Options(_Strict):
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


def url_item_kind(value: object) -> str | None:
    if isinstance(value, str):
        return "url"
    if isinstance(value, dict | UrlEntry):
        return "entry"
    return None


_UNION_TAGS = frozenset({"url", "entry"})
UrlItem = Annotated[
    Annotated[UrlText, Tag("url")] | Annotated[UrlEntry, Tag("entry")],
    Discriminator(
        url_item_kind,
        custom_error_type="url_item_type",
        custom_error_message="each entry must be a URL string or an object with a 'url'",
    ),
]


Mode = Literal["auto", "inline", "sharded"]
"""How a run is executed (docs/sharding.md): ``auto`` shards a run above the threshold of
its way in, ``inline`` never shards, ``sharded`` always does."""


def _check_count(value: object, limits: RequestLimits | None) -> object:
    """Too many URLs is refused before any of them is validated."""
    if limits is None:
        return value
    limit = limits.max_urls
    if isinstance(value, list) and len(value) > limit:
        raise PydanticCustomError(
            "too_long",
            "List should have at most {max_length} items after validation, not {actual_length}",
            {"field_type": "List", "max_length": limit, "actual_length": len(value)},
        )
    return value


ScheduledAt = Annotated[str, Field(max_length=40), AfterValidator(round_of)]


class _WithOptions(_Strict):
    @model_validator(mode="before")
    @classmethod
    def _options_get_the_server_defaults(cls, data: object, info: ValidationInfo) -> object:
        """Left out, the options are validated as ``{}``: each gets the server's default."""
        if info.context is not None and isinstance(data, dict) and "options" not in data:
            return data | {"options": {}}
        return data


class FanoutRequest(_WithOptions):
    """The request body of every way in (direct invoke, API, schedule)."""

    urls: Annotated[list[UrlItem], Field(min_length=1)]
    options: Options = Field(default_factory=Options)
    mode: Mode = "auto"
    carry_over: bool = Field(
        default=False,
        description="An inline run cut by its deadline finishes its leftovers as a sharded continuation.",
    )
    monitor: MonitorSpec | None = Field(default=None, description="The monitor these results feed.")
    scheduled_at: ScheduledAt | None = Field(
        default=None,
        description="The schedule's scheduled time (<aws.scheduler.scheduled-time>): a regional "
        "monitor's round.",
    )

    @field_validator("urls", mode="before")
    @classmethod
    def _not_too_many(cls, value: object, info: ValidationInfo) -> object:
        return _check_count(value, limits_of(info))

    def entries(self) -> list[UrlEntry]:
        return [UrlEntry(url=u) if isinstance(u, str) else u for u in self.urls]


S3_URI_PATTERN = r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/[^\s]+$"
S3Uri = Annotated[str, Field(pattern=S3_URI_PATTERN, max_length=1_100)]
SITEMAP_URL_PATTERN = r"^https?://[^\s]+$"


class SitemapTargets(_Strict):
    """``{"sitemap": "https://example.com/sitemap.xml"}``: the page URLs a sitemap lists.

    Read through the egress guard when the run starts (``fanout.fetch.sitemap``): plain or
    gzipped, a sitemap index followed one level (docs/persistence.md).
    """

    model_config = ConfigDict(defer_build=True)  # built with ``TargetsRequest``, when first used

    sitemap: Annotated[str, Field(pattern=SITEMAP_URL_PATTERN, max_length=8_192)]


def _targets_kind(value: object) -> str | None:
    if isinstance(value, str):
        return "s3"
    if isinstance(value, dict | SitemapTargets):
        return "sitemap"
    return None


_TARGETS_TAGS = frozenset({"s3", "sitemap"})
Targets = Annotated[
    Annotated[S3Uri, Tag("s3")] | Annotated[SitemapTargets, Tag("sitemap")],
    Discriminator(
        _targets_kind,
        custom_error_type="targets_type",
        custom_error_message="targets must be an 's3://bucket/key' URI or {'sitemap': 'https://...'}",
    ),
]


class TargetsRequest(_WithOptions):
    """A scheduled (or direct) request whose URL list is read when the run starts.

    ``targets`` names ``s3://bucket/key`` (a JSON list of entries, as ``urls``, or one URL per
    line) or ``{"sitemap": "https://..."}`` (the ``<loc>`` of each page). The field is kept as
    ``spec``; ``targets`` is where the list comes from as text, the URI or the sitemap's URL,
    which the document and the run's record carry (docs/persistence.md).
    """

    # Built on the first request with targets: a plain request's cold start does not pay for it.
    model_config = ConfigDict(defer_build=True)

    spec: Targets = Field(alias="targets")
    options: Options = Field(default_factory=Options)
    mode: Mode = "auto"
    carry_over: bool = False
    monitor: MonitorSpec | None = None
    scheduled_at: ScheduledAt | None = None

    @property
    def targets(self) -> str:
        """Where the list comes from: the S3 URI or the sitemap's URL."""
        return self.spec if isinstance(self.spec, str) else self.spec.sitemap

    @property
    def sitemap(self) -> str | None:
        """The sitemap's URL, for a sitemap target (None for an S3 list)."""
        return None if isinstance(self.spec, str) else self.spec.sitemap

    def with_entries(self, entries: list[Any], limits: RequestLimits) -> FanoutRequest:
        """The request to run: the listed entries with this request's options (validated)."""
        return FanoutRequest.model_validate(
            {
                "urls": entries,
                "options": self.options,
                "mode": self.mode,
                "carry_over": self.carry_over,
                "monitor": self.monitor,
                "scheduled_at": self.scheduled_at,
            },
            context=limits,
        )


InvokeRequest = FanoutRequest | TargetsRequest


def parse_request(payload: object, limits: RequestLimits) -> FanoutRequest:
    """Validate a request body within ``limits``; the first problems are listed in
    ``RequestInvalid.errors``."""
    if not isinstance(payload, dict):
        raise RequestInvalid(
            "the request must be a JSON object with a 'urls' list",
            [{"loc": "", "msg": f"expected an object, got {type(payload).__name__}", "type": "object_type"}],
        )
    try:
        return FanoutRequest.model_validate(payload, context=limits)
    except ValidationError as exc:
        raise invalid(exc) from None


def parse_invoke_request(payload: object, limits: RequestLimits) -> InvokeRequest:
    """Validate a scheduled or direct request: ``urls`` or ``targets``, exactly one.

    The API takes ``urls`` only (``parse_request``): its callers cannot name S3 objects.
    """
    if isinstance(payload, dict) and "targets" in payload:
        if "urls" in payload:
            raise RequestInvalid(
                "give either 'urls' or 'targets', not both",
                [{"loc": "targets", "msg": "'urls' and 'targets' exclude each other", "type": "exclusive"}],
            )
        try:
            return TargetsRequest.model_validate(payload, context=limits)
        except ValidationError as exc:
            raise invalid(exc) from None
    return parse_request(payload, limits)


def problems_of(exc: ValidationError, *, root: str | None = None) -> tuple[list[dict[str, Any]], int]:
    """The first problems of ``exc`` as ``{"loc", "msg", "type"}`` and how many there are.

    ``root`` renames the first part of each location (``urls.3`` -> ``targets.3``).
    """
    total = exc.error_count()
    first = exc.errors(include_url=False, include_input=False)[:MAX_LISTED_PROBLEMS]
    listed = []
    for e in first:
        loc = tuple(e["loc"])
        if root is not None and loc[:1] == ("urls",):
            loc = (root, *loc[1:])
        listed.append({"loc": format_loc(loc), "msg": e["msg"], "type": e["type"]})
    return listed, total


def invalid(exc: ValidationError) -> RequestInvalid:
    errors, total = problems_of(exc)
    return RequestInvalid(f"{total} problem(s) in the request", errors, total=total)


def format_loc(parts: tuple[int | str, ...]) -> str:
    """``urls.3.method``: the path to the bad value, without pydantic's union tags."""
    kept = [p for i, p in enumerate(parts) if not (p in _UNION_TAGS and i and isinstance(parts[i - 1], int))]
    if len(kept) > 1 and kept[0] == "targets" and kept[1] in _TARGETS_TAGS:
        del kept[1]  # ``targets.s3`` -> ``targets``: the kind of target is not a field
    return ".".join(str(p) for p in kept)
