"""Real answers of every kind, from the running handler, against the published OpenAPI document
(``docs/openapi.json``) made strict: ``additionalProperties: false`` on every object schema, so an
answer field the schema does not declare fails here (the schemas are generated from the same models
that build the answers; this proves it on what the code actually sends)."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from devtools.demo_checks import DemoTls
from devtools.demo_target import DemoTarget
from fanout.entry import problems
from fanout.errors import IdempotencyInProgress
from tests.support import ROOT, Deployment, MotoAws, api_request, call, free_port, point_aws_at, unique

SPEC = json.loads((ROOT / "docs" / "openapi.json").read_text())


def strict(node: Any) -> Any:
    """``node`` with ``additionalProperties: false`` on every schema that declares properties."""
    if isinstance(node, dict):
        out = {k: strict(v) for k, v in node.items()}
        if "properties" in out and isinstance(out["properties"], dict):
            out["additionalProperties"] = False
        return out
    if isinstance(node, list):
        return [strict(v) for v in node]
    return node


STRICT_COMPONENTS = strict(copy.deepcopy(SPEC["components"]))


def check(route: str, method: str, response: dict[str, Any], expected: int | None = 200) -> dict[str, Any]:
    """``response``'s body (of status ``expected``), validated against what the document says of
    ``method route`` and that status."""
    status = str(response["statusCode"])
    assert expected is None or status == str(expected), response["body"][:1000]
    operation = SPEC["paths"][route][method.lower()]
    assert status in operation["responses"], (route, method, status, response["body"][:500])
    content_type = response["headers"]["Content-Type"]
    schema = operation["responses"][status]["content"][content_type]["schema"]
    body = json.loads(response["body"])
    validator = Draft202012Validator(schema | {"components": STRICT_COMPONENTS})
    errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:10])
    return dict(body)


@pytest.fixture(scope="module")
def aws() -> Iterator[MotoAws]:
    with MotoAws() as moto:
        yield moto


@pytest.fixture(scope="module")
def tls() -> Iterator[DemoTls]:
    made = DemoTls()
    yield made
    made.close()


@pytest.fixture(scope="module")
def https_target(tls: DemoTls) -> Iterator[DemoTarget]:
    with DemoTarget(ssl_context=tls.server_context(expires_in_days=365)) as server:
        yield server


@pytest.fixture
def deployed(aws: MotoAws, tls: DemoTls, monkeypatch: pytest.MonkeyPatch) -> Deployment:
    point_aws_at(monkeypatch, aws.endpoint)
    deployment = Deployment(monkeypatch, __import__("fanout.config").config.get_settings())
    deployment.configure(
        reports_bucket_name=aws.resources.bucket,
        runs_table_name=aws.resources.runs_table,
        monitors_table_name=aws.resources.monitors_table,
        shard_queue_url=aws.resources.shard_queue_url,
        idempotency_table_name=aws.resources.idempotency_table,
        ca_bundle=str(tls.ca_file),
    )
    return deployment


def post(body: Any, **kwargs: Any) -> dict[str, Any]:
    return call(api_request("POST", "/fanout", body=body, **kwargs))


def test_a_plain_run_its_record_and_the_listing(deployed: Deployment, target: DemoTarget) -> None:
    refused = f"http://127.0.0.1:{free_port()}/down"
    answer = check("/fanout", "POST", post({"urls": [target.url("/ok"), target.url("/status/503"), refused]}))
    assert [r["outcome"] for r in answer["results"]] == ["ok", "http_error", "failed"]
    assert answer["persisted"]["stored"] is True
    shown = check("/runs/{run_id}", "GET", call(api_request("GET", f"/runs/{answer['run_id']}")))
    assert len(shown["results"]) == 3
    listing = check("/runs", "GET", call(api_request("GET", "/runs", query={"limit": "50"})))
    assert answer["run_id"] in {r["run_id"] for r in listing["runs"]}


def test_a_checked_https_run_with_redirects_thresholds_and_a_monitor(
    deployed: Deployment, https_target: DemoTarget
) -> None:
    name = unique("schema").lower()
    entry = {
        "url": https_target.url("/redirect/2"),
        "expect": {"status": [200], "body_contains": "no such text"},
    }
    slow = {"url": https_target.url("/ok"), "expect": {"degraded_latency_ms": 0.001}}
    request = {
        "urls": [entry, slow],
        "options": {
            "thresholds": {"failed_rate": "<0.5", "p95_ms": "<60000"},
            "capture_headers": ["content-type", "x-missing"],
        },
        "monitor": {"name": name, "failure_threshold": 1},
    }
    answer = check("/fanout", "POST", post(request))
    redirected, plain = answer["results"]
    assert redirected["outcome"] == "check_failed"
    assert len(redirected["redirects"]) == 2
    assert {"timings", "tls", "headers", "checks", "remote_ip", "http_version", "final_url"} <= set(
        redirected
    )
    assert any(not c["ok"] for c in redirected["checks"])
    assert plain["outcome"] == "ok"
    assert plain["degraded"] is True
    assert [t["name"] for t in answer["thresholds"]] == ["failed_rate", "p95_ms"]
    assert answer["monitor"]["transitions"][0]["to"] == "down"
    shown = check("/runs/{run_id}", "GET", call(api_request("GET", f"/runs/{answer['run_id']}")))
    assert shown["monitor"]["name"] == name
    listing = check("/monitors", "GET", call(api_request("GET", "/monitors")))
    assert name in {m["name"] for m in listing["monitors"]}
    view = check("/monitors/{name}", "GET", call(api_request("GET", f"/monitors/{name}")))
    assert {u["status"] for u in view["urls_page"]} == {"up", "down"}


def test_a_regional_monitor_s_run_in_its_home_region_and_its_view_per_region(
    deployed: Deployment, target: DemoTarget
) -> None:
    """The home region's own run applies its report by itself: its round, decided at quorum 1."""
    deployed.configure(region="us-east-1", home_region="")
    name = unique("geo").lower()
    monitor = {"name": name, "regions": ["us-east-1", "eu-west-1"], "quorum": 1, "failure_threshold": 1}
    urls = [target.url("/ok"), target.url("/status/503")]
    request = {
        "urls": urls,
        "monitor": monitor,
        "scheduled_at": time.strftime("%Y-%m-%dT%H:%M:00Z", time.gmtime()),
    }
    answer = check("/fanout", "POST", post(request))
    assert [(t["url"], t["to"]) for t in answer["monitor"]["transitions"]] == [(urls[1], "down")]
    view = check("/monitors/{name}", "GET", call(api_request("GET", f"/monitors/{name}")))
    assert view["quorum"] == 1
    assert [(r["region"], r["status"]) for r in view["regions"]] == [
        ("us-east-1", "reporting"),
        ("eu-west-1", "unknown"),
    ]
    assert {u["url"]: [r["region"] for r in u["regions"]] for u in view["urls_page"]} == {
        urls[0]: ["us-east-1"],
        urls[1]: ["us-east-1"],
    }


