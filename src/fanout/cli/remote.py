"""The deployed function: a direct invoke (Lambda's Invoke API, boto3), what its answers mean,
and following a sharded run until it ends (``GET /runs/{id}``).

A direct invoke is sent once: the client's retries are off (``total_max_attempts`` 1), since a
retried fan-out would fetch every URL again (a webhook twice), and the read timeout is longer
than Lambda's longest invocation. The answer is the run's document, a typed error
``{"error": {...}}`` (``ServiceRefused`` below 500, ``ServiceFailed`` from 500), or a function
error (``ServiceFailed``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import Any

from fanout.cli.api import Api
from fanout.cli.errors import NoCredentials, ServiceFailed, ServiceRefused

INVOKE_READ_TIMEOUT_S = 15 * 60 + 30


def checked(document: Any) -> dict[str, Any]:
    """A direct invoke's answer as a document, or the error it is."""
    if not isinstance(document, dict):
        raise ServiceFailed(f"the function answered something that is not a document: {str(document)[:200]}")
    error = document.get("error")
    if isinstance(error, Mapping) and set(document) == {"error"}:
        status = int(error.get("status") or 500)
        problem = {"title": error.get("title") or error.get("type"), **error}
        if status < 500:
            raise ServiceRefused(status, problem)
        raise ServiceFailed(
            f"the function answered {status} ({problem['title']}): {error.get('detail') or ''}"
        )
    return document


def invoke_function(
    name: str, request: Any, *, region: str | None, endpoint_url: str | None
) -> dict[str, Any]:
    """Invoke function ``name`` with ``request`` (synchronously, once); its document."""
    import boto3
    import botocore.exceptions
    from botocore.config import Config

    config = Config(
        read_timeout=INVOKE_READ_TIMEOUT_S,
        connect_timeout=10,
        retries={"total_max_attempts": 1, "mode": "standard"},
    )
    try:
        client = boto3.client("lambda", region_name=region, endpoint_url=endpoint_url, config=config)
        answer = client.invoke(
            FunctionName=name, InvocationType="RequestResponse", Payload=json.dumps(request)
        )
        payload = answer["Payload"].read()
    except botocore.exceptions.NoRegionError:
        raise NoCredentials("a direct invoke needs a region: give --region (or AWS_REGION)") from None
    except botocore.exceptions.NoCredentialsError:
        raise NoCredentials("a direct invoke needs AWS credentials; none were found") from None
    except botocore.exceptions.ClientError as exc:
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 500)
        error = exc.response.get("Error", {})
        problem = {"title": error.get("Code", "ClientError"), "detail": error.get("Message", str(exc))}
        if status < 500:
            raise ServiceRefused(status, problem) from None
        raise ServiceFailed(f"Lambda answered {status}: {problem['title']}: {problem['detail']}") from None
    except (botocore.exceptions.BotoCoreError, OSError) as exc:
        raise ServiceFailed(f"the function {name!r} could not be invoked: {exc}") from None
    try:
        document = json.loads(payload)
    except ValueError:
        raise ServiceFailed(f"the function answered something that is not JSON: {payload[:200]!r}") from None
    if answer.get("FunctionError"):
        message = document.get("errorMessage") if isinstance(document, dict) else document
        raise ServiceFailed(f"the function failed ({answer['FunctionError']}): {message}")
    return checked(document)


def is_running(document: Mapping[str, Any]) -> bool:
    """A sharded run accepted and still running (an answer with ``location``, or its view)."""
    return document.get("status") == "running"


def watch(
    api: Api,
    run_id: str,
    *,
    interval_s: float,
    timeout_s: float,
    on_view: Callable[[Mapping[str, Any]], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Poll ``GET /runs/{run_id}`` until the run is complete or failed, or ``timeout_s`` has
    passed (the last view then, still ``running``); ``on_view`` is told each view."""
    end = time.monotonic() + timeout_s
    while True:
        view = api.get_run(run_id)
        if on_view is not None:
            on_view(view)
        if not is_running(view) or time.monotonic() + interval_s > end:
            return view
        sleep(interval_s)
