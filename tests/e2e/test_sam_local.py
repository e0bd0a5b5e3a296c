"""`sam local invoke` of the real template, build and handler, for every event in events/.

One `sam build` per test session (``scripts/sam-invoke.sh --prepare``: Docker engine, build,
image choice), then one `sam local invoke` per event file. The official Lambda image is used
when it can be pulled, otherwise the offline one from ``scripts/offline-lambda-image.sh``.

The container cannot reach this machine's loopback (SAM does not apply ``--docker-network
host``), so the events' URLs fail or are blocked inside it: these tests prove the template, the
build, the packaging and the handler wiring (the answer's shape, one result per URL, the
source, the status codes), not fetch outcomes; deadlines against hanging servers are tested
with the runtime emulator directly.

What each event must answer is read from the event itself:
  - API Gateway HTTP API (payload 2.0) events: 200 with a result document in the body, or, for
    files named ``*bad*``, a 4xx ``application/problem+json`` answer;
  - EventBridge "Scheduled Event" envelopes and constant-Input events with ``"source":
    "schedule"``: a result document whose source is "schedule";
  - anything else is a direct invoke: a result document whose source is "direct".

If Docker cannot be started these tests fail (never skip): CI must prove `sam local` works.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any, NoReturn

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "sam-invoke.sh"
EVENTS = sorted((ROOT / "events").glob("*.json"))
OUTCOMES = {"ok", "http_error", "check_failed", "failed", "timed_out", "cancelled", "not_started", "blocked"}
DOCUMENT_KEYS = {"run_id", "source", "started_at", "budget_ms", "elapsed_ms", "deadline_reached", "summary"}

PREPARE_TIMEOUT_S = 1200  # a fresh machine: install docker.io, build the image, pip-install the deps
INVOKE_TIMEOUT_S = 240

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(PREPARE_TIMEOUT_S + INVOKE_TIMEOUT_S)]


def _template_variables() -> set[str]:
    """Environment variable names the template declares (SAM lets the shell override them)."""
    from samcli.yamlhelper import yaml_parse  # type: ignore[import-untyped]

    template = yaml_parse((ROOT / "template.yaml").read_text())
    names: set[str] = set()
    functions = [template.get("Globals", {}).get("Function", {})]
    functions += [r.get("Properties", {}) for r in template.get("Resources", {}).values()]
    for props in functions:
        names |= set(((props.get("Environment") or {}).get("Variables") or {}).keys())
    return names


def _env() -> dict[str, str]:
    # `sam local invoke` replaces a template variable with the shell's value of the same name
    # (tests/conftest.py sets EGRESS_ALLOW_CIDRS for in-process tests): drop them so the
    # container runs with the template's own configuration.
    declared = _template_variables()
    return {k: v for k, v in os.environ.items() if k not in declared}


def _fail(what: str, proc: subprocess.CompletedProcess[str] | None, extra: str = "") -> NoReturn:
    tail = ""
    if proc is not None:
        tail = "\n".join(proc.stderr.splitlines()[-60:])
        tail = (
            f"\n--- exit status {proc.returncode}; last stderr lines ---\n{tail}"
            f"\n--- stdout ---\n{proc.stdout}"
        )
    pytest.fail(f"{what}{extra}{tail}", pytrace=False)


@pytest.fixture(scope="session")
def sam_image_mode() -> str:
    """Docker up, `sam build` once, image chosen (and built offline if needed): 'official'/'offline'."""
    started = time.monotonic()
    try:
        proc = subprocess.run(
            [str(SCRIPT), "--prepare"],
            cwd=ROOT,
            env=_env(),
            capture_output=True,
            text=True,
            timeout=PREPARE_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        _fail(f"scripts/sam-invoke.sh --prepare did not finish within {PREPARE_TIMEOUT_S}s", None, f"\n{exc}")
    if proc.returncode != 0:
        _fail(
            "SAM LOCAL E2E CANNOT RUN: scripts/sam-invoke.sh --prepare failed "
            "(Docker engine, sam build or the Lambda image); these tests never skip",
            proc,
        )
    lines = proc.stdout.strip().splitlines()
    if not lines or not lines[-1].startswith("SAM_IMAGE="):
        _fail("scripts/sam-invoke.sh --prepare printed no SAM_IMAGE=... line", proc)
    mode = lines[-1].split("=", 1)[1]
    print(f"sam local: {mode} image, prepared in {time.monotonic() - started:.1f}s")
    return mode


def _invoke(event: Path, mode: str) -> Any:
    env = _env() | {"SAM_SKIP_BUILD": "1", "SAM_IMAGE": mode}
    try:
        proc = subprocess.run(
            [str(SCRIPT), str(event.relative_to(ROOT))],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=INVOKE_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        _fail(
            f"sam local invoke with {event.name} did not finish within {INVOKE_TIMEOUT_S}s", None, f"\n{exc}"
        )
    if proc.returncode != 0:
        _fail(f"sam local invoke with {event.name} failed", proc)
    try:
        return json.loads(proc.stdout)
    except json.JSONDecodeError:
        _fail(f"sam local invoke with {event.name} did not answer with JSON", proc)


def _requested_urls(request: dict[str, Any]) -> list[str]:
    return [u if isinstance(u, str) else u["url"] for u in request["urls"]]


def _check_document(doc: Any, *, source: str, urls: list[str]) -> None:
    assert isinstance(doc, dict), doc
    assert doc.keys() >= DOCUMENT_KEYS | {"results"}, sorted(doc)
    assert doc["source"] == source
    results = doc["results"]
    assert [r["url"] for r in results] == urls, "one result per requested URL, in order"
    outcomes = Counter(r["outcome"] for r in results)
    assert set(outcomes) <= OUTCOMES, outcomes
    summary = doc["summary"]
    assert summary["total"] == len(urls)
    assert {k: v for k, v in summary.items() if k != "total" and v} == dict(outcomes), (summary, outcomes)
    assert isinstance(doc["deadline_reached"], bool)
    assert isinstance(doc["elapsed_ms"], int | float)
    assert isinstance(doc["budget_ms"], int | float)


def _header(response: dict[str, Any], name: str) -> str:
    headers = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
    return str(headers.get(name.lower(), ""))


def _is_api_event(event: dict[str, Any]) -> bool:
    return "requestContext" in event and "routeKey" in event


def _is_schedule_event(event: dict[str, Any]) -> bool:
    return event.get("detail-type") == "Scheduled Event" or event.get("source") == "schedule"


def test_events_exist() -> None:
    assert EVENTS, "events/ holds no event files"
    names = {p.name for p in EVENTS}
    assert {"direct.json", "api.json", "api-bad.json", "schedule.json", "schedule-input.json"} <= names


def test_the_build_ships_bytecode_the_runtime_uses_as_is(sam_image_mode: str) -> None:
    """Every module of the built function has its CPython 3.13 ``.pyc``, hash-based and unchecked
    (flags 0b01 in the header, PEP 552): /var/task is read-only, and without them every cold start
    compiles every module it imports."""
    function = ROOT / ".aws-sam" / "build" / "FanoutFunction"
    sources = [p for p in function.rglob("*.py") if "__pycache__" not in p.parts]
    assert len(sources) > 100, "the build holds the function and its dependencies"
    missing = []
    for source in sources:
        pyc = source.parent / "__pycache__" / f"{source.stem}.cpython-313.pyc"
        if not pyc.is_file():
            missing.append(source.relative_to(function))
            continue
        flags = int.from_bytes(pyc.read_bytes()[4:8], "little")
        assert flags == 0b01, (pyc, flags)
    assert not missing, missing[:20]


@pytest.mark.parametrize("event_file", EVENTS, ids=[p.stem for p in EVENTS])
def test_sam_local_invoke(event_file: Path, sam_image_mode: str) -> None:
    event = json.loads(event_file.read_text())
    answer = _invoke(event_file, sam_image_mode)

    if _is_api_event(event):
        assert isinstance(answer, dict), answer
        status = answer.get("statusCode")
        body = json.loads(answer["body"])
        if "bad" in event_file.stem:
            assert isinstance(status, int), answer
            assert 400 <= status < 500, answer
            assert _header(answer, "content-type").startswith("application/problem+json"), answer
            assert body["status"] == status
            assert body.get("title"), body
            assert body.get("type"), body
        else:
            assert status == 200, answer
            assert _header(answer, "content-type").startswith("application/json"), answer
            _check_document(body, source="api", urls=_requested_urls(json.loads(event["body"])))
    elif _is_schedule_event(event):
        request = event["detail"] if event.get("detail-type") == "Scheduled Event" else event
        _check_document(answer, source="schedule", urls=_requested_urls(request))
    else:
        _check_document(answer, source="direct", urls=_requested_urls(event))
