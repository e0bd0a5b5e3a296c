"""``fanout monitors validate|plan|apply``: a fleet of monitors from files in git (docs/monitors.md).

``validate`` needs no AWS: every problem of every file, as ``FILE:LINE:COLUMN: path: message``,
and exit status 2 when there is one.
"""

from __future__ import annotations

import click

from fanout.cli.errors import EXIT_BAD_INPUT, EXIT_OK, handled
from fanout.cli.monitors_file import Fleet, read_fleet

PATHS = click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True), metavar="FILE|DIR...")


def _report_problems(fleet: Fleet) -> bool:
    """Print the fleet's problems to stderr; True when there are none."""
    for problem in fleet.problems:
        click.echo(str(problem), err=True)
    if fleet.problems:
        click.echo(f"{len(fleet.problems)} problem(s) in {len(fleet.files)} file(s)", err=True)
    return not fleet.problems


@click.group("monitors")
def monitors_group() -> None:
    """A fleet of monitors from YAML files: validate them, plan and apply their schedules."""


@monitors_group.command("validate")
@PATHS
@handled
def validate_command(paths: tuple[str, ...]) -> int:
    """Check monitors files (and the YAML files under each DIR); needs no AWS."""
    fleet = read_fleet(paths)
    if not _report_problems(fleet):
        return EXIT_BAD_INPUT
    click.echo(f"{len(fleet.monitors)} monitor(s) in {len(fleet.files)} file(s): valid")
    return EXIT_OK
