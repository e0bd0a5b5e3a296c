"""The service's public contract: the request it accepts and the document it returns.

The request is validated with pydantic (strict types, unknown fields refused, every
option bounded by the server-side maximum from ``config``). The result document is
plain JSON built by ``build_document``; README "Event contract" describes both.
"""

from __future__ import annotations

import enum
import os
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
)

from fanout.config import SETTINGS
from fanout.errors import MAX_LISTED_PROBLEMS, RequestInvalid

S = SETTINGS

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
Method = Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


class Outcome(enum.StrEnum):
    """Exactly one per URL; see README "Outcomes"."""

    OK = "ok"
    HTTP_ERROR = "http_error"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"
    NOT_STARTED = "not_started"
    BLOCKED = "blocked"


class _Strict(BaseModel):
    # No populate_by_name: a field with an alias (``json``) is known by that name only.
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


UrlText = Annotated[str, Field(min_length=1, max_length=8_192)]


class UrlEntry(_Strict):
    """One URL to fetch; a bare string in ``urls`` means ``{"url": that}``."""

    url: UrlText
    method: Method = "GET"
    headers: Annotated[dict[str, str], Field(max_length=100)] = Field(default_factory=dict)
    json_body: Any = Field(default=None, alias="json")
    retry: bool | None = Field(
        default=None,
        description="Allow retries of a non-idempotent method (POST, PATCH).",
    )

    @field_validator("method", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @property
    def may_retry(self) -> bool:
        return self.retry if self.retry is not None else self.method in IDEMPOTENT_METHODS


class Options(_Strict):
    """Run options; each has a default and a server-side maximum (``config``)."""

    concurrency: Annotated[int, Field(ge=1, le=S.max_concurrency)] = S.default_concurrency
    per_host_concurrency: Annotated[int, Field(ge=1, le=S.max_per_host_concurrency)] = (
        S.default_per_host_concurrency
    )
    request_timeout_s: Annotated[float, Field(gt=0, le=S.max_request_timeout_s, allow_inf_nan=False)] = (
        S.default_request_timeout_s
    )
    retries: Annotated[int, Field(ge=0, le=S.max_retries)] = S.default_retries
    on_error: Literal["continue", "cancel"] = "continue"
    follow_redirects: bool = True
    max_redirects: Annotated[int, Field(ge=0, le=S.max_max_redirects)] = S.default_max_redirects
    max_body_bytes: Annotated[int, Field(ge=0, le=S.max_max_body_bytes)] = S.default_max_body_bytes


def _url_item_kind(value: object) -> str | None:
    if isinstance(value, str):
        return "url"
    if isinstance(value, dict | UrlEntry):
        return "entry"
    return None


_UNION_TAGS = frozenset({"url", "entry"})
UrlItem = Annotated[
    Annotated[UrlText, Tag("url")] | Annotated[UrlEntry, Tag("entry")],
    Discriminator(
        _url_item_kind,
        custom_error_type="url_item_type",
        custom_error_message="each entry must be a URL string or an object with a 'url'",
    ),
]


Mode = Literal["auto", "inline", "sharded"]
"""How a run is executed (README "Scaling out: sharded runs"): ``auto`` shards a run above
the threshold of its way in, ``inline`` never shards, ``sharded`` always does."""


class FanoutRequest(_Strict):
    """The request body of every way in (direct invoke, API, schedule)."""

    urls: Annotated[list[UrlItem], Field(min_length=1, max_length=S.max_urls)]
    options: Options = Field(default_factory=Options)
    mode: Mode = "auto"
    carry_over: bool = Field(
        default=False,
        description="An inline run cut by its deadline finishes its leftovers as a sharded continuation.",
    )

    def entries(self) -> list[UrlEntry]:
        return [UrlEntry(url=u) if isinstance(u, str) else u for u in self.urls]


S3_URI_PATTERN = r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/[^\s]+$"
S3Uri = Annotated[str, Field(pattern=S3_URI_PATTERN, max_length=1_100)]


class TargetsRequest(_Strict):
    """A scheduled (or direct) request whose URL list is an object in S3.

    ``targets`` names ``s3://bucket/key``: a JSON list of entries (as ``urls``), or one
    URL per line. It is read when the run starts (README "Persistence").
    """

    targets: S3Uri
    options: Options = Field(default_factory=Options)
    mode: Mode = "auto"
    carry_over: bool = False


InvokeRequest = FanoutRequest | TargetsRequest


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    """Why a URL has no usable response: a stable ``type`` and a human ``message``."""

    type: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"type": self.type, "message": self.message}


