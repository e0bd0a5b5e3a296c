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
    ConfigDict,
    Field,
    Tag,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from fanout.core.limits import RequestLimits, limits_of
from fanout.core.monitors import MonitorSpec
from fanout.core.regions import round_of
from fanout.core.request_options import (
    IDEMPOTENT_METHODS,
    Headers,
    Method,
    Options,
    StrictModel,
    UrlEntry,
    UrlText,
    text_or_object,
)
from fanout.errors import MAX_LISTED_PROBLEMS, RequestInvalid

__all__ = [  # the parts of a request, from ``request_options``, are known by this module's name too
    "IDEMPOTENT_METHODS",
    "URL_ITEM_KIND",
    "FanoutRequest",
    "Headers",
    "InvokeRequest",
    "Method",
    "Mode",
    "Options",
    "S3Uri",
    "ScheduledAt",
    "SitemapTargets",
    "StrictModel",
    "Targets",
    "TargetsRequest",
    "UrlEntry",
    "UrlItem",
    "UrlText",
    "format_loc",
    "invalid",
    "parse_invoke_request",
    "parse_request",
    "problems_of",
    "url_item_kind",
]

_NOT_AN_ITEM = "each entry must be a URL string or an object with a 'url'"
URL_ITEM_KIND = text_or_object("url", UrlEntry, "entry", error="url_item_type", message=_NOT_AN_ITEM)
url_item_kind = URL_ITEM_KIND.discriminator  # a ``urls`` item's member: "url", "entry" or None

_UNION_TAGS = frozenset({"url", "entry"})
UrlItem = Annotated[Annotated[UrlText, Tag("url")] | Annotated[UrlEntry, Tag("entry")], URL_ITEM_KIND]


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


class _WithOptions(StrictModel):
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


class SitemapTargets(StrictModel):
    """``{"sitemap": "https://example.com/sitemap.xml"}``: the page URLs a sitemap lists.

    Read through the egress guard when the run starts (``fanout.fetch.sitemap``): plain or
    gzipped, a sitemap index followed one level (docs/persistence.md).
    """

    model_config = ConfigDict(defer_build=True)  # built with ``TargetsRequest``, when first used

    sitemap: Annotated[str, Field(pattern=SITEMAP_URL_PATTERN, max_length=8_192)]


_NOT_TARGETS = "targets must be an 's3://bucket/key' URI or {'sitemap': 'https://...'}"
_TARGETS_KIND = text_or_object("s3", SitemapTargets, "sitemap", error="targets_type", message=_NOT_TARGETS)
_TARGETS_TAGS = frozenset({"s3", "sitemap"})
Targets = Annotated[Annotated[S3Uri, Tag("s3")] | Annotated[SitemapTargets, Tag("sitemap")], _TARGETS_KIND]


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
