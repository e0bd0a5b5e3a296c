"""A paced sharded run's shards share each host's rate (``plan.rate_shared``,
``fetch_run.pacer_for``): however many of them the queue runs at once, a host is never asked
for more than its ``per_host_rps``."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fanout.config import get_settings
from fanout.core.documents import Source
from fanout.core.requests import parse_request
from fanout.errors import ShardInvalid
from fanout.runs.fetch_run import pacer_for
from fanout.runs.shards import plan
from fanout.runs.shards.plan import RunHeader
from fanout.runs.shards.rates import paced, rate_shared

URL = "https://e.example/"


def request(urls: list[Any], **options: Any) -> Any:
    return parse_request({"urls": urls, "options": options}, get_settings())


def header(**options: Any) -> RunHeader:
    return RunHeader(
        run_id="0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
        source=Source.DIRECT,
        started_at="2026-11-25T01:53:12.391Z",
        options=request([URL], **options).options,
    )


def messages(n: int, shard_size: int, max_bytes: int = 250_000, **options: Any) -> list[plan.ShardMessage]:
    entries = [(i, f"{URL}{i}") for i in range(n)]
    return plan.split(header(**options), entries, shard_size=shard_size, max_bytes=max_bytes)


def test_a_run_is_paced_by_its_rate_or_an_entrys() -> None:
    assert paced(request([URL], per_host_rps=5))
    assert paced(request([URL, {"url": URL, "per_host_rps": 2}]))
    assert not paced(request([URL, {"url": URL}], per_host_burst=3))


@pytest.mark.parametrize(
    ("shards", "most_at_once", "shared_by"), [(7, 10, 7), (7, 4, 4), (1, 10, 1), (12, 1, 1)]
)
def test_the_rate_is_shared_by_the_shards_that_may_run_at_once(
    shards: int, most_at_once: int, shared_by: int
) -> None:
    sent = rate_shared(messages(shards * 3, 3, per_host_rps=5), most_at_once)
    assert len(sent) == shards
    for message in sent:
        body = json.loads(message.body())
        assert body.get("rate_shared_by", 1) == shared_by
        assert "rate_shared_by" in body or shared_by == 1  # left out only when nothing is shared
        assert plan.parse_message(message.body()).header.rate_shared_by == shared_by
        assert plan.parse_message(message.body()).entries == message.entries


def test_a_message_split_to_its_largest_size_still_fits_once_the_share_is_written() -> None:
    max_bytes = 10_000
    split = messages(3_000, 10_000, max_bytes=max_bytes, per_host_rps=5)
    assert len(split) > 1  # split by size (3,000 entries, shards of 10,000)
    for message in rate_shared(split, 1_000):
        assert len(message.body()) <= max_bytes


@pytest.mark.parametrize("value", [0, -1, 1_001, "2", True, 2.5, None])
def test_a_bad_share_is_a_poison_message(value: Any) -> None:
    body = json.loads(rate_shared(messages(4, 2, per_host_rps=5), 10)[0].body())
    body["rate_shared_by"] = value
    with pytest.raises(ShardInvalid, match="rate_shared_by"):
        plan.parse_message(json.dumps(body))


def turns(pacer: Any, key: Any, n: int) -> list[float]:
    return [pacer.reserve(key, float("inf")) for _ in range(n)]


@pytest.mark.anyio
async def test_a_shard_paces_each_host_at_its_share_of_the_rate_and_the_burst() -> None:
    paced = request([URL, {"url": "https://f.example/", "per_host_rps": 2}], per_host_rps=8, per_host_burst=4)
    entries = paced.entries()
    whole, shared = pacer_for(paced.options, entries), pacer_for(paced.options, entries, shared_by=4)
    e, f = ("https", "e.example", 443), ("https", "f.example", 443)
    # The whole run: 4 at once, then 8 a second; a shard of 4: 1 at once, then 2 a second.
    w = turns(whole, e, 6)
    s = turns(shared, e, 3)
    assert w[3] - w[0] == pytest.approx(0, abs=1e-3)
    assert w[5] - w[4] == pytest.approx(1 / 8, rel=1e-3)
    assert s[1] - s[0] == pytest.approx(1 / 2, rel=1e-3)
    assert s[2] - s[1] == pytest.approx(1 / 2, rel=1e-3)
    # An entry's own rate for its host is shared the same way (2 a second: one every 2 s).
    g = turns(shared, f, 2)
    assert g[1] - g[0] == pytest.approx(2, rel=1e-3)
