"""What a render reads again: the run's own monitor first, then those never rendered, then the
longest waiting, up to a number of URLs; the others are kept or wait for the next render."""

from __future__ import annotations

from typing import Any

from fanout.status.plan import plan_render


def _summary(name: str, urls: int, ran: str, **more: Any) -> dict[str, Any]:
    return {"name": name, "urls": urls, "last_run_at": ran} | more


SUMMARIES = [
    _summary("a", 10, "t5"),
    _summary("b", 10, "t2"),  # rendered at t1: ran since
    _summary("c", 10, "t3"),  # rendered at t3: unchanged
    _summary("d", 10, "t4"),  # never rendered
    _summary("e", 10, "t4"),  # rendered at t0: ran since
    _summary("hidden", 10, "t9", public=False),
]
RENDERED = {"a": "t5", "b": "t1", "c": "t3", "e": "t0"}


def test_the_run_s_monitor_comes_first_then_the_never_rendered_then_the_longest_waiting() -> None:
    plan = plan_render(SUMMARIES, RENDERED, "a", max_urls=1_000)
    assert [s["name"] for s in plan.fresh] == ["a", "d", "e", "b"]
    assert plan.kept == ("c",)
    assert plan.waiting == ()
    assert plan.fresh_urls == 40


def test_the_cap_leaves_the_rest_kept_or_waiting_for_the_next_render() -> None:
    plan = plan_render(SUMMARIES, RENDERED, "a", max_urls=25)
    assert [s["name"] for s in plan.fresh] == ["a", "d"]
    assert set(plan.kept) == {"b", "c", "e"}  # on the index from their last render
    plan = plan_render(SUMMARIES, {}, "a", max_urls=25)
    assert [s["name"] for s in plan.fresh] == ["a", "b"]
    assert set(plan.waiting) == {"c", "d", "e"}  # never rendered: not on the index yet


def test_a_monitor_too_big_for_the_cap_is_skipped_not_the_smaller_ones_after_it() -> None:
    summaries = [_summary("big", 500, "t1"), _summary("small", 5, "t1")]
    plan = plan_render(summaries, {}, "other", max_urls=100)
    assert [s["name"] for s in plan.fresh] == ["small"]
    assert plan.waiting == ("big",)


def test_nothing_fits_no_time_left() -> None:
    plan = plan_render(SUMMARIES, RENDERED, "a", max_urls=0)
    assert plan.fresh == ()


def test_a_monitor_not_public_is_neither_read_nor_kept() -> None:
    plan = plan_render(SUMMARIES, RENDERED | {"hidden": "t0"}, "hidden", max_urls=1_000)
    names = {s["name"] for s in plan.fresh} | set(plan.kept) | set(plan.waiting)
    assert "hidden" not in names
