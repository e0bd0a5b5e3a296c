"""The HTTP front door: API Gateway HTTP API (payload v2) via Powertools' resolver.

``POST /fanout`` takes the contract's request as its JSON body (validated by the
resolver against ``FanoutRequest``) and answers 200 with the result document. Every
failure is answered by the exception handlers below, which all go through
``problems``: nothing escapes as an unhandled error. The run's deadline is capped
by ``api_deadline_cap_s`` so the answer beats API Gateway's 30 s integration timeout.
"""

from __future__ import annotations

import binascii
import json
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)

from fanout import problems
from fanout.contract import FanoutRequest, Source, format_loc
from fanout.errors import RequestInvalid
from fanout.observe import logger, report_invalid

ROUTES: dict[str, list[str]] = {"/fanout": ["POST"]}

app = APIGatewayHttpResolver(enable_validation=True)

RunRequest = Callable[[FanoutRequest, Source], dict[str, Any]]
"""Runs a validated request for a source ("api") and returns the result document."""


def _request_id() -> str | None:
    context = app.current_event.request_context
    return context.request_id if context else None


def _answer(problem: problems.Problem) -> Response[str]:
    report_invalid("api", problem.detail, problem.errors)
    return problem.http_response(instance=_request_id())


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media in ("", "application/json") or media.endswith("+json")


@app.post("/fanout")
def post_fanout(request: FanoutRequest) -> Response[str]:
    # Powertools also accepts form bodies; this API speaks JSON only.
    if not _is_json(app.current_event.headers.get("content-type", "")):
        raise RequestUnsupportedContentType("Unsupported content type", errors=[])
    run: RunRequest = app.context["run_request"]
    document = run(request, "api")
    return Response(status_code=200, content_type="application/json", body=json.dumps(document))


@app.exception_handler(RequestValidationError)
def _invalid(exc: RequestValidationError) -> Response[str]:
    content_type = app.current_event.headers.get("content-type", "")
    if not _is_json(content_type):
        return _answer(problems.unsupported_media_type(content_type))
    errors = [
        {"loc": format_loc(tuple(e["loc"])[1:]), "msg": e.get("msg", ""), "type": e["type"]}
        for e in exc.errors()
    ]
    if any(e["type"] == "json_invalid" for e in errors):
        return _answer(problems.malformed_body("the body is not valid JSON"))
    return _answer(problems.validation_problem(f"{len(errors)} problem(s) in the request", errors))


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
    return _answer(problems.validation_problem(exc.detail, exc.errors))


@app.not_found
def _not_found(exc: NotFoundError) -> Response[str]:
    path = app.current_event.path
    method = app.current_event.http_method.upper()
    allowed = ROUTES.get(path)
    if allowed and method not in allowed:
        return _answer(problems.method_not_allowed(method, path, allowed))
    return _answer(problems.not_found(path))


@app.exception_handler(Exception)
def _unexpected(exc: Exception) -> Response[str]:
    logger.exception("unhandled error in the HTTP front door")
    return problems.internal_error(_request_id()).http_response(instance=_request_id())


def resolve(event: dict[str, Any], context: Any, run_request: RunRequest) -> dict[str, Any]:
    """Answer one HTTP API event; ``run_request`` performs the fan-out."""
    app.append_context(run_request=run_request)
    return app.resolve(event, context)
