"""The HTTP front door: API Gateway HTTP API (payload v2) via Powertools' resolver.

``POST /fanout`` takes the contract's request as its JSON body (validated by the
resolver against ``FanoutRequest``) and answers 200 with the result document, or 202 with
the run id and a ``Location: /runs/{run_id}`` for a sharded run; with an
``Idempotency-Key`` header, a repeat of the request gets the first answer.
``GET /runs/{run_id}`` answers a stored run (its record and results) and ``GET /runs``
the most recent ones (``?limit=`` and ``?cursor=`` for the next page). Every failure is
answered by the exception handlers below, which all go through ``problems``: nothing
escapes as an unhandled error. The run's deadline is capped by ``api_deadline_cap_s``
so the answer beats API Gateway's 30 s integration timeout.

The service behind the routes is a ``Backend`` (``app.ApiBackend``): this module knows
nothing of the stores.
"""

from __future__ import annotations

import binascii
import json
import re
from typing import Annotated, Any, Protocol

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.metrics import MetricUnit

from fanout import problems
from fanout.config import SETTINGS
from fanout.contract import FanoutRequest, Source, format_loc
from fanout.errors import MAX_LISTED_PROBLEMS, RequestInvalid
from fanout.observe import logger, metrics, report_invalid

ROUTES: dict[str, list[str]] = {"/fanout": ["POST"], "/runs": ["GET"], "/runs/{run_id}": ["GET"]}
"""Every route and its methods (template.yaml declares the same): drives 404 vs 405."""

IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")

app = APIGatewayHttpResolver(enable_validation=True)


class Backend(Protocol):
    """The service behind the routes; raises ``problems.ProblemError`` to refuse."""

    def run(self, request: FanoutRequest, source: Source, idempotency_key: str | None) -> dict[str, Any]:
        """Run a validated request (once per key, when a key is given); the answer."""

    def get_run(self, run_id: str) -> dict[str, Any]:
        """A stored run: its record and results."""

    def list_runs(self, limit: int, cursor: str | None) -> dict[str, Any]:
        """The most recent runs, newest first, and the cursor of the next page."""


def _route_pattern(route: str) -> re.Pattern[str]:
    """``/runs/{run_id}`` matches ``/runs/<one segment>``."""
    segments = ["[^/]+" if p.startswith("{") else re.escape(p) for p in route.split("/")]
    return re.compile("^" + "/".join(segments) + "$")


_ROUTE_PATTERNS = [(_route_pattern(route), methods) for route, methods in ROUTES.items()]


def allowed_methods(path: str) -> list[str] | None:
    """The methods served at ``path``, or None when no route matches it."""
    return next((methods for pattern, methods in _ROUTE_PATTERNS if pattern.match(path)), None)


def _backend() -> Backend:
    backend: Backend = app.context["backend"]
    return backend


def _json(
    document: dict[str, Any], headers: dict[str, str] | None = None, status: int = 200
) -> Response[str]:
    return Response(
        status_code=status, content_type="application/json", body=json.dumps(document), headers=headers
    )


def _caller() -> str:
    """Who is calling (IAM principal or JWT subject): idempotency keys are theirs alone."""
    authorizer = (app.current_event.raw_event.get("requestContext") or {}).get("authorizer") or {}
    iam = authorizer.get("iam") or {}
    claims = (authorizer.get("jwt") or {}).get("claims") or {}
    return str(iam.get("userArn") or iam.get("callerId") or claims.get("sub") or "anonymous")


def _idempotency_key() -> str | None:
    value = app.current_event.headers.get("idempotency-key")
    if value is None:
        return None
    if not IDEMPOTENCY_KEY.match(value):
        raise RequestInvalid(
            "the Idempotency-Key header must be 1 to 255 visible ASCII characters",
            [
                {
                    "loc": "header.Idempotency-Key",
                    "msg": "1 to 255 visible ASCII characters",
                    "type": "value_error",
                }
            ],
        )
    return f"api:{_caller()}:{value}"


def _request_id() -> str | None:
    context = app.current_event.request_context
    return context.request_id if context else None


def _answer(problem: problems.Problem) -> Response[str]:
    report_invalid("api", problem.detail, problem.listed_errors(), problem.errors_total)
    return problem.http_response(instance=_request_id())


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media in ("", "application/json") or media.endswith("+json")


