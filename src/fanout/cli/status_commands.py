"""``fanout status build``: the status page rendered from a monitors table (any endpoint: AWS, or
moto with ``AWS_ENDPOINT_URL``) into a folder, to look at or to serve (docs/status-page.md)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from fanout.aws.session import ClientConfig
from fanout.cli.errors import EXIT_BAD_INPUT
from fanout.errors import StoreError
from fanout.runs.status_page import build
from fanout.runs.stores import RunStores, StoreConfig
from fanout.status.site import Site

BUILD_BUDGET_S = 300.0


@click.group("status")
def status_group() -> None:
    """The status page (docs/status-page.md)."""


async def _site(table: str, endpoint_url: str, title: str) -> Site:
    client = ClientConfig(connect_timeout_s=5.0, read_timeout_s=30.0, endpoint_url=endpoint_url)
    async with RunStores(StoreConfig(monitors_table=table, client=client)) as stores:
        assert stores.monitors is not None
        assert stores.history is not None
        before = asyncio.get_running_loop().time() + BUILD_BUDGET_S
        return await build(stores.monitors, stores.history, before, title=title)


def write_site(site: Site, out: Path) -> None:
    for path, body in site.files.items():
        target = out / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(body)


@status_group.command("build")
@click.option(
    "--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path), help="The folder."
)
@click.option(
    "--monitors-table", envvar="MONITORS_TABLE_NAME", required=True, help="The table (MonitorsTableName)."
)
@click.option("--endpoint-url", envvar="AWS_ENDPOINT_URL", default="", help="A local stack's endpoint.")
@click.option("--title", default="Status", show_default=True, help="The page's title.")
def build_command(out: Path, monitors_table: str, endpoint_url: str, title: str) -> int:
    """Render the status page from the monitors table into OUT (index.html, status.json, badges)."""
    try:
        site = asyncio.run(_site(monitors_table, endpoint_url, title))
    except StoreError as exc:
        click.echo(f"error: the monitors table could not be read: {exc}", err=True)
        return EXIT_BAD_INPUT if "ResourceNotFound" in str(exc) else 1
    write_site(site, out)
    monitors = len(site.document.monitors)
    urls = sum(len(m.urls) for m in site.document.monitors)
    click.echo(f"{len(site.files)} files, {monitors} monitors, {urls} URLs: open {out / 'index.html'}")
    return 0
