"""The HTTP API's answers in its OpenAPI document (``docs/openapi.json``): each answer names the
document model that builds it, and the document's JSON Schema is generated from that same model
(``fanout.core.model.schemas``, injected by ``devtools.openapi``), so what the API answers and
what it publishes cannot differ. A test validates real answers against the published schemas.
"""

from __future__ import annotations

from typing import cast

from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

from fanout.core.model import SCHEMA_REF, Document
from fanout.entry.problems import ProblemDetails

ANSWERS: set[type[Document]] = {ProblemDetails}
"""Every document the API answers with: their schemas are the OpenAPI document's components."""


def _ref(model: type[Document]) -> dict[str, str]:
    ANSWERS.add(model)
    return {"$ref": SCHEMA_REF.format(name=model.__name__)}


def problems(*statuses: int) -> dict[int, OpenAPIResponse]:
    """The ``responses`` entries of problem answers with these statuses."""
    return {
        status: cast(
            OpenAPIResponse,
            {
                "description": _PROBLEM_DESCRIPTIONS[status],
                "content": {"application/problem+json": {"schema": _ref(ProblemDetails)}},
            },
        )
        for status in statuses
    }


def answer(model: type[Document], description: str, status: int = 200) -> dict[int, OpenAPIResponse]:
    response = {"description": description, "content": {"application/json": {"schema": _ref(model)}}}
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
