"""The options the commands share: durations, the request's options, and the output.

Request options on the command line map one to one to the contract's ``options`` (and
``options.expect``) and are merged over those of the request file, field by field: a file
sets the defaults of a check, the command line overrides them for one run. They are not
validated here: ``parse_request`` (or the service) does that, with the service's errors.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import click

from fanout.cli.formats import FORMATS
from fanout.core.budget import LAMBDA_MAX_REMAINING_MS

F = TypeVar("F", bound=Callable[..., Any])
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m)?\s*$")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, None: 1.0}
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


class Duration(click.ParamType):
    """``500ms``, ``30s``, ``2m`` (or a bare number of seconds), as seconds, above 0."""

    name = "duration"

    def __init__(self, most_s: float | None = None) -> None:
        self.most_s = most_s

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, int | float):
            seconds = float(value)
        else:
            match = _DURATION.match(str(value))
            if match is None:
                self.fail(f"{value!r} is not a duration like 500ms, 30s or 2m", param, ctx)
            seconds = float(match[1]) * _UNIT_S[match[2]]
        if seconds <= 0:
            self.fail("a duration must be above 0", param, ctx)
        if self.most_s is not None and seconds > self.most_s:
            self.fail(f"at most {self.most_s:g}s", param, ctx)
        return seconds


DEADLINE = Duration(most_s=LAMBDA_MAX_REMAINING_MS / 1000)  # Lambda's longest invocation: 15 min


def _status_spec(text: str) -> int | str:
    """``200`` -> 200; ``200-299`` stays a range (the contract's two spellings)."""
    return int(text) if text.strip().isdigit() else text.strip()


def _thresholds(values: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for value in values:
        name, sep, condition = value.partition("=")
        if not sep or not name.strip():
            raise click.BadParameter(f"{value!r}: write a threshold as METRIC=CONDITION, e.g. p95_ms=<800")
        out[name.strip()] = condition.strip()
    return out


def request_options(command: F) -> F:
    """The contract's options, for commands that send or run a request."""
    decorators = [
        click.option("--concurrency", type=int, help="Requests in flight at once (options.concurrency)."),
        click.option("--per-host-concurrency", type=int, help="Requests in flight to one host."),
        click.option(
            "--per-host-rps", type=float, help="Requests per second to one host (default: no limit)."
        ),
        click.option(
            "--per-host-burst", type=int, help="Requests a host may get at once within --per-host-rps."
        ),
        click.option(
            "--shard-size", type=int, help="URLs per shard when the run is sharded (invoke, --api)."
        ),
        click.option("--timeout", type=Duration(), help="Cap on one whole attempt (request_timeout_s): 10s."),
        click.option("--retries", type=int, help="Extra attempts after a connect error or 429/502/503/504."),
        click.option(
            "--on-error", type=click.Choice(["continue", "cancel"]), help="cancel: stop at the first failure."
        ),
        click.option(
            "--follow-redirects/--no-follow-redirects", default=None, help="Follow redirects (default on)."
        ),
        click.option("--max-redirects", type=int, help="More hops is failed / too_many_redirects."),
        click.option("--max-body-bytes", type=int, help="Larger bodies are failed / response_too_large."),
        click.option(
            "--method",
            type=click.Choice(METHODS, case_sensitive=False),
            help="Method of entries without one.",
        ),
        click.option(
            "--expect-status", multiple=True, help="Healthy status: 200, 200-299 (repeat; commas too)."
        ),
        click.option("--body-contains", help="The body must contain this text."),
        click.option("--body-regex", help="The body must match this regular expression."),
        click.option("--max-latency-ms", type=float, help="Slower final attempts are check_failed."),
        click.option(
            "--degraded-latency-ms", type=float, help="Slower passing answers are flagged degraded."
        ),
        click.option("--cert-min-days", type=float, help="Fewer days left on an https certificate fails."),
        click.option(
            "--capture-header", multiple=True, help="Copy this response header into results (repeat)."
        ),
        click.option(
            "--threshold", multiple=True, help="A run threshold METRIC=CONDITION: p95_ms=<800 (repeat)."
        ),
    ]
    for decorate in reversed(decorators):
        command = decorate(command)
    return command


def output_options(command: F) -> F:
    """``--format`` and ``--output``, for every command that prints a document."""
    command = click.option(
        "--output", "-o", type=click.Path(dir_okay=False, writable=True), help="Write to FILE, not stdout."
    )(command)
    return click.option(
        "--format",
        "-f",
        "fmt",
        type=click.Choice(FORMATS),
        help="Default: table on a terminal, else json (or by --output's suffix).",
    )(command)


def option_overrides(values: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The command line's ``options`` and ``options.expect`` (only what was given)."""
    options = {
        "concurrency": values.get("concurrency"),
        "per_host_concurrency": values.get("per_host_concurrency"),
        "per_host_rps": values.get("per_host_rps"),
        "per_host_burst": values.get("per_host_burst"),
        "shard_size": values.get("shard_size"),
        "request_timeout_s": values.get("timeout"),
        "retries": values.get("retries"),
        "on_error": values.get("on_error"),
        "follow_redirects": values.get("follow_redirects"),
        "max_redirects": values.get("max_redirects"),
        "max_body_bytes": values.get("max_body_bytes"),
        "capture_headers": list(values.get("capture_header") or ()) or None,
        "thresholds": _thresholds(tuple(values.get("threshold") or ())) or None,
    }
    statuses = [s for value in values.get("expect_status") or () for s in value.split(",") if s.strip()]
    expect = {
        "status": [_status_spec(s) for s in statuses] or None,
        "body_contains": values.get("body_contains"),
        "body_regex": values.get("body_regex"),
        "max_latency_ms": values.get("max_latency_ms"),
        "degraded_latency_ms": values.get("degraded_latency_ms"),
        "cert_min_days": values.get("cert_min_days"),
    }
    return _given(options), _given(expect)


def _given(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def merged(document: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """``document`` with the command line's options merged over its own (field by field for
    ``expect`` and ``thresholds``) and ``--method`` given to the entries that have none."""
    options, expect = option_overrides(values)
    out = dict(document)
    if options or expect:
        own = out.get("options")
        mine = dict(own) if isinstance(own, Mapping) else {}
        thresholds = options.pop("thresholds", None)
        mine |= options
        if thresholds:
            prior = mine.get("thresholds")
            mine["thresholds"] = (dict(prior) if isinstance(prior, Mapping) else {}) | thresholds
        if expect:
            prior = mine.get("expect")
            mine["expect"] = (dict(prior) if isinstance(prior, Mapping) else {}) | expect
        out["options"] = mine
    method = values.get("method")
    if method and isinstance(out.get("urls"), list):
        out["urls"] = with_method(out["urls"], method)
    return out


def with_method(entries: list[Any], method: str) -> list[Any]:
    """Bare URLs as ``{"url", "method"}``, and objects without a method given ``method``."""
    method = method.upper()
    return [
        {"url": e, "method": method}
        if isinstance(e, str)
        else ({**e, "method": method} if isinstance(e, dict) and "method" not in e else e)
        for e in entries
    ]


def sitemap_beside_urls() -> click.UsageError:
    """The usage error of ``--sitemap`` given with a request that names its own URLs."""
    return click.UsageError(
        "--sitemap gives the URLs: the request file may have options, not urls or targets"
    )