def test_an_answer_too_large_points_at_its_report(deployed: Deployment, target: DemoTarget) -> None:
    deployed.configure(max_answer_bytes=2_000)
    answer = check("/fanout", "POST", post({"urls": [target.url(f"/ok?i={i}") for i in range(40)]}))
    assert answer["results_omitted"]["report_url"]


def test_a_sharded_run_its_202_its_progress_and_the_listing(deployed: Deployment, target: DemoTarget) -> None:
    deployed.configure(shard_size=2)
    request = {
        "urls": [target.url(f"/ok?s={i}") for i in range(5)],
        "mode": "sharded",
        "options": {"concurrency": 5, "thresholds": {"ok_rate": ">0.9"}},
        "monitor": {"name": unique("sharded").lower()},
    }
    accepted = check("/fanout", "POST", post(request, headers={"Idempotency-Key": unique("k")}), 202)
    assert accepted["status"] == "running"
    running = check("/runs/{run_id}", "GET", call(api_request("GET", f"/runs/{accepted['run_id']}")))
    assert running["results"] is None
    assert running["progress"]["shards_total"] == 3
    listing = check("/runs", "GET", call(api_request("GET", "/runs", query={"limit": "50"})))
    mine = next(r for r in listing["runs"] if r["run_id"] == accepted["run_id"])
    assert mine["options"]["concurrency"] == 5
    assert mine["monitor_spec"]["name"] == request["monitor"]["name"]  # type: ignore[index]


def problem(route: str, method: str, response: dict[str, Any], status: int) -> None:
    check(route, method, response, status)


def test_every_problem_status(deployed: Deployment, target: DemoTarget) -> None:
    bad_json = api_request("POST", "/fanout")
    bad_json["body"] = "{not json"
    problem("/fanout", "POST", call(bad_json), 400)
    problem(
        "/runs/{run_id}", "GET", call(api_request("GET", "/runs/01a2331a-3fe8-7221-a395-603fb1ce5fda")), 404
    )
    problem(
        "/fanout", "POST", post({"urls": [target.url("/ok")]}, headers={"content-type": "text/plain"}), 415
    )
    invalid = post({"urls": [{"url": "ftp://x", "method": "BREW"}] * 150, "options": {"concurrency": 0}})
    problem("/fanout", "POST", invalid, 422)
    assert len(json.loads(invalid["body"])["errors"]) == 100
    in_progress = problems.problem_for(IdempotencyInProgress())
    assert in_progress is not None
    answered = in_progress.http_response(instance="req-1")  # what the front door answers with
    as_sent = {"statusCode": answered.status_code, "headers": {"Content-Type": answered.content_type}}
    problem("/fanout", "POST", as_sent | {"body": answered.body}, 409)
    deployed.configure(runs_table_name="no-such-table")
    problem("/runs", "GET", call(api_request("GET", "/runs")), 503)
    deployed.configure(runs_table_name="")
    problem("/runs", "GET", call(api_request("GET", "/runs")), 501)


def test_unknown_routes_and_methods_are_problems_too(deployed: Deployment) -> None:
    for path, method, status in (("/nothing", "GET", 404), ("/runs", "DELETE", 405)):
        response = call(api_request(method, path))
        assert response["statusCode"] == status
        body = json.loads(response["body"])
        errors = list(
            Draft202012Validator(
                {"$ref": "#/components/schemas/ProblemDetails", "components": STRICT_COMPONENTS}
            ).iter_errors(body)
        )
        assert not errors, errors
