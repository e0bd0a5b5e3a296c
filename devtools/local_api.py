"""The HTTP API in-process: a WSGI app that turns each HTTP request into the API Gateway HTTP API
(payload v2) event the function gets behind API Gateway, and the handler's answer back into HTTP.

For tests that speak HTTP to the API without Docker (schemathesis calls ``wsgi_app`` directly, the
CLI's ``--api`` tests talk to ``LocalApi``'s server): the same handler, event shape and authorizer
context (an IAM caller) as ``events/api.json``. ``sam local start-api`` (``make api``) is the same
API in the Lambda image, behind SAM's own local gateway.
"""

from __future__ import annotations

import base64
import copy
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl

from werkzeug.serving import BaseWSGIServer, make_server

from devtools.events import load_event
from devtools.threaded import ServedOnThread

StartResponse = Callable[..., Any]
REMAINING_MS = 30_000  # API Gateway's integration timeout: what the function has behind it


class _Context:
    """Lambda's context object, with a real clock counting down from ``remaining_ms``."""

    function_name = "fanout-local-api"
    function_version = "$LATEST"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:fanout-local-api"
    log_group_name = "/aws/lambda/fanout-local-api"
    log_stream_name = "local"

    def __init__(self, remaining_ms: float) -> None:
        self._end = time.monotonic() + remaining_ms / 1000
        self.aws_request_id = str(uuid.uuid4())

    def get_remaining_time_in_millis(self) -> int:
        return int((self._end - time.monotonic()) * 1000)


_TEMPLATE: dict[str, Any] = load_event("api.json")


def http_api_event(environ: dict[str, Any]) -> dict[str, Any]:
    """The HTTP API v2 event API Gateway would send for this WSGI request."""
    method = environ["REQUEST_METHOD"].upper()
    path = environ.get("PATH_INFO") or "/"
    query = environ.get("QUERY_STRING", "")
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = environ["CONTENT_TYPE"]
    event = copy.deepcopy(_TEMPLATE)
    event["routeKey"] = "$default"
    event["rawPath"], event["rawQueryString"] = path, query
    event["headers"] = headers
    event["queryStringParameters"] = dict(parse_qsl(query, keep_blank_values=True)) or None
    context = event["requestContext"]
    context["http"] |= {"method": method, "path": path}
    context["routeKey"], context["requestId"] = "$default", str(uuid.uuid4())
    try:
        event["body"], event["isBase64Encoded"] = body.decode("utf-8"), False
    except UnicodeDecodeError:
        event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
    if not body:
        event["body"] = None
    return event


def wsgi_app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    from fanout.handler import lambda_handler

    answer = lambda_handler(http_api_event(environ), _Context(REMAINING_MS))
    body = answer.get("body") or ""
    data = base64.b64decode(body) if answer.get("isBase64Encoded") else body.encode()
    headers = [(k, str(v)) for k, v in (answer.get("headers") or {}).items()]
    headers += [("Content-Length", str(len(data)))]
    status = int(answer.get("statusCode", 500))
    start_response(f"{status} {_REASONS.get(status, 'Status')}", headers)
    return [data]


_REASONS = {200: "OK", 202: "Accepted", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
            409: "Conflict", 415: "Unsupported Media Type", 422: "Unprocessable Entity",
            500: "Internal Server Error", 501: "Not Implemented", 503: "Service Unavailable"}  # fmt: skip


class LocalApi(ServedOnThread[BaseWSGIServer]):
    """``with LocalApi() as api:`` the API served on 127.0.0.1 (``api.url``), one thread."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(make_server(host, port, wsgi_app, threaded=False), daemon=True, name="local-api")

    @property
    def url(self) -> str:
        return f"http://{self._server.host}:{self._server.port}"


def main() -> None:  # pragma: no cover - a developer tool
    import argparse

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=3000)
    args = parser.parse_args()
    with LocalApi(port=args.port) as api:
        print(json.dumps({"url": api.url}), flush=True)
        threading.Event().wait()


if __name__ == "__main__":
    main()
