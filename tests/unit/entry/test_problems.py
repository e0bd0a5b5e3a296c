"""The one table from domain errors to answers, and how large an answer can be."""

from __future__ import annotations

import json

import pytest

from fanout import errors
from fanout.entry.problems import MAX_DETAIL_CHARS, MAX_FIELD_CHARS, PROBLEMS, Problem, problem_for
from fanout.errors import MAX_LISTED_PROBLEMS

CASES = [
    (errors.RequestInvalid("bad", [{"loc": "urls", "msg": "m", "type": "t"}]), 422, "validation-error"),
    (errors.EntriesTooLarge("too large", [{"loc": "urls.1", "msg": "m", "type": "entry_too_large"}]), 422,
     "validation-error"),
    (errors.CursorInvalid(), 422, "validation-error"),
    (errors.TargetsUnreadable("s3://b/k", "the list is empty"), 422, "targets-unreadable"),
    (errors.IdempotencyKeyReused(), 422, "idempotency-key-reused"),
    (errors.IdempotencyInProgress(), 409, "idempotency-in-progress"),
    (errors.RunNotFound("r"), 404, "run-not-found"),
    (errors.RunsNotKept("run records"), 501, "runs-not-kept"),
    (errors.ShardingOff("'carry_over'"), 501, "sharding-off"),
    (errors.StoreUnavailable("the table went away"), 503, "store-unavailable"),
    (errors.ShardsNotStarted("queue refused"), 503, "shards-not-started"),
]  # fmt: skip


@pytest.mark.parametrize(("exc", "status", "slug"), CASES, ids=[type(c[0]).__name__ for c in CASES])
def test_every_domain_error_a_caller_can_cause_has_its_problem(
    exc: errors.FanoutError, status: int, slug: str
) -> None:
    problem = problem_for(exc)
    assert problem is not None
    assert (problem.status, problem.slug) == (status, slug)
    assert problem.detail == exc.detail
    body = problem.body("req-1").to_json()
    assert body["type"].endswith(slug)
    assert body["instance"] == "req-1"
    invoke = problem.invoke_error()["error"]
    assert invoke["type"] == slug.replace("-", "_")
    if status in (409, 503):
        assert int(problem.headers["Retry-After"]) >= 1


@pytest.mark.parametrize(
    "exc",
    [
        errors.StoreError("x", error_type="Timeout"),
        errors.MergeError("x"),
        errors.ShardInvalid("x"),
        errors.DnsError("x"),
    ],
)
def test_errors_that_are_not_the_callers_map_to_nothing(exc: errors.FanoutError) -> None:
    assert problem_for(exc) is None


def test_the_table_lists_each_error_class_once() -> None:
    kinds = [row[0] for row in PROBLEMS]
    assert len(kinds) == len(set(kinds))


def test_however_many_problems_the_document_stays_small() -> None:
    many = [{"loc": f"urls.{i}.url", "msg": "x" * 10_000, "type": "string_type"} for i in range(5_000)]
    problem = problem_for(errors.RequestInvalid("d" * 100_000, many, total=140_000))
    assert problem is not None
    body = problem.body("i" * 10_000).to_json()
    assert len(body["errors"]) == MAX_LISTED_PROBLEMS
    assert (body["errors_total"], body["errors_omitted"]) == (140_000, 140_000 - MAX_LISTED_PROBLEMS)
    assert len(body["detail"]) == MAX_DETAIL_CHARS
    assert all(len(e["msg"]) == MAX_FIELD_CHARS for e in body["errors"])
    assert len(json.dumps(problem.invoke_error())) < 64_000


def test_a_few_problems_are_all_listed_without_a_count() -> None:
    problem = Problem(422, "validation-error", "t", "d", [{"loc": "a", "msg": "m", "type": "t"}])
    body = problem.body().to_json()
    assert len(body["errors"]) == 1
    assert "errors_total" not in body
