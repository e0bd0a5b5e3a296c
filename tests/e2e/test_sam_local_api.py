"""`sam local start-api` on the real template and build (``scripts/sam-api.sh``, what ``make api``
runs): real HTTP requests to every route SAM mounts from the template's HttpApi events.

Stores are off (``scripts/sam-local-env.json``) and the function's container cannot reach this
machine's loopback, so the URLs in these requests are refused by the egress guard inside it
(``blocked``): what is proven is the API as SAM users run it (routes, status codes, problem
documents, the answer's shape), not fetch outcomes. ``make api STORE=moto`` is the same with the
stores on moto (on the Docker bridge's address: not something tests talk to).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 900  # a fresh machine builds the image first
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(START_TIMEOUT_S + 300)]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env(port: int) -> dict[str, str]:
    from samcli.yamlhelper import yaml_parse

    template = yaml_parse((ROOT / "template.yaml").read_text())
    declared = set(template["Globals"]["Function"]["Environment"]["Variables"])
    env = {k: v for k, v in os.environ.items() if k not in declared}  # the template's own config
    return env | {"API_PORT": str(port), "SAM_PULL_TIMEOUT": env.get("SAM_PULL_TIMEOUT", "10")}


@pytest.fixture(scope="module")
def api() -> Iterator[str]:
    port = _free_port()
    log = (ROOT / "bench" / ".work").resolve()
    log.mkdir(parents=True, exist_ok=True)
    log_file = (log / f"sam-api-{port}.log").open("w")
    proc = subprocess.Popen(
        [str(ROOT / "scripts" / "sam-api.sh")],
        cwd=ROOT,
        env=_env(port),
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(
                    f"scripts/sam-api.sh exited {proc.returncode}:\n{Path(log_file.name).read_text()[-3000:]}"
                )
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                time.sleep(1)
        else:
            pytest.fail(f"sam local start-api did not listen within {START_TIMEOUT_S}s")
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        log_file.close()


def _problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status, body
    assert body["type"].endswith(slug), body
    return body


def test_post_fanout_answers_200_with_one_result_per_url(api: str) -> None:
    urls = ["http://127.0.0.1:9/a", "http://10.0.0.1/b", "https://example.invalid/c"]
    response = httpx.post(f"{api}/fanout", json={"urls": urls, "options": {"retries": 0}}, timeout=120)
    assert response.status_code == 200, response.text[:500]
    assert response.headers["content-type"] == "application/json"
    document = response.json()
    assert document["source"] == "api"
    assert [r["url"] for r in document["results"]] == urls
    assert [r["outcome"] for r in document["results"][:2]] == ["blocked", "blocked"]  # the egress guard
    assert document["summary"]["total"] == 3
    assert document["persisted"]["stored"] is False  # stores off


def test_a_malformed_body_is_a_400_problem(api: str) -> None:
    response = httpx.post(
        f"{api}/fanout", content=b"{not json", headers={"content-type": "application/json"}, timeout=120
    )
    _problem(response, 400, "malformed-body")


def test_an_invalid_request_is_a_422_problem_naming_the_field(api: str) -> None:
    response = httpx.post(
        f"{api}/fanout", json={"urls": ["https://e.example/"], "options": {"retries": "2"}}, timeout=120
    )
    body = _problem(response, 422, "validation-error")
    assert [e["loc"] for e in body["errors"]] == ["options.retries"]


def test_the_read_routes_are_served_and_say_their_store_is_off(api: str) -> None:
    _problem(httpx.get(f"{api}/runs", timeout=120), 501, "runs-not-kept")
    _problem(httpx.get(f"{api}/runs/01a233a6-5e74-78ec-ba38-66cc3d207e63", timeout=120), 501, "runs-not-kept")
    _problem(httpx.get(f"{api}/monitors", timeout=120), 501, "monitors-off")
    _problem(httpx.get(f"{api}/monitors/prod-health", timeout=120), 501, "monitors-off")


def test_the_openapi_document_lists_exactly_the_routes_sam_serves(api: str) -> None:
    """Every path of docs/openapi.json answers through SAM with the function's own documents."""
    spec = json.loads((ROOT / "docs" / "openapi.json").read_text())
    for path, methods in spec["paths"].items():
        concrete = path.replace("{run_id}", "01a233a6-5e74-78ec-ba38-66cc3d207e63").replace("{name}", "p")
        for method in methods:
            response = httpx.request(
                method.upper(), f"{api}{concrete}", json={} if method == "post" else None, timeout=120
            )
            assert response.headers["content-type"].startswith("application/"), (
                method,
                path,
                response.text[:200],
            )
            assert "type" in response.json() or "run_id" in response.json(), (method, path)
