"""The HTTP API's answers as JSON Schema, for its OpenAPI document (``docs/openapi.json``).

The documents themselves are built and serialised in ``fanout.core`` (one place each); these
models only describe them. They cannot drift silently: schemathesis checks every answer the API
gives against them (``tests/integration/test_api_fuzz.py``), and a test regenerates the OpenAPI
document and compares it with the one in ``docs/``.
"""

from __future__ import annotations

from typing import Any, Literal, cast

from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from pydantic import BaseModel, ConfigDict, Field

from fanout.core.results import Outcome

OutcomeName = Literal[tuple(o.value for o in Outcome)]  # type: ignore[valid-type]


class _Open(BaseModel):
    """An answer object: the fields listed are typed; an answer may carry more (documented ones)."""

    model_config = ConfigDict(extra="allow")


class ProblemItem(BaseModel):
    loc: str = Field(description="Where in the request: 'urls.3.method', 'options.expect.json', ...")
    msg: str
    type: str


class Problem(BaseModel):
    """RFC 9457 problem details, ``application/problem+json``."""

    type: str = Field(description="A URI naming the problem: ...#problem-<slug>")
    title: str
    status: int
    detail: str
    instance: str | None = Field(default=None, description="The API request id")
    errors: list[ProblemItem] | None = Field(default=None, description="The first 100 problems")
    errors_total: int | None = None
    errors_omitted: int | None = None


class ErrorInfo(BaseModel):
    type: str
    message: str


class UrlResult(_Open):
    """One URL's result; entries with ``expect`` or ``capture_headers`` carry checks, timings,
    peer, TLS and headers too (docs/checks.md)."""

    url: str
    outcome: OutcomeName  # type: ignore[valid-type]
    status_code: int | None
    attempts: int | None
    elapsed_ms: float | None
    bytes: int | None
    error: ErrorInfo | None


class Summary(BaseModel):
    total: int
    ok: int
    http_error: int
    check_failed: int
    failed: int
    timed_out: int
    cancelled: int
    not_started: int
    blocked: int


class RunAnswer(_Open):
    """``POST /fanout``'s answer (200: the run; 202: a sharded run accepted, ``location`` to poll)."""

    run_id: str
    source: Literal["direct", "api", "schedule", "cli"]
    started_at: str
    summary: Summary
    results: list[UrlResult] | None = None
    budget_ms: float | None = None
    elapsed_ms: float | None = None
    deadline_reached: bool | None = None
    status: Literal["running", "complete", "failed"] | None = None
    location: str | None = None
    persisted: dict[str, Any] | None = None


class RunListing(BaseModel):
    runs: list[RunAnswer]
    limit: int
    next_cursor: str | None


class MonitorSummary(_Open):
    name: str
    last_run_id: str | None
    last_run_at: str | None
    urls: int | None
    up: int | None
    down: int | None
    unknown: int | None
    group: str | None = None
    tags: dict[str, str] = {}


class MonitorListing(BaseModel):
    monitors: list[MonitorSummary]
    next_cursor: str | None


class MonitorUrl(_Open):
    url: str
    status: Literal["unknown", "up", "down"]
    since: str | None
    last_checked_at: str | None
    uptime: dict[str, float | None]
    latency_today: dict[str, float | None]


class MonitorView(MonitorSummary):
    urls_page: list[MonitorUrl]
    next_cursor: str | None


def problems(*statuses: int) -> dict[int, OpenAPIResponse]:
    """The ``responses`` entries of problem answers with these statuses."""
    return {
        status: cast(
            OpenAPIResponse,
            {
                "description": _PROBLEM_DESCRIPTIONS[status],
                "content": {"application/problem+json": {"model": Problem}},
            },
        )
        for status in statuses
    }


def answer(model: type[BaseModel], description: str, status: int = 200) -> dict[int, OpenAPIResponse]:
    response = {"description": description, "content": {"application/json": {"model": model}}}
    return {status: cast(OpenAPIResponse, response)}


_PROBLEM_DESCRIPTIONS = {
    400: "The body cannot be read (not JSON, bad base64, bad UTF-8, nested too deeply)",
    404: "No such run or monitor, or no such route",
    405: "The route exists; the method does not (Allow says which)",
    409: "A request with this Idempotency-Key is still running",
    415: "The body is not application/json",
    422: "The request breaks the contract (every problem listed, up to 100)",
    501: "This deployment has the store the request needs turned off",
    503: "A store the request needs is unavailable (Retry-After)",
}
