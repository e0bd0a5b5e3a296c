"""Secret references resolved from moto (Secrets Manager and SSM, server mode) by the function as
deployed (its handler, stores on moto): the values reach a server on 127.0.0.1 and nothing else,
not the answer, the stored report, the run record, the idempotency record, the monitor's state,
nor a log line; a reference without a value fails only the entries that use it."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from fanout.aws import secrets
from tests.support import (
    Deployment,
    MotoAws,
    RecordingServer,
    call,
    every_log_line,
    scheduled,
    stored_text,
    unique,
)

pytestmark = pytest.mark.deployment("reports", "runs", "idempotency", "monitors", "alerts")


@pytest.fixture(autouse=True)
def _no_secret_cached() -> None:
    """Each test resolves its own secrets (the cache is the process's, as a warm Lambda's)."""
    secrets.forget()


@pytest.fixture
def server() -> Iterator[RecordingServer]:
    with RecordingServer() as recording:
        yield recording


def make_secrets(aws: MotoAws) -> tuple[str, dict[str, str]]:
    """A secret string, a JSON secret and an SSM SecureString under ``fanout/``; their
    references by name, and the values (made unique, so finding one anywhere is a leak)."""
    run = uuid.uuid4().hex[:8]
    values = {
        "token": f"tok-{uuid.uuid4().hex}",
        "json_key": f"key-{uuid.uuid4().hex}",
        "ssm": f"ssm-{uuid.uuid4().hex}",
    }
    manager, ssm = aws.client("secretsmanager"), aws.client("ssm")
    manager.create_secret(Name=f"fanout/{run}/token", SecretString=values["token"])
    manager.create_secret(
        Name=f"fanout/{run}/api", SecretString=json.dumps({"key": values["json_key"], "other": "x"})
    )
    ssm.put_parameter(Name=f"/fanout/{run}/ssm", Value=values["ssm"], Type="SecureString")
    return run, values


def results_of(document: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [(r["outcome"], (r["error"] or {}).get("type")) for r in document["results"]]


def test_references_are_resolved_into_the_requests_sent_and_nowhere_else(
    deployed: Deployment, aws: MotoAws, server: RecordingServer
) -> None:
    run, values = make_secrets(aws)
    request = {
        "urls": [
            server.url("/health"),
            {
                "url": server.url("/hook"),
                "method": "POST",
                "headers": {"X-Api-Key": f"${{secretsmanager:fanout/{run}/api#key}}"},
                "json": {"token": f"${{ssm:/fanout/{run}/ssm}}", "n": 1},
            },
        ],
        "options": {"headers": {"Authorization": f"Bearer ${{secretsmanager:fanout/{run}/token}}"}},
        "monitor": {"name": unique("secrets").lower()},
    }
    with every_log_line() as logs:
        answer = call(scheduled(request), 10_000)
    assert results_of(answer) == [("ok", None), ("ok", None)], answer

    (health,), (hook,) = server.sent_to("/health"), server.sent_to("/hook")
    assert health.headers["authorization"] == f"Bearer {values['token']}"
    assert hook.headers["authorization"] == f"Bearer {values['token']}"
    assert hook.headers["x-api-key"] == values["json_key"]
    assert json.loads(hook.body) == {"token": values["ssm"], "n": 1}

    assert answer["persisted"]["report"]["status"] == answer["persisted"]["record"]["status"] == "stored"
    kept = stored_text(aws)
    assert answer["run_id"] in kept
    assert "GetSecretValue" in logs.getvalue()
    for where, text in (("answer", json.dumps(answer)), ("stores", kept), ("logs", logs.getvalue())):
        for name, value in values.items():
            assert value not in text, f"the {name} secret's value is in the {where}"


def test_a_reference_without_a_value_fails_only_the_entries_that_use_it(
    deployed: Deployment, aws: MotoAws, server: RecordingServer
) -> None:
    run, values = make_secrets(aws)
    good = {
        "urls": [server.url("/good")],
        "options": {"headers": {"Authorization": f"${{secretsmanager:fanout/{run}/token}}"}},
        "monitor": {"name": unique("good").lower()},
    }
    missing = f"${{secretsmanager:fanout/{run}/missing}}"
    bad = {
        "urls": [server.url("/bad-1"), server.url("/bad-2")],
        "options": {"headers": {"Authorization": missing}},
        "monitor": {"name": unique("bad").lower()},
    }
    mixed = {
        "urls": [
            server.url("/mixed-ok"),
            {
                "url": server.url("/mixed-key"),
                "headers": {"X": f"${{secretsmanager:fanout/{run}/api#nokey}}"},
            },
            {"url": server.url("/mixed-ssm"), "headers": {"X": f"${{ssm:/fanout/{run}/absent}}"}},
        ]
    }
    with every_log_line() as logs:
        answers = [call(scheduled(r), 10_000) for r in (good, bad, mixed)]
    assert results_of(answers[0]) == [("ok", None)]
    assert results_of(answers[1]) == [("failed", "secret_unavailable")] * 2
    assert results_of(answers[2]) == [
        ("ok", None),
        ("failed", "secret_unavailable"),
        ("failed", "secret_unavailable"),
    ]
    assert answers[1]["results"][0]["error"]["message"].startswith(f"{missing}: cannot be read (")
    assert "has no string or number under 'nokey'" in answers[2]["results"][1]["error"]["message"]
    assert answers[1]["monitor"]["down"] == 0
    assert answers[1]["monitor"]["unknown"] == 2
    assert [
        p for p in ("/good", "/bad-1", "/bad-2", "/mixed-ok", "/mixed-key", "/mixed-ssm") if server.sent_to(p)
    ] == [
        "/good",
        "/mixed-ok",
    ]
    for text in (json.dumps(answers), stored_text(aws), logs.getvalue()):
        assert values["token"] not in text
        assert values["json_key"] not in text


def test_a_value_is_kept_for_a_bounded_time_then_read_again(
    deployed: Deployment, aws: MotoAws, server: RecordingServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    run, values = make_secrets(aws)
    request = {"urls": [server.url("/cached")], "options": {"headers": {"X": f"${{ssm:/fanout/{run}/ssm}}"}}}
    assert results_of(call(scheduled(request), 10_000)) == [("ok", None)]
    aws.client("ssm").delete_parameter(Name=f"/fanout/{run}/ssm")
    assert results_of(call(scheduled(request), 10_000)) == [("ok", None)]  # kept
    monkeypatch.setattr(secrets, "CACHE_S", 0.0)
    assert results_of(call(scheduled(request), 10_000)) == [("failed", "secret_unavailable")]
    assert [s.headers["x"] for s in server.sent_to("/cached")] == [values["ssm"]] * 2
