"""Exit statuses, and the one place an error becomes one, with a readable message.

A script or a CI job reads the exit status, so it says one thing each (docs/cli.md):

====  ==================================================================================
0     every URL ended ``ok`` (and every threshold was met)
1     at least one URL did not, a threshold was breached, or the run failed or is unfinished
2     bad input: the command line, the request, a target list or sitemap, the local
      configuration, or the service refusing the request (a 4xx problem, a typed error)
3     the service failed or could not be reached (5xx, a function error, the network)
====  ==================================================================================

Domain code raises domain errors (``fanout.errors``); the command line's own failures are the
few classes below. ``handled`` wraps every command: whatever it raises of those is printed here
(never a traceback) and becomes the exit status.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any, ParamSpec

import click

from fanout.config import ConfigError
from fanout.errors import FanoutError, RequestInvalid

EXIT_OK, EXIT_NOT_OK, EXIT_BAD_INPUT, EXIT_SERVICE = 0, 1, 2, 3
MAX_SHOWN_PROBLEMS = 20

P = ParamSpec("P")


class CliError(FanoutError):
    """A failure of the command line's own, not of the request (see the subclasses)."""


class ServiceRefused(CliError):
    """The service refused the request: a 4xx problem, or a typed error of a direct invoke."""

    def __init__(self, status: int, problem: Mapping[str, Any]) -> None:
        title = str(problem.get("title") or problem.get("type") or "refused")
        super().__init__(f"the service answered {status} ({title}): {problem.get('detail') or ''}".rstrip())
        self.status = status
        self.errors = [e for e in problem.get("errors") or [] if isinstance(e, Mapping)]


class ServiceFailed(CliError):
    """The service failed (5xx, a Lambda function error) or could not be reached."""


class NoCredentials(CliError):
    """``--auth iam`` (or a direct invoke) with no AWS credentials to sign with."""


def exit_code_for(exc: BaseException) -> int:
    """The exit status an error ends the command with (the table in the module's docstring)."""
    if isinstance(exc, ServiceFailed):
        return EXIT_SERVICE
    if isinstance(exc, ServiceRefused):
        return EXIT_SERVICE if exc.status >= 500 else EXIT_BAD_INPUT
    return EXIT_BAD_INPUT  # RequestInvalid, TargetsUnreadable, ConfigError, OSError, NoCredentials


def _problem_lines(errors: list[Mapping[str, Any]], total: int) -> list[str]:
    lines = [f"  - {e.get('loc') or '(request)'}: {e.get('msg')}" for e in errors[:MAX_SHOWN_PROBLEMS]]
    if total > len(lines):
        lines.append(f"  ... and {total - len(lines)} more")
    return lines


def describe(exc: BaseException) -> str:
    """What to print for ``exc``: a line saying what went wrong, then the problems it lists."""
    if isinstance(exc, RequestInvalid):
        return "\n".join([f"error: {exc.detail}", *_problem_lines(list(exc.errors), exc.total)])
    if isinstance(exc, ServiceRefused):
        return "\n".join([f"error: {exc.detail}", *_problem_lines(exc.errors, len(exc.errors))])
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"error: {exc.filename}: {exc.strerror or exc}"
    if isinstance(exc, FanoutError):
        return f"error: {exc.detail}"
    return f"error: {exc}"


HANDLED: tuple[type[Exception], ...] = (FanoutError, ConfigError, OSError)
"""What a command may raise and still end with a message and a status, not a traceback."""


def handled(command: Callable[P, int]) -> Callable[P, None]:
    """``command`` (which returns its exit status) ending the process with that status, or with
    the status and message of the error it raised."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            code = command(*args, **kwargs)
        except HANDLED as exc:
            click.echo(describe(exc), err=True)
            code = exit_code_for(exc)
        raise click.exceptions.Exit(code)

    return run
