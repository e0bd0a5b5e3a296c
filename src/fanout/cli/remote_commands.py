"""``fanout invoke`` (the deployed function, directly or through its HTTP API) and
``fanout runs show|list`` (the runs it keeps, ``GET /runs``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from fanout.cli.api import AUTHS, Api
from fanout.cli.errors import EXIT_OK, handled
from fanout.cli.formats import emit
from fanout.cli.inputs import request_document
from fanout.cli.params import Duration, merged, output_options, request_options, sitemap_beside_urls
from fanout.cli.progress import shard_progress
from fanout.cli.remote import invoke_function, is_running, watch
from fanout.cli.rows import exit_status, methods_of
from fanout.config import get_settings

F = TypeVar("F", bound=Callable[..., Any])

INVOKE_EPILOG = """\b
Examples:
  fanout invoke urls.txt --function fanout --region eu-west-1
  fanout invoke request.json --api https://abc123.execute-api.eu-west-1.amazonaws.com --watch
  fanout invoke --function fanout --sitemap https://example.com/sitemap.xml --format junit -o links.xml

Exit status: 0 every URL ok, 1 some not ok (or the run is still running), 2 bad input or a
refusal (4xx), 3 the service failed or could not be reached.
"""


def api_options(command: F) -> F:
    """Where the HTTP API is and how to authorize with it."""
    for decorate in reversed(
        [
            click.option(
                "--auth", type=click.Choice(AUTHS), default="iam", show_default=True, help="How to authorize."
            ),
            click.option(
                "--token", envvar="FANOUT_TOKEN", help="The bearer token of --auth jwt (or FANOUT_TOKEN)."
            ),
            click.option(
                "--region", help="The AWS region (default: the API's host, or AWS_REGION / the profile)."
            ),
        ]
    ):
        command = decorate(command)
    return command


def watch_options(command: F) -> F:
    """Following a sharded run through ``GET /runs/{id}`` until it is complete or failed."""
    for decorate in reversed(
        [
            click.option(
                "--watch-timeout",
                type=Duration(),
                default="10m",
                show_default=True,
                help="Stop watching after this.",
            ),
            click.option(
                "--interval", type=Duration(), default="2s", show_default=True, help="Between two polls."
            ),
            click.option(
                "--progress/--no-progress", default=True, help="A progress bar on a terminal's stderr."
            ),
        ]
    ):
        command = decorate(command)
    return command


def _followed(
    api: Api, run_id: str, *, interval: float, watch_timeout: float, progress: bool
) -> dict[str, Any]:
    with shard_progress(watch_timeout, enabled=progress) as on_view:
        view = watch(api, run_id, interval_s=interval, timeout_s=watch_timeout, on_view=on_view)
    if is_running(view):
        click.echo(
            f"still running after {watch_timeout:g}s: fanout runs show {run_id} --watch follows it", err=True
        )
    return view


@click.command("invoke", epilog=INVOKE_EPILOG)
@click.argument("file", required=False, metavar="FILE|-")
@click.option(
    "--function", "function_name", metavar="NAME", help="Invoke this function directly (Lambda's Invoke API)."
)
@click.option(
    "--api", "api_url", metavar="URL", help="POST /fanout to this API (with --function: only to --watch)."
)
@click.option("--endpoint-url", help="Another Lambda endpoint (an emulator, a test).")
@click.option(
    "--sitemap", metavar="URL", help="Send targets.sitemap (direct invokes; the API takes urls only)."
)
@click.option(
    "--watch/--no-watch", default=False, help="Follow a sharded run (202) until it ends; needs --api."
)
@api_options
@watch_options
@request_options
@output_options
@handled
def invoke_command(
    file: str | None,
    function_name: str | None,
    api_url: str | None,
    endpoint_url: str | None,
    sitemap: str | None,
    watch: bool,
    auth: str,
    token: str | None,
    region: str | None,
    watch_timeout: float,
    interval: float,
    progress: bool,
    fmt: str | None,
    output: str | None,
    **options: Any,
) -> int:
    """Send the request in FILE (as fanout run reads it; - for stdin) to the deployed function,
    directly (--function) or through its HTTP API (--api), and print its answer."""
    if function_name is None and api_url is None:
        raise click.UsageError("give --function NAME or --api URL")
    if watch and api_url is None:
        raise click.UsageError("--watch follows the run with GET /runs/{id}: give --api URL")
    if file is None and sitemap is None:
        raise click.UsageError("give FILE (- for stdin) or --sitemap")
    request = merged(request_document(file, get_settings()) if file is not None else {}, options)
    if sitemap is not None:
        if function_name is None:
            raise click.UsageError("the HTTP API takes urls only: --sitemap needs --function")
        if "urls" in request or "targets" in request:
            raise sitemap_beside_urls()
        request["targets"] = {"sitemap": sitemap}
    api = None if api_url is None else Api(api_url, auth=auth, token=token, region=region)
    if function_name is not None:
        document = invoke_function(function_name, request, region=region, endpoint_url=endpoint_url)
    else:
        assert api is not None
        document = api.post_fanout(request).document
    if watch and api is not None and is_running(document):
        document = _followed(
            api, str(document["run_id"]), interval=interval, watch_timeout=watch_timeout, progress=progress
        )
    emit(document, fmt, output, methods_of(request))
    return exit_status(document)


@click.group("runs")
def runs_group() -> None:
    """The runs the deployment keeps (GET /runs): show one, list them."""


@runs_group.command("show")
@click.argument("run_id")
@click.option("--api", "api_url", metavar="URL", required=True, help="The deployment's HTTP API.")
@click.option("--watch/--no-watch", default=False, help="Poll until the run is complete or failed.")
@api_options
@watch_options
@output_options
@handled
def show_command(
    run_id: str,
    api_url: str,
    watch: bool,
    auth: str,
    token: str | None,
    region: str | None,
    watch_timeout: float,
    interval: float,
    progress: bool,
    fmt: str | None,
    output: str | None,
) -> int:
    """Show run RUN_ID (GET /runs/{id}): its progress, or its results once complete."""
    api = Api(api_url, auth=auth, token=token, region=region)
    if watch:
        view = _followed(api, run_id, interval=interval, watch_timeout=watch_timeout, progress=progress)
    else:
        view = api.get_run(run_id)
    emit(view, fmt, output)
    return exit_status(view)


@runs_group.command("list")
@click.option("--api", "api_url", metavar="URL", required=True, help="The deployment's HTTP API.")
@click.option(
    "--limit", type=click.IntRange(1, 1000), help="How many runs (the API's default and maximum apply)."
)
@click.option("--cursor", help="The next page's cursor (from the previous page).")
@api_options
@output_options
@handled
def list_command(
    api_url: str,
    limit: int | None,
    cursor: str | None,
    auth: str,
    token: str | None,
    region: str | None,
    fmt: str | None,
    output: str | None,
) -> int:
    """List the most recent runs, newest first (GET /runs)."""
    listing = Api(api_url, auth=auth, token=token, region=region).list_runs(limit, cursor)
    emit(listing, fmt, output)
    return EXIT_OK
