"""``fanout run FILE|-``: the fan-out here, in this process (``fanout.cli.local``)."""

from __future__ import annotations

import asyncio
from typing import Any

import click

from fanout.cli.errors import handled
from fanout.cli.formats import emit
from fanout.cli.inputs import request_document, sitemap_source
from fanout.cli.local import LocalRun, run_here, sitemap_of
from fanout.cli.params import DEADLINE, merged, output_options, request_options, sitemap_beside_urls
from fanout.cli.rows import exit_status, methods_of
from fanout.config import ConfigError, Settings, get_settings, parse_cidrs
from fanout.runs.invocation import fewer_young_collections, loop_factory

EPILOG = """\b
Examples:
  fanout run urls.txt
  fanout run request.json --deadline 2m --format junit --output fanout.xml
  fanout run --sitemap https://example.com/sitemap.xml --method HEAD --expect-status 200-399
  cat urls.txt | fanout run - --concurrency 32 --timeout 5s

Exit status: 0 every URL ok, 1 some not ok (or a threshold breached), 2 bad input.
"""


@click.command("run", epilog=EPILOG)
@click.argument("file", required=False, metavar="FILE|-")
@click.option("--sitemap", metavar="URL|FILE", help="Take the URLs from this sitemap (or sitemap index).")
@click.option(
    "--deadline",
    type=DEADLINE,
    default="30s",
    show_default=True,
    help="The run's whole time, as Lambda's remaining time: 500ms, 30s, 2m (at most 15m).",
)
@click.option("--progress/--no-progress", default=True, help="A progress bar on a terminal's stderr.")
@click.option(
    "--allow",
    "allow",
    multiple=True,
    metavar="CIDR",
    help="Exempt this network from the egress guard (repeat, or commas): 127.0.0.0/8 for a preview"
    " server on this machine. Added to EGRESS_ALLOW_CIDRS.",
)
@request_options
@output_options
@handled
def run_command(
    file: str | None,
    sitemap: str | None,
    deadline: float,
    progress: bool,
    allow: tuple[str, ...],
    fmt: str | None,
    output: str | None,
    **options: Any,
) -> int:
    """Fetch the URLs in FILE (one per line, a JSON list, or a request object; - for stdin)
    here, with the service's engine, egress guard and limits, within --deadline."""
    if file is None and sitemap is None:
        raise click.UsageError("give FILE (- for stdin) or --sitemap")
    settings = _allowing(get_settings(), allow)
    document = request_document(file, settings) if file is not None else {}
    document, from_targets = sitemap_of(merged(document, options), settings)
    if sitemap is not None and (from_targets is not None or "urls" in document):
        raise sitemap_beside_urls()
    source = sitemap_source(sitemap, settings) if sitemap is not None else from_targets
    run = LocalRun(document, source, options.get("method"))
    # The service's loop, and its GC tuning while the run goes (as an invocation's).
    with asyncio.Runner(loop_factory=loop_factory(settings.event_loop)) as runner, fewer_young_collections():
        result = runner.run(run_here(run, settings, deadline_s=deadline, progress=progress)).to_json()
    emit(result, fmt, output, methods_of(result | {"urls": _entries(run, result)}))
    return exit_status(result)


def _allowing(settings: Settings, allow: tuple[str, ...]) -> Settings:
    """``settings`` with the ``--allow`` networks exempted from the egress guard too."""
    if not allow:
        return settings
    given = ",".join(allow)
    try:
        parse_cidrs(given, source="--allow")
    except ConfigError as exc:
        raise click.BadParameter(str(exc), param_hint="--allow") from None
    joined = ",".join(c for c in (settings.egress_allow_cidrs, given) if c.strip())
    return settings.model_copy(update={"egress_allow_cidrs": joined})


def _entries(run: LocalRun, result: dict[str, Any]) -> list[Any]:
    """The entries that ran, for their methods: the file's, or the sitemap's URLs."""
    if run.sitemap is None:
        return list(run.document.get("urls") or [])
    method = (run.method or "GET").upper()
    return [{"method": method} for _ in result.get("results") or []]