@dataclass(frozen=True, slots=True)
class UrlResult:
    url: str
    outcome: Outcome
    status_code: int | None = None
    attempts: int = 0
    elapsed_ms: float | None = None
    bytes: int | None = None
    error: ErrorInfo | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "outcome": self.outcome.value,
            "status_code": self.status_code,
            "attempts": self.attempts,
            "elapsed_ms": None if self.elapsed_ms is None else round(self.elapsed_ms, 1),
            "bytes": self.bytes,
            "error": None if self.error is None else self.error.to_dict(),
        }


def summarize(results: Sequence[UrlResult]) -> dict[str, int]:
    """Counts by outcome; every outcome present (zero or not), plus ``total``."""
    counts = Counter(r.outcome for r in results)
    return {"total": len(results)} | {o.value: counts.get(o, 0) for o in Outcome}


def summarize_outcomes(outcomes: Iterable[str]) -> dict[str, int]:
    """Counts of outcome names (``"ok"``, ...); every outcome present, no ``total``."""
    counts = Counter(outcomes)
    return {o.value: counts.get(o.value, 0) for o in Outcome}


def new_run_id() -> str:
    """A UUIDv7 (RFC 9562): unique, and sorts by creation time as a string."""
    unix_ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (unix_ms & (2**48 - 1)) << 80 | 0x7 << 76 | (rand >> 68 & 0xFFF) << 64
    value |= 0b10 << 62 | rand & (2**62 - 1)
    return str(uuid.UUID(int=value))


def utc_now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


Source = Literal["direct", "api", "schedule"]


def build_document(
    *,
    run_id: str,
    source: Source,
    started_at: str,
    budget_ms: float,
    elapsed_ms: float,
    results: Sequence[UrlResult],
    deadline_reached: bool,
    stopped: bool,
) -> dict[str, Any]:
    """The result document (README "Response")."""
    return {
        "run_id": run_id,
        "source": source,
        "started_at": started_at,
        "budget_ms": round(budget_ms, 1),
        "elapsed_ms": round(elapsed_ms, 1),
        "deadline_reached": deadline_reached,
        "stopped_on_error": stopped,
        "summary": summarize(results),
        "results": [r.to_dict() for r in results],
    }


def parse_request(payload: object) -> FanoutRequest:
    """Validate a request body; every problem is listed in ``RequestInvalid.errors``."""
    if not isinstance(payload, dict):
        raise RequestInvalid(
            "the request must be a JSON object with a 'urls' list",
            [{"loc": "", "msg": f"expected an object, got {type(payload).__name__}", "type": "object_type"}],
        )
    try:
        return FanoutRequest.model_validate(payload)
    except ValidationError as exc:
        raise _invalid(exc) from None


def parse_invoke_request(payload: object) -> InvokeRequest:
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
            return TargetsRequest.model_validate(payload)
        except ValidationError as exc:
            raise _invalid(exc) from None
    return parse_request(payload)


def _invalid(exc: ValidationError) -> RequestInvalid:
    total = exc.error_count()
    first = exc.errors(include_url=False, include_input=False)[:MAX_LISTED_PROBLEMS]
    errors = [{"loc": format_loc(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in first]
    return RequestInvalid(f"{total} problem(s) in the request", errors, total=total)


def format_loc(parts: tuple[int | str, ...]) -> str:
    """``urls.3.method``: the path to the bad value, without pydantic's union tags."""
    kept = [p for i, p in enumerate(parts) if not (p in _UNION_TAGS and i and isinstance(parts[i - 1], int))]
    return ".".join(str(p) for p in kept)
