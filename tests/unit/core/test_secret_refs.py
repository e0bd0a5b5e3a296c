"""Secret references found, replaced and refused in pure code (``fanout.core.secret_refs``)."""

from __future__ import annotations

import pytest

from fanout.core.secret_refs import (
    Reference,
    Unresolved,
    headers_under,
    reference_problem,
    references,
    resolved_body,
    resolved_headers,
)

TOKEN = Reference("secretsmanager", "fanout/api")
KEYED = Reference("secretsmanager", "fanout/api", "key")
PARAM = Reference("ssm", "/fanout/p")


def test_references_are_found_in_header_values_and_the_body_s_strings() -> None:
    headers = {
        "Authorization": "Bearer ${secretsmanager:fanout/api}",
        "X": "${secretsmanager:fanout/api#key}",
    }
    body = {"a": ["x ${ssm:/fanout/p} y", 3, None], "b": {"c": "plain $"}}
    assert references(headers, body) == {TOKEN, KEYED, PARAM}
    assert references({"X": "no ${reference}"}, "${other:thing}") == set()
    assert str(KEYED) == "${secretsmanager:fanout/api#key}"
    assert str(PARAM) == "${ssm:/fanout/p}"


def test_values_replace_the_references_and_nothing_else() -> None:
    values: dict[Reference, str | Unresolved] = {TOKEN: "t0k", KEYED: "k3y", PARAM: "p4r"}
    headers = {
        "A": "Bearer ${secretsmanager:fanout/api}",
        "B": "${ssm:/fanout/p}-${secretsmanager:fanout/api#key}",
    }
    assert resolved_headers(headers | {"C": "plain"}, values) == {
        "A": "Bearer t0k",
        "B": "p4r-k3y",
        "C": "plain",
    }
    assert resolved_body({"x": ["${ssm:/fanout/p}", 1]}, values) == {"x": ["p4r", 1]}


def test_a_reference_without_a_value_or_with_an_unsendable_one_raises_without_the_value() -> None:
    with pytest.raises(Unresolved, match="missing"):
        resolved_headers({"A": "${ssm:/fanout/p}"}, {PARAM: Unresolved("missing")})
    with pytest.raises(Unresolved) as caught:
        resolved_headers({"A": "${ssm:/fanout/p}"}, {PARAM: "line\nbreak-s3cret"})
    assert "s3cret" not in str(caught.value)
    with pytest.raises(Unresolved):
        resolved_headers({"A": "${ssm:/fanout/p}"}, {PARAM: "caf\u00e9"})


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("${secretsmanager:fanout/a}", None),
        ("x ${ssm:/a/b} ${secretsmanager:arn:aws:secretsmanager:eu-west-1:1:secret:fanout/a#k}", None),
        ("${secretsmanager:}", "malformed secret reference at character 0"),
        ("ok ${ssm:/a", "malformed secret reference at character 3"),
        ("${ssm:/a#k}", "an SSM parameter reference takes no #key"),
        ("${env:HOME}", None),  # not a reference: sent as written
    ],
)
def test_malformed_references_are_named(text: str, problem: str | None) -> None:
    found = reference_problem(text)
    assert found == problem if problem is None else problem in (found or "")


def test_options_headers_go_under_an_entry_s_own_in_any_case() -> None:
    assert headers_under({"Authorization": "a", "X-Team": "t"}, {"authorization": "mine"}) == {
        "X-Team": "t",
        "authorization": "mine",
    }
    assert headers_under(None, {"A": "1"}) == {"A": "1"}
