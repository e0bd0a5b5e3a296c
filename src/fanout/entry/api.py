"""The HTTP front door: API Gateway HTTP API (payload v2) via Powertools' resolver.

``POST /fanout`` takes the contract's request as its JSON body (validated by the resolver
against ``FanoutRequest``, within the invocation's settings: ``WithinTheSettings``) and
answers 200 with the result document, or 202 with the run id and
a ``Location: /runs/{run_id}`` for a sharded run; with an ``Idempotency-Key`` header, a repeat
of the request gets the first answer. ``GET /runs/{run_id}`` answers a stored run (its record
and results) and ``GET /runs`` the most recent ones (``?limit=`` and ``?cursor=``);
``GET /monitors`` and ``GET /monitors/{name}`` the monitors and their URLs (docs/monitors.md). Every
failure is answered by the exception handlers below, through ``problems``: nothing escapes as
an unhandled error. Runs are capped at ``api_deadline_cap_s`` so the answer beats API
Gateway's 30 s integration timeout.
"""

from __future__ import annotations

import binascii
import re
from typing import Annotated, Any, cast

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from pydantic import ValidatorFunctionWrapHandler, WrapValidator

from fanout.core.documents import RunDocument, RunStatus, Source
from fanout.core.model import Document
from fanout.core.monitor_views import MonitorListing, MonitorView
from fanout.core.records import RunListing, RunView
from fanout.core.requests import FanoutRequest, format_loc
from fanout.entry import problems
from fanout.entry.schemas import answer as answer_response
from fanout.entry.schemas import problems as problem_responses
from fanout.errors import MAX_LISTED_PROBLEMS, FanoutError, RequestInvalid
from fanout.observability.log import MetricUnit, logger, metrics
from fanout.runs import service
from fanout.runs.invocation import Invocation
from fanout.runs.report import report_invalid

ROUTES: dict[str, list[str]] = {
    "/fanout": ["POST"],
    "/runs": ["GET"],
    "/runs/{run_id}": ["GET"],
    "/monitors": ["GET"],
    "/monitors/{name}": ["GET"],
}
"""Every route and its methods (template.yaml declares the same): drives 404 vs 405."""

IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")

app = APIGatewayHttpResolver(enable_validation=True)


def _route_pattern(route: str) -> re.Pattern[str]:
    """``/runs/{run_id}`` matches ``/runs/<one segment>``."""
    segments = ["[^/]+" if p.startswith("{") else re.escape(p) for p in route.split("/")]
    return re.compile("^" + "/".join(segments) + "$")


_ROUTE_PATTERNS = [(_route_pattern(route), methods) for route, methods in ROUTES.items()]


def allowed_methods(path: str) -> list[str] | None:
    """The methods served at ``path``, or None when no route matches it."""
    return next((methods for pattern, methods in _ROUTE_PATTERNS if pattern.match(path)), None)


def _invocation() -> Invocation:
    invocation: Invocation = app.context["invocation"]
    return invocation


def _within_the_settings(value: object, _: ValidatorFunctionWrapHandler) -> FanoutRequest:
    """The resolver validates the body without a context; the request's defaults and maxima are
    the invocation's settings, so the body is validated with them instead (the same errors)."""
    return FanoutRequest.model_validate(value, context=_invocation().settings)


WithinTheSettings = Annotated[FanoutRequest, WrapValidator(_within_the_settings), Body()]
"""``FanoutRequest`` as the route's body: its schema, validated within the invocation's settings."""