@app.post("/fanout")
def post_fanout(request: FanoutRequest) -> Response[str]:
    # Powertools also accepts form bodies; this API speaks JSON only.
    if not _is_json(app.current_event.headers.get("content-type", "")):
        raise RequestUnsupportedContentType("Unsupported content type", errors=[])
    document = _backend().run(request, "api", _idempotency_key())
    headers = {"Idempotent-Replayed": "true"} if document.get("replayed") else {}
    if document.get("mode") == "sharded" and document.get("status") == "running":
        # A sharded run: accepted, it runs on; its progress and results are at GET /runs/{run_id}.
        return _json(document, headers | {"Location": document["location"]}, status=202)
    return _json(document, headers or None)


@app.get("/runs")
def list_runs(
    limit: Annotated[int, Query(ge=1, le=SETTINGS.max_runs_limit)] = SETTINGS.default_runs_limit,
    cursor: Annotated[str | None, Query(min_length=1, max_length=2_048)] = None,
) -> Response[str]:
    return _json(_backend().list_runs(limit, cursor))


@app.get("/runs/<run_id>")
def get_run(run_id: str) -> Response[str]:
    return _json(_backend().get_run(run_id))


@app.exception_handler(RequestValidationError)
def _invalid(exc: RequestValidationError) -> Response[str]:
    content_type = app.current_event.headers.get("content-type", "")
    if app.current_event.http_method.upper() != "GET" and not _is_json(content_type):
        return _answer(problems.unsupported_media_type(content_type))
    found = exc.errors()
    if any(e["type"] == "json_invalid" for e in found):
        return _answer(problems.malformed_body("the body is not valid JSON"))
    errors = [
        {"loc": format_loc(tuple(e["loc"])[1:]), "msg": e.get("msg", ""), "type": e["type"]}
        for e in found[:MAX_LISTED_PROBLEMS]
    ]
    detail = f"{len(found)} problem(s) in the request"
    return _answer(problems.validation_problem(detail, errors, len(found)))


@app.exception_handler(RequestUnsupportedContentType)
def _unsupported(exc: RequestUnsupportedContentType) -> Response[str]:
    return _answer(problems.unsupported_media_type(app.current_event.headers.get("content-type", "")))


@app.exception_handler([binascii.Error, UnicodeDecodeError, RecursionError])
def _unreadable(exc: Exception) -> Response[str]:
    reasons = {
        binascii.Error: "the body is marked base64 but is not valid base64",
        UnicodeDecodeError: "the body is not valid UTF-8",
        RecursionError: "the body is nested too deeply",
    }
    detail = next(text for kind, text in reasons.items() if isinstance(exc, kind))
    return _answer(problems.malformed_body(detail))


@app.exception_handler(RequestInvalid)
def _request_invalid(exc: RequestInvalid) -> Response[str]:
    return _answer(problems.validation_problem(exc.detail, exc.errors, exc.total))


@app.exception_handler(problems.ProblemError)
def _problem(exc: problems.ProblemError) -> Response[str]:
    if exc.problem.status >= 500:
        logger.warning(
            "request not served", extra={"status": exc.problem.status, "detail": exc.problem.detail}
        )
        metrics.add_metric(name="requests_not_served", unit=MetricUnit.Count, value=1)
        return exc.problem.http_response(instance=_request_id())
    return _answer(exc.problem)


@app.not_found
def _not_found(exc: NotFoundError) -> Response[str]:
    path = app.current_event.path
    method = app.current_event.http_method.upper()
    allowed = allowed_methods(path)
    if allowed and method not in allowed:
        return _answer(problems.method_not_allowed(method, path, allowed))
    return _answer(problems.not_found(path))


@app.exception_handler(Exception)
def _unexpected(exc: Exception) -> Response[str]:
    logger.exception("unhandled error in the HTTP front door")
    return problems.internal_error(_request_id()).http_response(instance=_request_id())


def resolve(event: dict[str, Any], context: Any, backend: Backend) -> dict[str, Any]:
    """Answer one HTTP API event; ``backend`` runs requests and reads runs back."""
    app.append_context(backend=backend)
    return app.resolve(event, context)
