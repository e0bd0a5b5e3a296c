"""The deployed HTTP API (``POST /fanout``, ``GET /runs``, ``GET /runs/{id}``) over httpx.

Its route is behind an authorizer (docs/deploy.md): ``--auth iam`` (the default) signs each
request with SigV4 for ``execute-api`` (botocore's signer, the credentials of botocore's usual
chain: environment, profile, SSO, instance role), ``--auth jwt --token T`` sends a bearer token,
``--auth none`` nothing (a local API). Answers are JSON documents; a refusal is an RFC 9457
problem (4xx: ``ServiceRefused``); a failure or no answer at all is ``ServiceFailed``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx

from fanout.cli.errors import NoCredentials, ServiceFailed, ServiceRefused

AUTHS = ("iam", "jwt", "none")
HTTP_TIMEOUT_S = 40.0  # API Gateway gives up after 30 s: an answer comes before this
_REGION_IN_HOST = re.compile(r"\.execute-api\.([a-z0-9-]+)\.amazonaws\.com")


@dataclass(frozen=True, slots=True)
class Answer:
    """An HTTP answer: its status and its JSON document."""

    status: int
    document: dict[str, Any]


def region_of(url: str, region: str | None) -> str | None:
    """``--region``, else the region an ``execute-api`` host names, else the profile's."""
    if region:
        return region
    match = _REGION_IN_HOST.search(url)
    if match:
        return match[1]
    import boto3  # only when signing

    return boto3.session.Session().region_name


def sigv4_headers(method: str, url: str, body: bytes, headers: dict[str, str], region: str) -> dict[str, str]:
    """``headers`` plus SigV4's (``Authorization``, ``X-Amz-Date``, the session token)."""
    import boto3
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    credentials = boto3.session.Session().get_credentials()
    if credentials is None:
        raise NoCredentials(
            "--auth iam needs AWS credentials (environment, profile or role); none were found"
        )
    request = AWSRequest(method=method, url=url, data=body, headers=headers)
    SigV4Auth(credentials.get_frozen_credentials(), "execute-api", region).add_auth(request)
    return dict(request.headers.items())


@dataclass(frozen=True, slots=True)
class Api:
    """The API at ``base_url`` (its stage's URL: ``https://{id}.execute-api.{region}.amazonaws.com``)."""

    base_url: str
    auth: str = "iam"
    token: str | None = None
    region: str | None = None
    timeout_s: float = HTTP_TIMEOUT_S
    _client: httpx.Client = field(default_factory=lambda: httpx.Client(trust_env=True), repr=False)

    def __post_init__(self) -> None:
        if self.auth == "jwt" and not self.token:
            raise NoCredentials("--auth jwt needs --token")

    def _headers(self, method: str, url: str, body: bytes) -> dict[str, str]:
        headers = {"accept": "application/json"}
        if body:
            headers["content-type"] = "application/json"
        if self.auth == "jwt":
            headers["authorization"] = f"Bearer {self.token}"
        elif self.auth == "iam":
            region = region_of(self.base_url, self.region)
            if region is None:
                raise NoCredentials("--auth iam needs a region: give --region (or AWS_REGION)")
            headers = sigv4_headers(method, url, body, headers, region)
        return headers

    def call(
        self, method: str, path: str, *, body: Any = None, query: dict[str, str] | None = None
    ) -> Answer:
        """One request; the answer when it is a 2xx JSON document (refusals and failures raise)."""
        url = self.base_url.rstrip("/") + path + (f"?{urlencode(query)}" if query else "")
        data = b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
        headers = self._headers(method, url, data)
        try:
            response = self._client.request(
                method, url, content=data or None, headers=headers, timeout=self.timeout_s
            )
        except httpx.HTTPError as exc:
            raise ServiceFailed(f"{method} {url}: no answer ({type(exc).__name__}: {exc})") from None
        return _answer(method, url, response)

    def post_fanout(self, request: Any) -> Answer:
        return self.call("POST", "/fanout", body=request)

    def get_run(self, run_id: str) -> dict[str, Any]:
        return self.call("GET", f"/runs/{run_id}").document

    def list_runs(self, limit: int | None = None, cursor: str | None = None) -> dict[str, Any]:
        query = {k: str(v) for k, v in (("limit", limit), ("cursor", cursor)) if v is not None}
        return self.call("GET", "/runs", query=query or None).document


def _answer(method: str, url: str, response: httpx.Response) -> Answer:
    try:
        document = response.json()
    except ValueError:
        document = None
    status = response.status_code
    if status < 300 and isinstance(document, dict):
        return Answer(status, document)
    if not isinstance(document, dict):  # API Gateway's own answers, proxies: not the service's
        text = response.text[:300].strip() or response.reason_phrase
        document = {"title": f"HTTP {status}", "detail": text}
    elif "title" not in document and "message" in document:  # API Gateway: {"message": "Forbidden"}
        document = {"title": str(document["message"]), "detail": f"{method} {url}"}
    if 400 <= status < 500:
        raise ServiceRefused(status, document)
    raise ServiceFailed(
        f"{method} {url}: HTTP {status}: {document.get('title')}: {document.get('detail') or ''}"
    )
