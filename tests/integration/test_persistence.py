"""Runs outlive the invocation: S3 reports, DynamoDB records, target lists, idempotency.

Everything goes through the real Lambda handler with realistic events, against moto in
server mode on 127.0.0.1 (resources created from template.yaml) and the demo target.
The service reads its settings once, as on Lambda: each test makes the settings of a
deployment with the stores on the process's (``Deployment.configure``), and botocore
finds moto through ``AWS_ENDPOINT_URL`` as it finds AWS in Lambda.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from devtools.demo_target import DemoTarget
from fanout.aws import codec, runs_table
from fanout.aws.reports import REPORT_PREFIX
from fanout.config import env_names, get_settings
from fanout.core.answers import answer_size
from fanout.entry import api
from tests.support import (
    ROOT,
    Deployment,
    HangingServer,
    MotoAws,
    api_request,
    body_of,
    call,
    free_port,
    load_template,
    problem_of,
    scheduled,
    unique,
)

SETTINGS = get_settings()
pytestmark = pytest.mark.deployment("reports", "runs", "idempotency")

REPORT_KEY = re.compile(r"^reports/\d{4}/\d{2}/\d{2}/[0-9a-f-]{36}\.json\.gz$")


# -- events --------------------------------------------------------------------------


def s3_object(aws: MotoAws, key: str) -> dict[str, Any]:
    response: dict[str, Any] = aws.client("s3").get_object(Bucket=aws.resources.bucket, Key=key)
    response["Data"] = response["Body"].read()
    response["Body"].close()
    return response


# -- a run is stored, and read back --------------------------------------------------


def test_an_api_run_is_stored_and_read_back_by_run_id(
    deployed: Deployment, aws: MotoAws, target: DemoTarget
) -> None:
    urls = [target.url("/ok?bytes=5"), target.url("/status/404")]
    document = body_of(call(api_request("POST", "/fanout", body={"urls": urls, "options": {"retries": 0}})))
    persisted = document["persisted"]
    assert persisted["stored"] is True
    assert persisted["report"]["status"] == "stored"
    assert persisted["report"]["bucket"] == aws.resources.bucket
    assert REPORT_KEY.match(persisted["report"]["key"])
    assert document["run_id"] in persisted["report"]["key"]
    assert persisted["record"] == {"status": "stored", "table": aws.resources.runs_table}

    # The report: gzip JSON, the full document (the answer less its "persisted" section).
    obj = s3_object(aws, persisted["report"]["key"])
    assert obj["ContentType"] == "application/json"
    assert obj["ContentEncoding"] == "gzip"
    report = json.loads(gzip.decompress(obj["Data"]))
    assert report["results"] == document["results"]
    assert report["run_id"] == document["run_id"]

    # The record: with a TTL from the retention setting.
    item = aws.client("dynamodb").get_item(
        TableName=aws.resources.runs_table, Key={"run_id": {"S": document["run_id"]}}
    )["Item"]
    ttl = int(item[codec.TTL_ATTRIBUTE]["N"])
    assert abs(ttl - (time.time() + deployed.settings.run_retention_days * 86_400)) < 600
    assert item["kind"] == {"S": codec.RUN_KIND}

    # Read back through the API.
    run = body_of(call(api_request("GET", f"/runs/{document['run_id']}")))
    assert run["run_id"] == document["run_id"]
    assert run["source"] == "api"
    assert run["summary"] == document["summary"]
    assert run["started_at"] == document["started_at"]
    assert run["finished_at"] >= run["started_at"]
    assert run["report"] == {"bucket": aws.resources.bucket, "key": persisted["report"]["key"]}
    assert run["expires_at"].endswith("Z")
    assert run["results"] == document["results"]


def test_an_unknown_run_is_a_404_problem(deployed: Deployment) -> None:
    problem = problem_of(call(api_request("GET", f"/runs/{uuid.uuid4()}")), 404, "run-not-found")
    assert problem["instance"]
    problem_of(call(api_request("GET", "/runs/not-a-run-id")), 404, "run-not-found")


def test_runs_routes_refuse_other_methods_with_405(deployed: Deployment) -> None:
    response = call(api_request("POST", f"/runs/{uuid.uuid4()}", body={}))
    problem_of(response, 405, "method-not-allowed")
    assert response["headers"]["Allow"] == "GET"
    problem_of(call(api_request("DELETE", "/runs")), 405, "method-not-allowed")


def test_recent_runs_are_listed_newest_first_page_by_page(deployed: Deployment, target: DemoTarget) -> None:
    run_ids = []
    for i in range(3):
        document = call({"urls": [target.url(f"/ok?list={i}")]})
        assert document["persisted"]["stored"]
        run_ids.append(document["run_id"])
        time.sleep(0.002)  # distinct milliseconds in started_at
    first = body_of(call(api_request("GET", "/runs", query={"limit": "2"})))
    assert first["limit"] == 2
    assert [r["run_id"] for r in first["runs"]] == run_ids[::-1][:2]
    assert all("results" not in r for r in first["runs"])
    assert first["runs"][0]["summary"]["total"] == 1
    assert first["next_cursor"]
    second = body_of(call(api_request("GET", "/runs", query={"limit": "2", "cursor": first["next_cursor"]})))
    assert second["runs"][0]["run_id"] == run_ids[0]
    default = body_of(call(api_request("GET", "/runs")))
    assert default["limit"] == SETTINGS.default_runs_limit


@pytest.mark.parametrize(
    "query",
    [
        {"limit": "0"},
        {"limit": "abc"},
        {"limit": str(SETTINGS.max_runs_limit + 1)},
        {"cursor": "bm90LW91cnM"},
    ],
)
def test_a_bad_listing_query_is_a_422_problem(deployed: Deployment, query: dict[str, str]) -> None:
    problem = problem_of(call(api_request("GET", "/runs", query=query)), 422, "validation-error")
    assert problem["errors"][0]["loc"] in ("limit", "cursor")


def test_without_a_runs_table_the_runs_routes_say_so(deployed: Deployment) -> None:
    deployed.configure(runs_table_name="")
    problem_of(call(api_request("GET", "/runs")), 501, "runs-not-kept")
    problem_of(call(api_request("GET", f"/runs/{uuid.uuid4()}")), 501, "runs-not-kept")


def test_with_every_store_off_the_run_says_so_and_never_imports_aioboto3(target: DemoTarget) -> None:
    code = f"""
