"""Signed fan-out deliveries (``options.sign``) by the function as deployed (stores on moto), to
receivers on 127.0.0.1 that keep every request: each verified with the reference
``standardwebhooks`` package, ids unique per delivery and stable across a retry (a 503 with
Retry-After, once), and a literal secret nowhere but in the signatures."""

from __future__ import annotations

import base64
import json
import os
import time
from collections import Counter
from collections.abc import Iterator

import pytest
from standardwebhooks import Webhook

from fanout.aws import secrets
from tests.support import Deployment, MotoAws, RecordingServer, call, every_log_line, stored_text, unique

pytestmark = pytest.mark.deployment("reports", "runs", "idempotency", "monitors", "alerts")


@pytest.fixture(autouse=True)
def _no_secret_cached() -> None:
    secrets.forget()


def new_secret() -> str:
    return "whsec_" + base64.b64encode(os.urandom(32)).decode()


@pytest.fixture
def subscribers() -> Iterator[RecordingServer]:
    with RecordingServer(keep_alive=True) as running:
        yield running


def test_a_signed_fanout_of_500_posts_each_verified_ids_unique_and_stable_across_a_retry(
    deployed: Deployment, aws: MotoAws, subscribers: RecordingServer
) -> None:
    secret = new_secret()
    paths = [f"/hook/{i}" for i in range(500)]
    for flaky in (paths[7], paths[250], paths[499]):  # 503 with Retry-After: 1 once, then 200
        subscribers.script(flaky, 503, retry_after_s=1)
    urls = [
        {"url": subscribers.url(p), "method": "POST", "json": {"event": "deploy", "n": i}}
        for i, p in enumerate(paths)
    ]
    sign = {"scheme": "standard-webhooks", "secret": secret}
    request = {"urls": urls, "options": {"sign": sign, "retries": 2, "concurrency": 50}}
    started = time.monotonic()
    with every_log_line() as logs:
        answer = call(request, 60_000)
    assert [r["outcome"] for r in answer["results"]] == ["ok"] * 500, answer.get("summary")
    assert time.monotonic() - started >= 1.0  # Retry-After: 1 honoured

    assert len(subscribers.seen) == 503
    hook = Webhook(secret)
    ids_by_path: dict[str, set[str]] = {}
    for seen in subscribers.seen:
        payload = hook.verify(seen.body, seen.headers)  # raises when a signature does not verify
        assert payload["n"] == paths.index(seen.path)
        ids_by_path.setdefault(seen.path, set()).add(seen.headers["webhook-id"])
    assert all(len(ids) == 1 for ids in ids_by_path.values())  # one id per delivery, retries included
    ids = [next(iter(ids_by_path[p])) for p in paths]
    assert len(set(ids)) == 500
    assert [r["webhook_id"] for r in answer["results"]] == ids
    attempts = Counter(r["attempts"] for r in answer["results"])
    assert attempts == Counter({1: 497, 2: 3})

    kept = stored_text(aws)
    assert answer["run_id"] in kept
    for where, text in (("answer", json.dumps(answer)), ("stores", kept), ("logs", logs.getvalue())):
        assert secret not in text, f"the literal secret is in the {where}"
        assert secret.removeprefix("whsec_") not in text


def test_a_referenced_rotating_secret_signs_with_both_and_an_entry_signs_on_its_own(
    deployed: Deployment, aws: MotoAws, subscribers: RecordingServer
) -> None:
    old, new, own = new_secret(), new_secret(), new_secret()
    name = unique("sign")
    aws.client("secretsmanager").create_secret(Name=f"fanout/{name}", SecretString=f"{old} {new}")
    request = {
        "urls": [
            {"url": subscribers.url("/a"), "method": "POST", "json": {"a": 1}},
            {
                "url": subscribers.url("/b"),
                "method": "POST",
                "json": {"b": 2},
                "sign": {"scheme": "standard-webhooks", "secret": own},
            },
            {"url": subscribers.url("/c"), "method": "POST", "json": {"c": 3}},
        ],
        "options": {"sign": {"scheme": "standard-webhooks", "secret": f"${{secretsmanager:fanout/{name}}}"}},
    }
    answer = call(request, 20_000)
    assert [r["outcome"] for r in answer["results"]] == ["ok"] * 3
    seen = {s.path: (s.headers, s.body) for s in subscribers.seen}
    for secret in (old, new):
        assert Webhook(secret).verify(seen["/a"][1], seen["/a"][0]) == {"a": 1}
    assert Webhook(own).verify(seen["/b"][1], seen["/b"][0]) == {"b": 2}
    assert len(seen["/a"][0]["webhook-signature"].split()) == 2
    assert len(seen["/b"][0]["webhook-signature"].split()) == 1


def test_a_bad_literal_secret_is_refused_and_a_missing_reference_fails_its_entries(
    deployed: Deployment, subscribers: RecordingServer
) -> None:
    bad = {
        "urls": [subscribers.url("/x")],
        "options": {"sign": {"scheme": "standard-webhooks", "secret": "whsec_c2hvcnQ="}},
    }
    refused = call(bad, 10_000)
    assert refused["error"]["type"] == "validation_error", refused
    assert "at least 16 bytes" in json.dumps(refused)
    assert "whsec_c2hvcnQ=" not in json.dumps(refused)
    missing = {
        "urls": [subscribers.url("/y")],
        "options": {
            "sign": {"scheme": "standard-webhooks", "secret": "${secretsmanager:fanout/absent-signing}"}
        },
    }
    answer = call(missing, 10_000)
    assert [(r["outcome"], r["error"]["type"]) for r in answer["results"]] == [
        ("failed", "secret_unavailable")
    ]
    assert subscribers.seen == []
