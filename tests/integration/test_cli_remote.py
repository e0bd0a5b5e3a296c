"""``fanout invoke --api``, ``fanout runs show --watch`` and ``fanout runs list`` against the HTTP
API served on 127.0.0.1 (``devtools.local_api.wsgi_app``: API Gateway v2 events for the real
handler), its stores on moto in server mode with sharding on, the console script a subprocess.

The shard queue is driven as Lambda's event source mapping drives it (received from moto, handed
to the handler as an SQS event, deleted once done) while the command watches the run.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from werkzeug.serving import BaseWSGIServer, make_server

from devtools.demo_target import DemoTarget
from devtools.local_api import StartResponse, wsgi_app
from tests.support import CREDENTIALS, Deployment, MotoAws, call, free_port

FANOUT = Path(sys.executable).parent / "fanout"
PROCESS_TIMEOUT_S = 60
ROUNDS = 50  # a bounded drain
SHARD_THRESHOLD_API, SHARD_SIZE = 4, 3
# One invocation at a time in this process, as in one Lambda execution environment: the API's
# thread and the queue's driver share the handler's module-level logger and metrics.
ONE_AT_A_TIME = threading.Lock()
pytestmark = pytest.mark.deployment(
    "reports",
    "runs",
    "shards",
    shard_threshold_api=SHARD_THRESHOLD_API,
    shard_size=SHARD_SIZE,
    shard_finish_budget_s=1.0,
)


@dataclass
class Seen:
    """What the API server was asked: method, path and headers of each request (and bodies)."""

    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)

    def app(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.input"] = io.BytesIO(body)
        self.requests.append((environ["REQUEST_METHOD"], environ.get("PATH_INFO", ""), headers))
        self.bodies.append(body)
        with ONE_AT_A_TIME:
            return wsgi_app(environ, start_response)

    def gets_of(self, path: str) -> int:
        return sum(1 for method, p, _ in self.requests if method == "GET" and p == path)


@pytest.fixture
def drained(deployed: Deployment, aws: MotoAws) -> Iterator[Deployment]:
    """The deployment; after the test, what it left on the shard queue is deleted."""
    yield deployed
    sqs, url = aws.client("sqs"), aws.resources.shard_queue_url
    for _ in range(ROUNDS):  # what a failed test left behind (PurgeQueue: once a minute)
        left = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not left:
            break
        for m in left:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


@pytest.fixture
def api(drained: Deployment) -> Iterator[tuple[str, Seen]]:
    """The HTTP API on 127.0.0.1 (one thread, as ``devtools.local_api.LocalApi``), recording requests."""
    seen = Seen()
    server: BaseWSGIServer = make_server("127.0.0.1", 0, seen.app, threaded=False)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.port}", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def drain(aws: MotoAws) -> int:
    """Every shard message delivered to the handler, one per invocation, until none is left."""
    sqs, url = aws.client("sqs"), aws.resources.shard_queue_url
    arn = aws.queue_arn(url)
    for delivered in range(ROUNDS):
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, AttributeNames=["All"]).get(
            "Messages", []
        )
        if not messages:
            return delivered
        m = messages[0]
        record = {
            "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
            "attributes": m["Attributes"], "messageAttributes": {}, "md5OfBody": m["MD5OfBody"],
            "eventSource": "aws:sqs", "eventSourceARN": arn, "awsRegion": "us-east-1",
        }  # fmt: skip
        with ONE_AT_A_TIME:
            assert call({"Records": [record]}) == {"batchItemFailures": []}
        sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    raise AssertionError(f"the shard queue did not empty in {ROUNDS} deliveries")


def fanout(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(FANOUT), *args], capture_output=True, text=True, timeout=PROCESS_TIMEOUT_S, check=False,
        env=os.environ | {"PYTHONDONTWRITEBYTECODE": "1"} | (env or {}),
    )  # fmt: skip


def request_file(tmp_path: Path, urls: list[str]) -> str:
    path = tmp_path / "request.json"
    path.write_text(json.dumps({"urls": urls, "options": {"retries": 0}}))
    return str(path)


def wait_for(predicate: Any, within_s: float = 20.0) -> None:
    end = time.monotonic() + within_s
    while not predicate():
        assert time.monotonic() < end, "timed out waiting"
        time.sleep(0.05)


def sigv4_signature(method: str, url: str, headers: dict[str, str], body: bytes, region: str) -> str:
    """The signature API Gateway would compute for this request, with the test credentials."""
    signed = headers["authorization"].split("SignedHeaders=")[1].split(",")[0].split(";")
    request = AWSRequest(method=method, url=url, data=body, headers={h: headers[h] for h in signed})
    request.context["timestamp"] = headers["x-amz-date"]
    key, secret = CREDENTIALS["AWS_ACCESS_KEY_ID"], CREDENTIALS["AWS_SECRET_ACCESS_KEY"]
    signer = SigV4Auth(Credentials(key, secret), "execute-api", region)
    return str(signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request))


# -- invoke --api: authorization -----------------------------------------------------------------


def test_iam_auth_signs_with_sigv4_for_execute_api(
    api: tuple[str, Seen], target: DemoTarget, tmp_path: Path
) -> None:
    url, seen = api
    urls = [target.url("/ok?iam=1"), target.url("/ok?iam=2")]
    proc = fanout("invoke", request_file(tmp_path, urls), "--api", url, "--region", "eu-west-1", "-f", "json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    document = json.loads(proc.stdout)
    assert document["source"] == "api"
    assert [r["url"] for r in document["results"]] == urls
    [(method, path, headers)] = seen.requests
    assert (method, path) == ("POST", "/fanout")
    authorization = headers["authorization"]
    date = headers["x-amz-date"][:8]
    key = CREDENTIALS["AWS_ACCESS_KEY_ID"]
    assert authorization.startswith(
        f"AWS4-HMAC-SHA256 Credential={key}/{date}/eu-west-1/execute-api/aws4_request,"
    )
    signed = authorization.split("SignedHeaders=")[1].split(",")[0].split(";")
    assert {"host", "x-amz-date", "content-type"} <= set(signed)
    expected = sigv4_signature("POST", f"{url}/fanout", headers, seen.bodies[0], "eu-west-1")
    assert authorization.endswith(f", Signature={expected}"), "the signature does not verify"
    assert json.loads(seen.bodies[0])["urls"] == urls


def test_jwt_auth_sends_the_bearer_token(api: tuple[str, Seen], target: DemoTarget, tmp_path: Path) -> None:
    url, seen = api
    file = request_file(tmp_path, [target.url("/ok?jwt=1")])
    given = fanout("invoke", file, "--api", url, "--auth", "jwt", "--token", "header.payload.sig")
    assert given.returncode == 0, given.stderr
    from_env = fanout("invoke", file, "--api", url, "--auth", "jwt", env={"FANOUT_TOKEN": "from.the.env"})
    assert from_env.returncode == 0, from_env.stderr
    assert [h.get("authorization") for _, _, h in seen.requests] == [
        "Bearer header.payload.sig",
        "Bearer from.the.env",
    ]
    assert not any("x-amz-date" in h for _, _, h in seen.requests)
    missing = fanout("invoke", file, "--api", url, "--auth", "jwt", env={"FANOUT_TOKEN": ""})
    assert missing.returncode == 2
    assert "--auth jwt needs --token" in missing.stderr
    assert len(seen.requests) == 2, "nothing is sent without a token"


def test_a_refused_request_is_2_and_an_unreachable_api_is_3(api: tuple[str, Seen], tmp_path: Path) -> None:
    url, _ = api
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"urls": ["http://127.0.0.1:1/"], "options": {"concurrency": 0}}))
    refused = fanout("invoke", str(bad), "--api", url, "--auth", "none")
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "the service answered 422" in refused.stderr
    assert "options.concurrency" in refused.stderr
    closed = f"http://127.0.0.1:{free_port()}"
    unreachable = fanout(
        "invoke", request_file(tmp_path, ["http://127.0.0.1:1/"]), "--api", closed, "--auth", "none"
    )
    assert unreachable.returncode == 3, unreachable.stdout + unreachable.stderr
    assert "no answer" in unreachable.stderr
    unknown = fanout("runs", "show", "01a00000-0000-7000-8000-000000000000", "--api", url, "--auth", "none")
    assert unknown.returncode == 2, unknown.stdout + unknown.stderr
    assert "404" in unknown.stderr


# -- a sharded run: 202, watched until complete, listed ------------------------------------------


def test_a_sharded_run_is_accepted_then_watched_until_complete_then_listed(
    api: tuple[str, Seen], aws: MotoAws, target: DemoTarget, tmp_path: Path
) -> None:
    url, seen = api
    urls = [target.url(f"/ok?shard={i}") if i != 4 else target.url("/status/404") for i in range(8)]
    accepted = fanout("invoke", request_file(tmp_path, urls), "--api", url, "--auth", "none", "-f", "json")
    assert accepted.returncode == 1, accepted.stderr  # still running: not known to be ok
    run_id = json.loads(accepted.stdout)["run_id"]
    assert json.loads(accepted.stdout)["status"] == "running"
    assert "still running" not in accepted.stderr  # not watched
    path = f"/runs/{run_id}"
    with subprocess.Popen(
        [str(FANOUT), "runs", "show", run_id, "--api", url, "--auth", "none", "--watch", "--interval", "0.2s",
         "-f", "csv"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=os.environ | {"PYTHONDONTWRITEBYTECODE": "1"},
    ) as watcher:  # fmt: skip
        try:
            wait_for(lambda: seen.gets_of(path) >= 1)  # it has seen the run running
            assert drain(aws) == 3  # 8 URLs in shards of 3
            out, err = watcher.communicate(timeout=PROCESS_TIMEOUT_S)
        finally:
            watcher.kill()
    assert watcher.returncode == 1, out + err  # one URL answered 404
    assert err == ""  # no progress bar off a terminal
    assert seen.gets_of(path) >= 2, "the watch polled until the run was complete"
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["url"] for r in rows] == urls
    assert [r["outcome"] for r in rows] == ["ok"] * 4 + ["http_error"] + ["ok"] * 3
    listed = fanout("runs", "list", "--api", url, "--auth", "none", "--limit", "5", "-f", "json")
    assert listed.returncode == 0, listed.stderr
    mine = next(r for r in json.loads(listed.stdout)["runs"] if r["run_id"] == run_id)
    assert (mine["status"], mine["summary"]["total"], mine["summary"]["ok"]) == ("complete", 8, 7)
    as_csv = fanout("runs", "list", "--api", url, "--auth", "none", "-f", "csv")
    assert run_id in [r["run_id"] for r in csv.DictReader(io.StringIO(as_csv.stdout))]


def _read_terminal(fd: int, into: list[bytes]) -> None:
    """What the process writes to its terminal, until it closes it."""
    while True:
        try:
            chunk = os.read(fd, 65_536)
        except OSError:  # EIO: the other end is closed
            return
        if not chunk:
            return
        into.append(chunk)


def test_invoke_watch_follows_the_run_it_started_with_a_bar_of_its_shards(
    api: tuple[str, Seen], aws: MotoAws, target: DemoTarget, tmp_path: Path
) -> None:
    """stderr a pseudo-terminal: the shards' bar is drawn there while the run goes on."""
    url, seen = api
    urls = [target.url(f"/ok?follow={i}") for i in range(SHARD_THRESHOLD_API + 1)]
    primary, secondary = os.openpty()
    terminal: list[bytes] = []
    reader = threading.Thread(target=_read_terminal, args=(primary, terminal))
    with subprocess.Popen(
        [str(FANOUT), "invoke", request_file(tmp_path, urls), "--api", url, "--auth", "none", "--watch",
         "--interval", "0.2s", "-f", "jsonl"],
        stdout=subprocess.PIPE, stderr=secondary, text=True,
        env=os.environ | {"PYTHONDONTWRITEBYTECODE": "1", "COLUMNS": "120"},
    ) as invoker:  # fmt: skip
        os.close(secondary)
        reader.start()
        try:
            wait_for(lambda: any(m == "GET" and p.startswith("/runs/") for m, p, _ in seen.requests))
            assert drain(aws) == 2
            out, _ = invoker.communicate(timeout=PROCESS_TIMEOUT_S)
        finally:
            invoker.kill()
            reader.join(timeout=10)
            os.close(primary)
    bar = b"".join(terminal).decode(errors="replace")
    assert invoker.returncode == 0, out + bar
    assert [json.loads(line)["url"] for line in out.splitlines()] == urls
    assert seen.requests[0][:2] == ("POST", "/fanout")
    assert "shards" in bar
    assert "0/2" in bar, "the bar showed the run running"
    assert "2/2" in bar
    assert f"{len(urls)}/{len(urls)} URLs, complete" in bar
