"""Listing cursors, without DynamoDB: a cursor round-trips to its key, anything else is CursorInvalid."""

from __future__ import annotations

import asyncio
import base64
import json
from urllib.parse import quote

import pytest

from fanout.aws.cursors import MAX_CURSOR_CHARS, ListingCursor
from fanout.aws.monitors_table import MonitorsTable
from fanout.aws.runs_table import RUN_CURSORS
from fanout.errors import CursorInvalid, RequestInvalid

STARTED = "2026-12-01T10:00:00.000Z"
MONITOR = ListingCursor(("pk", "sk"), {"pk": "monitor#shop"})


def b64(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def test_a_runs_cursor_names_the_last_run_of_a_page_and_its_partition() -> None:
    last = {"run_id": {"S": "r1"}, "started_at": {"S": STARTED}, "kind": {"S": "run"}}
    cursor = RUN_CURSORS.encode(last)
    assert RUN_CURSORS.decode(cursor) == last
    assert json.loads(base64.urlsafe_b64decode(cursor + "==")) == {"run_id": "r1", "started_at": STARTED}


def test_a_monitor_cursor_carries_its_partition_and_is_checked_against_it() -> None:
    last = {"pk": {"S": "monitor#shop"}, "sk": {"S": "url#https://a/?q=é&x=1"}}
    cursor = MONITOR.encode(last)
    assert MONITOR.decode(cursor) == last
    other = ListingCursor(("pk", "sk"), {"pk": "monitor#blog"})
    with pytest.raises(CursorInvalid):
        other.decode(cursor)  # a page of one monitor never continues another's


def test_a_cursor_travels_in_a_query_string_as_is() -> None:
    keys = [{"pk": {"S": "monitor#shop"}, "sk": {"S": "url#" + "/?a=b&c=d+e" * n}} for n in range(1, 40)]
    for key in keys:
        cursor = MONITOR.encode(key)
        assert quote(cursor, safe="") == cursor
        assert "=" not in cursor


def test_cursors_written_before_the_one_codec_still_read() -> None:
    """The runs listing wrote compact JSON, the monitors listing spaced JSON: both decode."""
    assert RUN_CURSORS.decode(b64({"run_id": "r", "started_at": STARTED}))["run_id"] == {"S": "r"}
    spaced = base64.urlsafe_b64encode(json.dumps({"pk": "monitor#shop", "sk": "url#x"}).encode()).decode()
    assert MONITOR.decode(spaced.rstrip("="))["sk"] == {"S": "url#x"}


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "!!!",
        "a b",
        b64({"run_id": "r", "started_at": STARTED}) + "~",  # outside the URL-safe alphabet
        base64.urlsafe_b64encode(b"not json").decode(),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),  # not UTF-8
        base64.urlsafe_b64encode(b"[" * 1_500).decode()[:MAX_CURSOR_CHARS],  # nested past the parser
        "A" * (MAX_CURSOR_CHARS + 4),
        "A",  # not a whole base64 quantum
        b64([1]),
        b64({"run_id": "r"}),
        b64({"run_id": "", "started_at": STARTED}),
        b64({"run_id": 1, "started_at": STARTED}),
        b64({"run_id": "r", "started_at": STARTED, "kind": "run"}),  # more than a cursor carries
        b64({"pk": "monitor#shop", "sk": "url#x"}),  # another listing's cursor
    ],
)
def test_a_cursor_this_api_did_not_hand_out_is_a_422_problem(cursor: str) -> None:
    with pytest.raises(CursorInvalid) as raised:
        RUN_CURSORS.decode(cursor)
    assert isinstance(raised.value, RequestInvalid)  # the front door's 422 validation-error
    assert raised.value.errors == [{"loc": "cursor", "msg": "unknown cursor", "type": "cursor_invalid"}]


def test_a_monitor_listing_refuses_a_page_state_cursor_before_any_call() -> None:
    """The summaries listing and a monitor's page share a table, not cursors."""

    class NoClients:
        async def call(self, *args: object) -> None:
            raise AssertionError("no call for a cursor that was never handed out")

    table = MonitorsTable(NoClients(), "t")  # type: ignore[arg-type]
    state_cursor = MONITOR.encode({"pk": {"S": "monitor#shop"}, "sk": {"S": "url#https://a/"}})

    with pytest.raises(CursorInvalid):
        asyncio.run(table.list_summaries(10, state_cursor, before=0.0))
