"""Answers that fit the response limit: as they are, with a pointer, or cut, always saying so."""

from __future__ import annotations

import json

import pytest

from fanout.core.answers import answer_size, fit, size_of
from fanout.core.documents import RunDocument, Source
from fanout.core.records import RunRecord, RunView
from fanout.core.results import Outcome, Summary, UrlResult


def document(n: int) -> RunDocument:
    results = tuple(
        UrlResult(f"https://e.example/{i:05d}", Outcome.OK, 200, 1, 1.0, 10, None) for i in range(n)
    )
    return RunDocument(
        run_id="r", source=Source.DIRECT, started_at="2026-12-01T00:00:00.000Z",
        summary=Summary.of_results(results), results=results, budget_ms=1.0, elapsed_ms=1.0,
        deadline_reached=False, stopped_on_error=False,
    )  # fmt: skip


def test_the_size_is_that_of_the_json_escaped_once_more() -> None:
    payload = {"a": 'say "hi" \\ bye'}
    body = json.dumps(payload, separators=(",", ":"))
    assert answer_size(payload) == len(json.dumps(body)) - 2  # an API body: a JSON string of the JSON


def test_an_answer_that_fits_is_returned_as_it_is() -> None:
    doc = document(10)
    assert fit(doc, limit_bytes=size_of(doc), report_url=None) is doc


def test_a_stored_report_replaces_the_results_by_its_link() -> None:
    doc = document(500)
    fitted = fit(doc, limit_bytes=5_000, report_url="https://s3.example/r?sig", url_expires_s=3600)
    assert fitted.results == ()
    assert fitted.summary == doc.summary
    omitted = fitted.results_omitted
    assert omitted is not None
    assert (omitted.kept, omitted.omitted, omitted.report_url_expires_in_s) == (0, 500, 3600)
    assert omitted.answer_bytes == size_of(doc) > omitted.limit_bytes == 5_000
    assert size_of(fitted) <= 5_000


@pytest.mark.parametrize("limit", [2_000, 10_000, 40_000])
def test_without_a_report_the_first_results_that_fit_are_kept(limit: int) -> None:
    doc = document(500)
    fitted = fit(doc, limit_bytes=limit, report_url=None)
    omitted = fitted.results_omitted
    assert omitted is not None
    assert fitted.results == (doc.results or ())[: omitted.kept]
    assert omitted.kept + omitted.omitted == 500
    assert 0 <= omitted.kept < 500
    assert (omitted.report_url, omitted.report_url_expires_in_s) == (None, None)
    assert size_of(fitted) <= limit
    more = fit(doc, limit_bytes=limit + 2_000, report_url=None).results_omitted
    assert more is not None
    assert more.kept > omitted.kept


def test_a_run_read_back_is_fitted_the_same_way() -> None:
    doc = document(300)
    view = RunView.of(RunRecord(doc.without_results()), doc.results)
    fitted = fit(view, limit_bytes=3_000, report_url="https://s3.example/r")
    assert fitted.results == ()
    assert fitted.to_json()["results_omitted"]["report_url"] == "https://s3.example/r"