import json, sys
from fanout.entry.router import handle_event
class Context:  # Lambda's context object, as much of it as the service reads
    def get_remaining_time_in_millis(self): return 5000
answer = handle_event({{"urls": ["{target.url("/ok")}"]}}, Context())
print(json.dumps({{"persisted": answer["persisted"], "outcome": answer["results"][0]["outcome"],
    "imported": sorted(m for m in ("aioboto3", "aiobotocore", "boto3") if m in sys.modules)}}))
"""
    env = {k: v for k, v in os.environ.items() if k not in env_names().values() or k == "EGRESS_ALLOW_CIDRS"}
    env["PYTHONPATH"] = f"{ROOT / 'src'}{os.pathsep}{ROOT}"
    proc = subprocess.run(
        [sys.executable, "-W", "error", "-c", code],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    answer = json.loads(proc.stdout.strip().splitlines()[-1])
    assert answer == {
        "persisted": {"stored": False, "report": {"status": "off"}, "record": {"status": "off"}},
        "outcome": "ok",
        "imported": [],
    }


# -- scheduled target lists -----------------------------------------------------------


def put_list(aws: MotoAws, body: bytes) -> str:
    key = f"targets/{uuid.uuid4().hex}.txt"
    aws.client("s3").put_object(Bucket=aws.resources.bucket, Key=key, Body=body)
    return f"s3://{aws.resources.bucket}/{key}"


def test_a_schedule_reads_its_urls_from_a_json_list_in_s3(
    deployed: Deployment, aws: MotoAws, target: DemoTarget
) -> None:
    entries = [
        target.url("/ok?t=1"),
        {"url": target.url("/echo"), "method": "POST", "json": {"a": 1}},
        target.url("/status/500"),
    ]
    uri = put_list(aws, json.dumps(entries).encode())
    document = call(scheduled({"targets": uri, "options": {"retries": 0}}))
    assert document["source"] == "schedule"
    assert document["targets"] == uri
    assert [r["url"] for r in document["results"]] == [
        target.url("/ok?t=1"),
        target.url("/echo"),
        target.url("/status/500"),
    ]
    assert [r["outcome"] for r in document["results"]] == ["ok", "ok", "http_error"]
    assert document["persisted"]["stored"]
    run = body_of(call(api_request("GET", f"/runs/{document['run_id']}")))
    assert run["targets"] == uri
    assert run["source"] == "schedule"


def test_a_target_list_may_be_one_url_per_line(
    deployed: Deployment, aws: MotoAws, target: DemoTarget
) -> None:
    text = f"# health checks\n{target.url('/ok?l=1')}\n\n  {target.url('/ok?l=2')}  \r\n"
    uri = put_list(aws, text.encode())
    document = call({"source": "schedule", "targets": uri})
    assert [r["url"] for r in document["results"]] == [target.url("/ok?l=1"), target.url("/ok?l=2")]


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        (None, None),  # no such object
        (b"[1, 2", None),
        (b"\xff\xfe\x00", None),
        (b"# nothing but comments\n", None),
        (
            json.dumps(["http://127.0.0.1:1/", {"url": "http://127.0.0.1:1/", "method": "FETCH"}]).encode(),
            "targets.1.method",
        ),
        (("http://127.0.0.1:1/\n" * (SETTINGS.max_urls + 1)).encode(), None),
    ],
    ids=["missing", "bad-json", "not-utf8", "empty", "bad-entry", "too-many"],
)
def test_an_unusable_target_list_is_a_typed_error_and_nothing_runs(
    deployed: Deployment, aws: MotoAws, body: bytes | None, loc: str | None
) -> None:
    uri = f"s3://{aws.resources.bucket}/targets/missing.json" if body is None else put_list(aws, body)
    answer = call(scheduled({"targets": uri}))
    assert set(answer) == {"error"}
    assert answer["error"]["type"] == "targets_unreadable"
    assert answer["error"]["status"] == 422
    assert uri in answer["error"]["detail"]
    if loc is not None:
        assert [e["loc"] for e in answer["error"]["errors"]] == [loc]


def test_urls_and_targets_exclude_each_other_and_the_api_takes_no_targets(deployed: Deployment) -> None:
    answer = call({"urls": ["http://127.0.0.1:1/"], "targets": "s3://bucket/key"})
    assert answer["error"]["type"] == "validation_error"
    assert call({"targets": "not-an-s3-uri"})["error"]["errors"][0]["loc"] == "targets"
    problem = problem_of(
        call(api_request("POST", "/fanout", body={"targets": "s3://bucket/key"})), 422, "validation-error"
    )
    assert "targets" in [e["loc"] for e in problem["errors"]]


# -- large answers -------------------------------------------------------------------


def big_request(target: DemoTarget, n: int = 300) -> dict[str, Any]:
    return {
        "urls": [target.url(f"/ok?big={i}") for i in range(n)],
        "options": {"concurrency": 50, "per_host_concurrency": 50},
    }


def test_a_large_answer_carries_a_presigned_url_to_its_report(
    deployed: Deployment, aws: MotoAws, target: DemoTarget
) -> None:
    deployed.configure(max_answer_bytes=20_000)
    response = call(api_request("POST", "/fanout", body=big_request(target)))
    document = body_of(response)
    assert len(response["body"]) < 20_000
    assert document["results"] == []
    assert document["summary"]["total"] == document["summary"]["ok"] == 300
    omitted = document["results_omitted"]
    assert omitted["reason"] == "answer_too_large"
    assert (omitted["omitted"], omitted["kept"]) == (300, 0)
    assert omitted["answer_bytes"] > omitted["limit_bytes"] == 20_000
    assert omitted["report_url_expires_in_s"] == SETTINGS.report_url_expires_s
    with httpx.Client() as client:
        fetched = client.get(omitted["report_url"])  # httpx undoes Content-Encoding: gzip
    assert fetched.status_code == 200, fetched.text[:500]
    report = fetched.json()
    assert report["run_id"] == document["run_id"]
    assert len(report["results"]) == 300
    # Reading the run back is as large: the same pointer.
    run = body_of(call(api_request("GET", f"/runs/{document['run_id']}")))
    assert run["results"] == []
    assert run["results_omitted"]["report_url"]


def test_a_large_answer_without_a_report_store_is_cut_and_says_so(
    deployed: Deployment, target: DemoTarget
) -> None:
    deployed.configure(max_answer_bytes=20_000, reports_bucket_name="")
    document = call(big_request(target))
    omitted = document["results_omitted"]
    assert omitted["report_url"] is None
    assert 0 < omitted["kept"] < 300
    assert omitted["kept"] + omitted["omitted"] == 300
    assert [r["url"] for r in document["results"]] == [
        target.url(f"/ok?big={i}") for i in range(omitted["kept"])
    ]
    assert answer_size(document) <= 20_000
    assert document["persisted"]["report"] == {"status": "off"}
    assert document["persisted"]["record"]["status"] == "stored"


# -- idempotency -----------------------------------------------------------------------


def test_a_duplicate_scheduled_event_gets_the_first_answer_without_a_second_fan_out(
    deployed: Deployment, fresh_target: DemoTarget
) -> None:
    path = f"/flaky/{unique('dup')}"
    event = scheduled({"urls": [fresh_target.url(path + "?fail=0")]})
    first = call(event)
    assert fresh_target.stats()["hits"][path] == 1
    second = call(json.loads(json.dumps(event)))
    assert fresh_target.stats()["hits"][path] == 1  # no second fan-out
    assert second["replayed"] is True
    assert {k: v for k, v in second.items() if k != "replayed"} == first
    # Another event (another id) is another run.
    third = call(scheduled(event["detail"]))
    assert third["run_id"] != first["run_id"]
    assert fresh_target.stats()["hits"][path] == 2


def test_the_schedules_constant_input_is_keyed_on_its_event_id(
    deployed: Deployment, fresh_target: DemoTarget
) -> None:
    path = f"/flaky/{unique('input')}"
    event = {
        "source": "schedule",
        "event_id": "arn:aws:scheduler:::schedule/x@2026-11-25T02:00:00Z",
        "urls": [fresh_target.url(path + "?fail=0")],
    }
    first = call(dict(event))
    second = call(dict(event))
    assert second["run_id"] == first["run_id"]
    assert fresh_target.stats()["hits"][path] == 1


def test_an_api_retry_with_the_same_idempotency_key_gets_the_first_answer(
    deployed: Deployment, fresh_target: DemoTarget
) -> None:
    path = f"/flaky/{unique('api')}"
    body = {"urls": [fresh_target.url(path + "?fail=0")]}
    key = {"Idempotency-Key": unique("key")}
    first = call(api_request("POST", "/fanout", body=body, headers=key))
    second = call(api_request("POST", "/fanout", body=body, headers=key))
    assert body_of(second)["run_id"] == body_of(first)["run_id"]
    assert second["headers"]["Idempotent-Replayed"] == "true"
    assert fresh_target.stats()["hits"][path] == 1
    # The same key with another body is refused; no key at all is a new run every time.
    other = {"urls": [fresh_target.url(path + "?fail=0&other=1")]}
    problem_of(call(api_request("POST", "/fanout", body=other, headers=key)), 422, "idempotency-key-reused")
    assert body_of(call(api_request("POST", "/fanout", body=body)))["run_id"] != body_of(first)["run_id"]
    assert fresh_target.stats()["hits"][path] == 2
    problem_of(
        call(api_request("POST", "/fanout", body=body, headers={"Idempotency-Key": "x" * 256})),
        422,
        "validation-error",
    )


def test_idempotency_keys_belong_to_their_caller(deployed: Deployment, fresh_target: DemoTarget) -> None:
    path = f"/flaky/{unique('caller')}"
    body = {"urls": [fresh_target.url(path + "?fail=0")]}
    key = {"Idempotency-Key": unique("shared")}
    mine = call(api_request("POST", "/fanout", body=body, headers=key))
    event = api_request("POST", "/fanout", body=body, headers=key)
    event["requestContext"]["authorizer"]["iam"]["userArn"] = "arn:aws:iam::123456789012:user/someone-else"
    theirs = call(event)
    assert body_of(theirs)["run_id"] != body_of(mine)["run_id"]


def test_an_answer_that_cannot_be_recorded_is_still_returned_and_its_duplicate_waits(
    deployed: Deployment, monkeypatch: pytest.MonkeyPatch, fresh_target: DemoTarget
) -> None:
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    def unavailable(self: Any, data_record: Any) -> None:
        raise ConnectionError("the idempotency table went away")

    monkeypatch.setattr(DynamoDBPersistenceLayer, "_update_record", unavailable)
    path = f"/flaky/{unique('unrecorded')}"
    body = {"urls": [fresh_target.url(path + "?fail=0")]}
    key = {"Idempotency-Key": unique("unrecorded")}
    first = body_of(call(api_request("POST", "/fanout", body=body, headers=key)))
    assert first["results"][0]["outcome"] == "ok"
    assert "replayed" not in first
    # The record still says "in progress" (until the first invocation's own timeout):
    # a duplicate is told to come back, and does not fan out meanwhile.
    response = call(api_request("POST", "/fanout", body=body, headers=key))
    problem_of(response, 409, "idempotency-in-progress")
    assert response["headers"]["Retry-After"]
    assert fresh_target.stats()["hits"][path] == 1


def test_idempotency_off_without_its_table(deployed: Deployment, fresh_target: DemoTarget) -> None:
    deployed.configure(idempotency_table_name="")
    path = f"/flaky/{unique('off')}"
    event = scheduled({"urls": [fresh_target.url(path + "?fail=0")]})
    call(event)
    call(event)
    assert fresh_target.stats()["hits"][path] == 2


# -- stores that fail or hang: the answer and the deadline hold ---------------------------


@pytest.fixture
def hanging() -> Iterator[HangingServer]:
    with HangingServer() as server:
        yield server


@pytest.mark.parametrize("store_state", ["refused", "hanging"])
def test_a_store_that_is_down_or_hangs_costs_its_slice_not_the_answer(
    deployed: Deployment,
    monkeypatch: pytest.MonkeyPatch,
    fresh_target: DemoTarget,
    hanging: HangingServer,
    store_state: str,
) -> None:
    endpoint = hanging.endpoint if store_state == "hanging" else f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    path = f"/flaky/{unique('down')}"
    remaining_ms = 5_000
    started = time.monotonic()
    # An event id: the idempotency table is unreachable too; the run happens anyway.
    document = call(
        scheduled(
            {
                "urls": [fresh_target.url(path + "?fail=0"), fresh_target.url("/status/503")],
                "options": {"retries": 0},
            }
        ),
        remaining_ms,
    )
    elapsed = time.monotonic() - started
    assert elapsed < remaining_ms / 1000  # before the Lambda timeout
    assert [r["outcome"] for r in document["results"]] == ["ok", "http_error"]
    persisted = document["persisted"]
    assert persisted["stored"] is False
    for name in ("report", "record"):
        assert persisted[name]["status"] in ("failed", "timed_out"), persisted
        assert persisted[name]["error"]["message"]
    if store_state == "hanging":
        assert persisted["report"]["status"] == persisted["record"]["status"] == "timed_out"
    assert fresh_target.stats()["hits"][path] == 1


def test_a_hanging_store_under_the_api_still_answers_before_the_deadline(
    deployed: Deployment, monkeypatch: pytest.MonkeyPatch, target: DemoTarget, hanging: HangingServer
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", hanging.endpoint)
    remaining_ms = 4_000
    started = time.monotonic()
    event = api_request(
        "POST",
        "/fanout",
        body={"urls": [target.url("/hang"), target.url("/ok")], "options": {"request_timeout_s": 60}},
        headers={"Idempotency-Key": unique("hang")},
    )
    document = body_of(call(event, remaining_ms))
    assert time.monotonic() - started < remaining_ms / 1000
    assert [r["outcome"] for r in document["results"]] == ["cancelled", "ok"]
    assert document["persisted"]["stored"] is False
    # The fan-out gave the stores their slice: it stopped that much before the deadline.
    assert document["budget_ms"] <= remaining_ms - SETTINGS.persist_budget_s * 1000


def test_reading_runs_from_a_hanging_store_is_a_503_in_time(
    deployed: Deployment, monkeypatch: pytest.MonkeyPatch, hanging: HangingServer
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", hanging.endpoint)
    started = time.monotonic()
    response = call(api_request("GET", f"/runs/{uuid.uuid4()}"), remaining_ms=2_000)
    assert time.monotonic() - started < 2.0
    problem = problem_of(response, 503, "store-unavailable")
    assert response["headers"]["Retry-After"]
    assert problem["detail"]


# -- the template and the code agree ----------------------------------------------------


def test_the_template_declares_what_the_code_uses() -> None:
    template = load_template()
    resources = template["Resources"]
    # Routes: every route the front door serves is an HttpApi event of the function, with the same
    # authorizer (SigV4 or JWT by ApiAuth) in the API's definition.
    events = resources["FanoutFunction"]["Properties"]["Events"].values()
    routes = {
        f"{e['Properties']['Method']} {e['Properties']['Path']}" for e in events if e["Type"] == "HttpApi"
    }
    served = {f"{method} {path}" for path, methods in api.ROUTES.items() for method in methods}
    assert routes == served
    paths = resources["FanoutHttpApi"]["Properties"]["DefinitionBody"]["paths"]
    for route in served:
        method, path = route.split(" ", 1)
        assert paths[path][method.lower()]["security"]["Fn::If"][0] == "UseJwt"
    # Keys and names the store relies on.
    runs = resources["RunsTable"]["Properties"]
    assert runs["KeySchema"] == [{"AttributeName": "run_id", "KeyType": "HASH"}]
    (gsi,) = runs["GlobalSecondaryIndexes"]
    assert gsi["IndexName"] == runs_table.RUNS_INDEX
    assert [k["AttributeName"] for k in gsi["KeySchema"]] == ["kind", "started_at"]
    assert runs["TimeToLiveSpecification"] == {"AttributeName": codec.TTL_ATTRIBUTE, "Enabled": True}
    (rule,) = resources["ReportsBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    assert rule["Prefix"] == REPORT_PREFIX
    assert rule["ExpirationInDays"] == {"Ref": "RunRetentionDays"}
    # Environment: every variable the template sets is a setting.
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    settings_vars = set(env_names().values())
    assert {"REPORTS_BUCKET_NAME", "RUNS_TABLE_NAME", "IDEMPOTENCY_TABLE_NAME"} <= set(variables)
    assert {v for v in variables if not v.startswith("POWERTOOLS_")} <= settings_vars
    # Least privilege: the function writes reports under the prefix only.
    statements = resources["FanoutFunction"]["Properties"]["Policies"][0]["Statement"]
    reports = next(s for s in statements if isinstance(s, dict) and s.get("Sid") == "Reports")
    assert reports["Resource"] == {"Fn::Sub": "${ReportsBucket.Arn}/" + REPORT_PREFIX + "*"}
    assert not any("*" in str(s.get("Action")) for s in statements if isinstance(s, dict))
