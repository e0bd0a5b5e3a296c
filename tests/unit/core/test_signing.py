"""Standard Webhooks signatures as the reference implementation (``standardwebhooks``) reads them."""

from __future__ import annotations

import base64
import os
import time

import pytest
from pydantic import ValidationError
from standardwebhooks import Webhook, WebhookVerificationError

from fanout.core.monitors import MonitorSpec
from fanout.core.routes import WebhookRoute, route_id
from fanout.core.signing import BadSecret, secret_key, signed_headers


def new_secret() -> str:
    return "whsec_" + base64.b64encode(os.urandom(32)).decode()


def test_a_signature_verifies_with_the_reference_package_over_the_exact_bytes() -> None:
    secret, body = new_secret(), b'{"a": "\xc3\xa9", "b": [1, 2]}'
    headers = signed_headers([secret], "msg_1", int(time.time()), body)
    assert Webhook(secret).verify(body, headers) == {"a": "é", "b": [1, 2]}
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body + b" ", headers)  # one byte more: refused
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(body, headers)  # another secret: refused


def test_while_a_secret_rotates_both_the_old_and_the_new_verify() -> None:
    old, new, body = new_secret(), new_secret(), b"{}"
    headers = signed_headers([old, new], "msg_2", int(time.time()), body)
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        assert Webhook(secret).verify(body, headers) == {}


def test_an_old_timestamp_is_refused_by_the_receiver() -> None:
    secret = new_secret()
    headers = signed_headers([secret], "msg_3", int(time.time()) - 3600, b"{}")
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(secret).verify(b"{}", headers)


@pytest.mark.parametrize("secret", ["abc", "whsec_!!!", "whsec_" + base64.b64encode(b"short").decode()])
def test_a_malformed_secret_is_refused_without_quoting_it(secret: str) -> None:
    with pytest.raises(BadSecret) as refused:
        secret_key(secret)
    assert secret not in str(refused.value)


def test_a_route_secret_is_a_reference_never_the_secret_and_its_id_shows_none() -> None:
    route = WebhookRoute(
        type="webhook", url="https://hooks.example/x", secret=["${secretsmanager:old}", "${ssm:/fanout/new}"]
    )
    assert route.secrets == ["${secretsmanager:old}", "${ssm:/fanout/new}"]
    assert route_id(route).startswith("webhook:")
    literal = new_secret()  # a literal would be stored with the monitor's state and its records
    for alerts in (
        [{"type": "webhook", "url": "https://h.example", "secret": literal}],
        [{"type": "webhook", "url": "https://h.example", "secret": [literal, "${secretsmanager:a}"]}],
        [{"type": "slack", "url": "https://hooks.slack.example/services/T/B/X"}],
        [{"type": "pagerduty", "routing_key": "R0UT1NGKEY"}],
    ):
        with pytest.raises(ValidationError, match="must be a secret reference") as refused:
            MonitorSpec.model_validate({"name": "m", "alerts": alerts})
        assert "never the secret itself" in str(refused.value)
    with pytest.raises(ValidationError, match="http"):
        MonitorSpec.model_validate({"name": "m", "alerts": [{"type": "webhook", "url": "ftp://h.example"}]})
    with pytest.raises(ValidationError, match="malformed secret reference"):
        MonitorSpec.model_validate(
            {"name": "m", "alerts": [{"type": "pagerduty", "routing_key": "${secretsmanager:"}]}
        )
