"""Errors mapped to answers, in one place.

Every bad request becomes an RFC 9457 problem document: ``application/problem+json``
over HTTP, or the same fields under ``{"error": ...}`` for a direct or scheduled
invoke (which must not raise: Lambda would retry an asynchronous invoke for nothing).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import Response

from fanout.errors import MAX_LISTED_PROBLEMS

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://github.com/fanout/fanout#problem-"


MAX_DETAIL_CHARS = 2_000
MAX_FIELD_CHARS = 500


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem: ``slug`` names its ``type``; ``errors`` lists field-level issues.

    However bad the request, the document stays small (every answer must fit Lambda's 6 MB
    response): it lists at most ``MAX_LISTED_PROBLEMS`` errors, each field and the detail
    clipped, and says how many there were (``errors_total``) and how many it left out.
    """

    status: int
    slug: str
    title: str
    detail: str
    errors: list[dict[str, Any]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    errors_total: int | None = None

    def body(self, instance: str | None = None) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "type": PROBLEM_BASE + self.slug,
            "title": self.title,
            "status": self.status,
            "detail": _clip(self.detail, MAX_DETAIL_CHARS),
        }
        if instance:
            doc["instance"] = _clip(instance, MAX_FIELD_CHARS)
        if self.errors:
            listed = self.listed_errors()
            total = max(self.errors_total or 0, len(self.errors))
            doc["errors"] = listed
            if total > len(listed):
                doc["errors_total"] = total
                doc["errors_omitted"] = total - len(listed)
        return doc

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
            body=json.dumps(self.body(instance)),
            headers=self.headers,
        )

    def invoke_error(self) -> dict[str, Any]:
        """The typed error document of a direct or scheduled invoke."""
        return {"error": {**self.body(), "type": self.slug.replace("-", "_")}}


def validation_problem(detail: str, errors: list[dict[str, Any]], total: int | None = None) -> Problem:
    return Problem(422, "validation-error", "The request is not valid", detail, errors, errors_total=total)


def malformed_body(detail: str) -> Problem:
    return Problem(400, "malformed-body", "The request body cannot be read", detail)


def unsupported_media_type(content_type: str) -> Problem:
    return Problem(
        415,
        "unsupported-media-type",
        "Unsupported content type",
        f"send the request as application/json, not {content_type or 'nothing'!r}",
    )


def not_found(path: str) -> Problem:
    return Problem(404, "not-found", "No such resource", f"nothing is served at {path!r}")


def method_not_allowed(method: str, path: str, allowed: list[str]) -> Problem:
    return Problem(
        405,
        "method-not-allowed",
        "Method not allowed",
        f"{method} is not allowed on {path!r}; use {', '.join(allowed)}",
        headers={"Allow": ", ".join(allowed)},
    )


def internal_error(request_id: str | None) -> Problem:
    return Problem(
        HTTPStatus.INTERNAL_SERVER_ERROR,
        "internal-error",
        "Internal error",
        f"the service failed unexpectedly; quote request id {request_id or 'unknown'}",
    )


class ProblemError(Exception):
    """Raised where a run or a read must stop with ``problem``; answered by each front door."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.detail)
        self.problem = problem


def run_not_found(run_id: str) -> Problem:
    return Problem(404, "run-not-found", "No such run", f"no run {run_id!r} is on record (or it has expired)")


def runs_not_kept(what: str) -> Problem:
    return Problem(
        501,
        "runs-not-kept",
        "Runs are not kept",
        f'this deployment keeps no {what}: its store is off (README "Persistence")',
    )


def store_unavailable(detail: str) -> Problem:
    return Problem(
        503, "store-unavailable", "The run store is unavailable", detail, headers={"Retry-After": "1"}
    )


def bad_cursor() -> Problem:
    return Problem(
        422,
        "validation-error",
        "The request is not valid",
        "the cursor is not one this API handed out",
        [{"loc": "cursor", "msg": "unknown cursor", "type": "cursor_invalid"}],
    )


def targets_unreadable(
    uri: str, detail: str, errors: list[dict[str, Any]] | None = None, *, total: int | None = None
) -> Problem:
    return Problem(
        422,
        "targets-unreadable",
        "The target list cannot be used",
        f"{uri}: {detail}",
        errors or [],
        errors_total=total,
    )


def idempotency_key_reused() -> Problem:
    return Problem(
        422,
        "idempotency-key-reused",
        "Idempotency key reused",
        "this Idempotency-Key was already used with a different request body",
    )


def idempotency_in_progress() -> Problem:
    return Problem(
        409,
        "idempotency-in-progress",
        "Request in progress",
        "a request with this idempotency key is still running; retry when it has finished",
        headers={"Retry-After": "5"},
    )


def sharding_off(what: str) -> Problem:
    return Problem(
        501,
        "sharding-off",
        "Sharded runs are off",
        f"{what} needs sharded runs, and this deployment has no shard queue, runs table or reports "
        'bucket (README "Scaling out: sharded runs")',
    )


def entries_too_large(errors: list[dict[str, Any]], limit_bytes: int) -> Problem:
    return Problem(
        422,
        "validation-error",
        "The request is not valid",
        f"{len(errors)} entr(ies) too large for a shard message of at most {limit_bytes} bytes",
        errors,
    )


def shards_not_started(detail: str) -> Problem:
    return Problem(
        503,
        "shards-not-started",
        "The sharded run could not be started",
        detail,
        headers={"Retry-After": "5"},
    )
