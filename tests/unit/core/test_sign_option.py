"""``options.sign``: what it accepts, that a literal secret is never dumped (records, shard
messages, answers all go through a dump), and the delivery ids."""

from __future__ import annotations

import asyncio
import base64

import pytest
from pydantic import ValidationError

from fanout.config import get_settings
from fanout.core.requests import FanoutRequest, UrlEntry, parse_request
from fanout.core.results import ErrorInfo
from fanout.core.sign_option import REDACTED, SignOption, webhook_id
from fanout.runs.outgoing import outgoing
from fanout.runs.shards.plan import encode_entry

SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()
REF = "${secretsmanager:hooks/signing}"


def test_a_literal_is_redacted_in_every_dump_and_a_reference_kept() -> None:
    sign = SignOption(scheme="standard-webhooks", secret=[SECRET, REF])
    assert sign.secrets == [SECRET, REF]
    assert sign.model_dump(mode="json")["secret"] == [REDACTED, REF]
    assert sign.model_dump()["secret"] == [REDACTED, REF]
    signed = {"scheme": "standard-webhooks", "secret": SECRET}
    entry = {"url": "https://a.example/", "method": "POST", "sign": signed}
    request = parse_request({"urls": [entry], "options": {"sign": signed}}, get_settings())
    assert SECRET not in request.model_dump_json(by_alias=True)
    shard = {"urls": [encode_entry(request.entries()[0])], "options": request.options.model_dump(mode="json")}
    assert SECRET not in str(shard)
    again = FanoutRequest.model_validate(shard, context=get_settings())  # a shard message's request
    assert again.options.sign is not None
    assert again.options.sign.secrets == [REDACTED]


def test_a_redacted_literal_in_a_continuation_fails_its_entry_clearly() -> None:
    entry = UrlEntry(
        url="https://a.example/", method="POST", sign=SignOption(scheme="standard-webhooks", secret=REDACTED)
    )
    request = parse_request({"urls": ["https://b.example/"]}, get_settings())
    sent = asyncio.run(outgoing([entry], request.options, get_settings(), before=1e12))
    assert isinstance(sent[0], ErrorInfo)
    assert sent[0].type == "secret_unavailable"
    assert "write a reference" in sent[0].message


@pytest.mark.parametrize(
    ("secret", "says"),
    [("whsec_c2hvcnQ=", "at least 16 bytes"), ("hunter2", "starts with whsec_"), ("${vault:x}", "reference")],
)
def test_bad_secrets_are_refused_without_being_quoted(secret: str, says: str) -> None:
    with pytest.raises(ValidationError, match=says) as caught:
        SignOption.model_validate({"scheme": "standard-webhooks", "secret": secret})
    assert secret not in str(caught.value.errors(include_input=False))


def test_a_deliverys_id_is_stable_and_distinct() -> None:
    assert webhook_id("run", 3, "https://a.example/") == webhook_id("run", 3, "https://a.example/")
    ids = {webhook_id(r, i, u) for r in ("r1", "r2") for i in range(3) for u in ("https://a/", "https://b/")}
    assert len(ids) == 12
    assert all(i.startswith("msg_") for i in ids)
