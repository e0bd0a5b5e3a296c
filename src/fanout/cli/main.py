"""The ``fanout`` command (``[project.scripts]``): the group of verbs and the process's exit status."""

from __future__ import annotations

from collections.abc import Sequence

import click

from fanout.cli.errors import EXIT_BAD_INPUT
from fanout.cli.monitors_commands import monitors_group
from fanout.cli.remote_commands import invoke_command, runs_group
from fanout.cli.run_command import run_command
from fanout.cli.status_commands import status_group

INTERRUPTED = 130  # the shell's status for a process ended by SIGINT


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="fanout", prog_name="fanout")
def cli() -> None:
    """Fetch many URLs concurrently within a deadline: here (run), or on the deployed
    function (invoke, runs). One result per URL, in input order. See docs/cli.md."""


cli.add_command(run_command)
cli.add_command(invoke_command)
cli.add_command(runs_group)
cli.add_command(monitors_group)
cli.add_command(status_group)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; its exit status (docs/cli.md). Click's own usage errors are 2,
    as every bad input is; an interrupt is 130."""
    try:
        code = cli.main(
            args=list(argv) if argv is not None else None, prog_name="fanout", standalone_mode=False
        )
    except click.ClickException as exc:
        exc.show()
        return EXIT_BAD_INPUT
    except (click.Abort, KeyboardInterrupt):
        click.echo("interrupted", err=True)
        return INTERRUPTED
    return code if isinstance(code, int) else 0
