"""Errors mapped to answers, in one place: domain errors by the table below, and the HTTP
front door's own (malformed bodies, unknown routes, ...).

Every refusal becomes an RFC 9457 problem document: ``application/problem+json`` over HTTP, or
the same fields under ``{"error": ...}`` for a direct or scheduled invoke (which must not
raise: Lambda would retry an asynchronous invoke for nothing). However bad the request, the
document stays small: it lists at most ``MAX_LISTED_PROBLEMS`` errors, each field and the
detail clipped, and says how many there were (``errors_total``) and how many it left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from msgspec import Meta

from fanout.core.model import Document
from fanout.errors import (
    MAX_LISTED_PROBLEMS,
    FanoutError,
    IdempotencyInProgress,
    IdempotencyKeyReused,
    MonitorNotFound,
    MonitorsOff,
    RequestInvalid,
    RunNotFound,
    RunsNotKept,
    ServiceUnavailable,
    ShardingOff,
    ShardsNotStarted,
    StoreUnavailable,
    TargetsUnreadable,
)

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://github.com/fanout/fanout#problem-"
MAX_DETAIL_CHARS = 2_000
MAX_FIELD_CHARS = 500


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class ProblemItem(Document, frozen=True, omit_defaults=False):
    """One problem with one part of the request."""

    loc: Annotated[str, Meta(description="Where in the request: 'urls.3.method', 'options.expect.json', ...")]
    msg: Annotated[str, Meta(description="What is wrong with it")]
    type: Annotated[str, Meta(description="A stable name of the rule it breaks")]


class ProblemDetails(Document, frozen=True, kw_only=True):
    """RFC 9457 problem details, ``application/problem+json``."""

    type: Annotated[str, Meta(description="A URI naming the problem: ...#problem-<slug>")]
    title: Annotated[str, Meta(description="The problem, in a few words")]
    status: Annotated[int, Meta(description="The HTTP status")]
    detail: Annotated[str, Meta(description="What went wrong with this request")]
    instance: Annotated[str | None, Meta(description="The API request id")] = None
    errors: Annotated[tuple[ProblemItem, ...] | None, Meta(description="The first 100 problems")] = None
    errors_total: Annotated[int | None, Meta(description="All the problems, when more are listed")] = None
    errors_omitted: Annotated[int | None, Meta(description="The problems not listed")] = None


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem: ``slug`` names its ``type``; ``errors`` lists field-level issues."""

    status: int
    slug: str
    title: str
    detail: str
    errors: list[dict[str, Any]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    errors_total: int | None = None

    def body(self, instance: str | None = None) -> ProblemDetails:
        listed = self.listed_errors() if self.errors else None
        total = max(self.errors_total or 0, len(self.errors))
        more = listed is not None and total > len(listed)
        return ProblemDetails(
            type=PROBLEM_BASE + self.slug,
            title=self.title,
            status=self.status,
            detail=_clip(self.detail, MAX_DETAIL_CHARS),
            instance=_clip(instance, MAX_FIELD_CHARS) if instance else None,
            errors=None if listed is None else tuple(ProblemItem.from_json(e) for e in listed),
            errors_total=total if more else None,
            errors_omitted=total - len(listed) if more and listed is not None else None,
        )

    def listed_errors(self) -> list[dict[str, Any]]:
        """The errors the document lists: the first ``MAX_LISTED_PROBLEMS``, fields clipped."""
        return [
            {k: _clip(v, MAX_FIELD_CHARS) if isinstance(v, str) else v for k, v in e.items()}
            for e in self.errors[:MAX_LISTED_PROBLEMS]
        ]

    def http_response(self, instance: str | None = None) -> Response[str]:
        return Response(
            status_code=self.status,
            content_type=PROBLEM_JSON,
            body=self.body(instance).to_bytes().decode(),
            headers=self.headers,
        )

    def invoke_error(self) -> dict[str, Any]:
        """The typed error document of a direct or scheduled invoke."""
        return {"error": self.body().to_json() | {"type": self.slug.replace("-", "_")}}


PROBLEMS: tuple[tuple[type[FanoutError], int, str, str], ...] = (
    (TargetsUnreadable, 422, "targets-unreadable", "The target list cannot be used"),
    (IdempotencyKeyReused, 422, "idempotency-key-reused", "Idempotency key reused"),
    (RequestInvalid, 422, "validation-error", "The request is not valid"),
    (IdempotencyInProgress, 409, "idempotency-in-progress", "Request in progress"),
    (RunNotFound, 404, "run-not-found", "No such run"),
    (MonitorNotFound, 404, "monitor-not-found", "No such monitor"),
    (MonitorsOff, 501, "monitors-off", "Monitors are off"),
    (RunsNotKept, 501, "runs-not-kept", "Runs are not kept"),
    (ShardingOff, 501, "sharding-off", "Sharded runs are off"),
    (StoreUnavailable, 503, "store-unavailable", "The run store is unavailable"),
    (ShardsNotStarted, 503, "shards-not-started", "The sharded run could not be started"),
)
"""Domain error -> (status, type, title): the first row whose class the error is an instance of."""

RETRY_AFTER_S: dict[type[FanoutError], int] = {IdempotencyInProgress: 5}


def problem_for(exc: FanoutError) -> Problem | None:
    """The problem a domain error is answered with (None: it is not the caller's to see)."""
    row = next((row for row in PROBLEMS if isinstance(exc, row[0])), None)
    if row is None:
        return None
    _, status, slug, title = row
    headers: dict[str, str] = {}
    retry_after = exc.retry_after_s if isinstance(exc, ServiceUnavailable) else RETRY_AFTER_S.get(type(exc))
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    if isinstance(exc, RequestInvalid):
        return Problem(status, slug, title, exc.detail, exc.errors, headers, errors_total=exc.total)
    return Problem(status, slug, title, exc.detail, headers=headers)


def malformed_body(detail: str) -> Problem:
    return Problem(400, "malformed-body", "The request body cannot be read", detail)


def unsupported_media_type(content_type: str) -> Problem:
    detail = f"send the request as application/json, not {content_type or 'nothing'!r}"
    return Problem(415, "unsupported-media-type", "Unsupported content type", detail)


def not_found(path: str) -> Problem:
    return Problem(404, "not-found", "No such resource", f"nothing is served at {path!r}")


def method_not_allowed(method: str, path: str, allowed: list[str]) -> Problem:
    detail = f"{method} is not allowed on {path!r}; use {', '.join(allowed)}"
    return Problem(
        405, "method-not-allowed", "Method not allowed", detail, headers={"Allow": ", ".join(allowed)}
    )


def internal_error(request_id: str | None) -> Problem:
    detail = f"the service failed unexpectedly; quote request id {request_id or 'unknown'}"
    return Problem(HTTPStatus.INTERNAL_SERVER_ERROR, "internal-error", "Internal error", detail)
