"""``GET /monitors`` and ``GET /monitors/{name}`` show each monitor's group and tags (as its
requests named them), and the listing keeps those of a ``?group=`` and a ``?tag=key:value``;
the function through its handler, its monitors table on moto in server mode."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from devtools.demo_target import DemoTarget
from fanout.config import get_settings
from tests.support import Deployment, MotoAws, api_request, body_of, call, point_aws_at, problem_of, scheduled


@pytest.fixture(scope="module")
def aws() -> Iterator[MotoAws]:
    with MotoAws() as moto:
        yield moto


@pytest.fixture
def deployed(aws: MotoAws, monkeypatch: pytest.MonkeyPatch) -> Deployment:
    point_aws_at(monkeypatch, aws.endpoint)
    deployment = Deployment(monkeypatch, get_settings())
    deployment.configure(
        reports_bucket_name="",
        runs_table_name="",
        idempotency_table_name="",
        monitors_table_name=aws.resources.monitors_table,
    )
    return deployment


def run_monitor(target: DemoTarget, name: str, **spec: Any) -> None:
    request = {"urls": [target.url("/ok")], "monitor": {"name": name, **spec}}
    assert call(scheduled(request))["monitor"]["name"] == name


def names(listing: dict[str, Any], mine: set[str]) -> list[str]:
    return [m["name"] for m in listing["monitors"] if m["name"] in mine]


def test_group_and_tags_are_shown_and_filter_the_listing(deployed: Deployment, target: DemoTarget) -> None:
    run = uuid.uuid4().hex[:6]
    pay, pay_web, docs = f"a-{run}-pay", f"b-{run}-pay-web", f"c-{run}-docs"
    group = f"payments-{run}"
    run_monitor(target, pay, group=group, tags={"team": f"t-{run}", "env": "prod"})
    run_monitor(target, pay_web, group=group, tags={"team": f"t-{run}", "env": "staging"})
    run_monitor(target, docs, tags={"team": f"docs-{run}"})
    mine = {pay, pay_web, docs}

    view = body_of(call(api_request("GET", f"/monitors/{pay}")))
    assert (view["group"], view["tags"]) == (group, {"team": f"t-{run}", "env": "prod"})
    listing = body_of(call(api_request("GET", "/monitors", query={"limit": "100"})))
    shown = {m["name"]: (m["group"], m["tags"]) for m in listing["monitors"] if m["name"] in mine}
    assert shown[docs] == (None, {"team": f"docs-{run}"})

    def listed(**query: str) -> list[str]:
        return names(body_of(call(api_request("GET", "/monitors", query=query))), mine)

    assert listed(group=group) == [pay, pay_web]
    assert listed(tag=f"team:t-{run}") == [pay, pay_web]
    assert listed(group=group, tag="env:staging") == [pay_web]
    assert listed(tag=f"team:docs-{run}") == [docs]
    assert listed(group="nobody-" + run) == []


def test_a_filtered_listing_fills_its_pages_and_its_cursor_goes_on(
    deployed: Deployment, target: DemoTarget
) -> None:
    run = uuid.uuid4().hex[:6]
    group = f"paged-{run}"
    wanted = [f"p-{run}-{i}" for i in range(3)]
    for i, name in enumerate(wanted):
        run_monitor(target, name, group=group)
        run_monitor(target, f"p-{run}-{i}-other", group=f"else-{run}")  # between them, by name
    first = body_of(call(api_request("GET", "/monitors", query={"group": group, "limit": "2"})))
    assert [m["name"] for m in first["monitors"]] == wanted[:2]
    rest = body_of(
        call(
            api_request(
                "GET", "/monitors", query={"group": group, "limit": "2", "cursor": first["next_cursor"]}
            )
        )
    )
    assert [m["name"] for m in rest["monitors"]] == wanted[2:]


@pytest.mark.parametrize("tag", ["team", "team:", ":x"])
def test_a_tag_that_is_not_key_colon_value_is_refused(deployed: Deployment, tag: str) -> None:
    problem = problem_of(call(api_request("GET", "/monitors", query={"tag": tag})), 422, "validation-error")
    assert problem["errors"][0]["loc"].endswith("tag"), problem