def _json(document: Document, headers: dict[str, str] | None = None, status: int = 200) -> Response[str]:
    body = document.to_bytes().decode()
    return Response(status_code=status, content_type="application/json", body=body, headers=headers)


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
        msg = "1 to 255 visible ASCII characters"
        raise RequestInvalid(
            f"the Idempotency-Key header must be {msg}",
            [{"loc": "header.Idempotency-Key", "msg": msg, "type": "value_error"}],
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


@app.post(
    "/fanout",
    summary="Fetch a list of URLs within the deadline",
    responses=answer_response(RunDocument, "The run's result document")
    | answer_response(RunDocument, "A sharded run, accepted: poll Location (GET /runs/{run_id})", 202)
    | problem_responses(400, 409, 415, 422, 501, 503),
)
def post_fanout(request: WithinTheSettings) -> Response[str]:
    # Powertools also accepts form bodies; this API speaks JSON only.
    if not _is_json(app.current_event.headers.get("content-type", "")):
        raise RequestUnsupportedContentType("Unsupported content type", errors=[])
    invocation = _invocation()
    payload = request.model_dump(mode="json", by_alias=True)
    cap_s = invocation.settings.api_deadline_cap_s
    document = service.run(
        request, Source.API, invocation, key=_idempotency_key(), payload=payload, cap_s=cap_s
    )
    headers = {"Idempotent-Replayed": "true"} if document.replayed else {}
    if document.mode == "sharded" and document.status is RunStatus.RUNNING and document.location:
        # A sharded run: accepted, it runs on; its progress and results are at GET /runs/{run_id}.
        return _json(document, headers | {"Location": document.location}, status=202)
    return _json(document, headers or None)


@app.get(
    "/runs",
    summary="The most recent runs",
    responses=answer_response(RunListing, "Runs, newest first") | problem_responses(422, 501, 503),
)
def list_runs(
    limit: Annotated[int | None, Query(ge=1)] = None,
    cursor: Annotated[str | None, Query(min_length=1, max_length=2_048)] = None,
) -> Response[str]:
    invocation = _invocation()
    cap_s = invocation.settings.api_deadline_cap_s
    return _json(service.list_runs(limit, cursor, invocation, cap_s=cap_s))


@app.get(
    "/runs/<run_id>",
    summary="A stored run: its record and results",
    responses=answer_response(RunView, "The run") | problem_responses(404, 422, 501, 503),
)
def get_run(run_id: str) -> Response[str]:
    invocation = _invocation()
    cap_s = invocation.settings.api_deadline_cap_s
    return _json(service.read_run(run_id, invocation, cap_s=cap_s))


@app.get(
    "/monitors",
    summary="The monitors",
    responses=answer_response(MonitorListing, "Monitors, by name") | problem_responses(422, 501, 503),
)
def list_monitors(
    limit: Annotated[int | None, Query(ge=1)] = None,
    cursor: Annotated[str | None, Query(min_length=1, max_length=2_048)] = None,
    group: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
    tag: Annotated[str | None, Query(min_length=3, max_length=257, description="key:value")] = None,
) -> Response[str]:
    invocation = _invocation()
    cap_s = invocation.settings.api_deadline_cap_s
    return _json(service.list_monitors(limit, cursor, invocation, cap_s=cap_s, group=group, tag=tag))


@app.get(
    "/monitors/<name>",
    summary="A monitor and a page of its URLs",
    responses=answer_response(MonitorView, "The monitor") | problem_responses(404, 422, 501, 503),
)
def get_monitor(
    name: str,
    limit: Annotated[int | None, Query(ge=1)] = None,
    cursor: Annotated[str | None, Query(min_length=1, max_length=2_048)] = None,
) -> Response[str]:
    invocation = _invocation()
    cap_s = invocation.settings.api_deadline_cap_s
    return _json(service.read_monitor(name, limit, cursor, invocation, cap_s=cap_s))


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
    return _problem_answer(
        RequestInvalid(f"{len(found)} problem(s) in the request", errors, total=len(found))
    )


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


@app.exception_handler(FanoutError)
def _refused(exc: FanoutError) -> Response[str]:
    return _problem_answer(exc)


def _problem_answer(exc: FanoutError) -> Response[str]:
    problem = problems.problem_for(exc)
    if problem is None:
        return _internal_error()
    if problem.status >= 500:
        logger.warning("request not served", extra={"status": problem.status, "detail": problem.detail})
        metrics.add_metric(name="requests_not_served", unit=MetricUnit.Count, value=1)
        return problem.http_response(instance=_request_id())
    return _answer(problem)


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
    # Powertools' validation parses form bodies itself, before the route, and raises on a broken
    # one (a multipart type without its boundary): this API speaks JSON only, so that is a 415.
    content_type = app.current_event.headers.get("content-type", "")
    if app.current_event.http_method.upper() != "GET" and content_type and not _is_json(content_type):
        return _answer(problems.unsupported_media_type(content_type))
    return _internal_error()


def _internal_error() -> Response[str]:
    logger.exception("unhandled error in the HTTP front door")
    return problems.internal_error(_request_id()).http_response(instance=_request_id())


def answer(event: dict[str, Any], invocation: Invocation) -> dict[str, Any]:
    """Answer one HTTP API event within ``invocation``."""
    app.append_context(invocation=invocation)
    return app.resolve(event, cast(Any, invocation.context))
