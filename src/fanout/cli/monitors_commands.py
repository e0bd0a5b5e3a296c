"""``fanout monitors validate|plan|apply``: a fleet of monitors from files in git (docs/monitors.md).

``validate`` needs no AWS: every problem of every file, as ``FILE:LINE:COLUMN: path: message``,
and exit status 2 when there is one. ``plan`` compares the files with fanout's schedules in the
group; ``apply`` makes the changes (``fanout.cli.schedule_apply``); a regional monitor's in each
of its regions (``fanout.cli.region_plans``). Exit status: 0 done (or no
changes), 4 changes with ``--detailed-exitcode``, 1 an AWS failure or a change not applied, 2 bad
input.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeVar

import click

from fanout.cli.errors import EXIT_BAD_INPUT, EXIT_NOT_OK, EXIT_OK, handled
from fanout.cli.monitors_file import Fleet, read_fleet
from fanout.cli.region_plans import RegionalPlan, plan_regions
from fanout.cli.schedule_apply import STACK_OUTPUTS, Applied, AwsFailed, purge_states, stack_deployment
from fanout.cli.schedules import Deployment, Plan

F = TypeVar("F", bound=Callable[..., Any])

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


EXIT_CHANGES = 4  # --detailed-exitcode: there are (or were) changes, like terraform's


def where_options(command: F) -> F:
    """Where the schedules go: a stack's outputs, or each part given (which wins over the stack)."""
    for decorate in reversed(
        [
            click.option("--stack", help="Read the rest from this CloudFormation stack's outputs."),
            click.option("--group", help="The schedule group (output MonitorScheduleGroupName)."),
            click.option(
                "--function-arn", help="The function alias the schedules invoke (FanoutFunctionAliasArn)."
            ),
            click.option("--role-arn", help="The role the schedules run with (MonitorSchedulerRoleArn)."),
            click.option(
                "--dead-letter-arn", help="The schedules' dead-letter queue (ScheduleDeadLetterQueueArn)."
            ),
            click.option("--bucket", help="Where URL lists too large for a schedule go (ReportsBucketName)."),
            click.option("--monitors-table", help="The monitors' states, for --purge (MonitorsTableName)."),
            click.option("--region", help="The AWS region (default: AWS_REGION / the profile)."),
            click.option(
                "--detailed-exitcode",
                is_flag=True,
                help="Exit 4 when there are changes, 0 when none, 1 on error.",
            ),
        ]
    ):
        command = decorate(command)
    return command


def _deployment(where: dict[str, Any]) -> Deployment:
    given = {k: where[k] for k in STACK_OUTPUTS if where.get(k)}
    if where.get("stack"):
        return replace(stack_deployment(where["stack"], where.get("region")), **given)
    missing = [f"--{k.replace('_', '-')}" for k in ("group", "function_arn", "role_arn") if k not in given]
    if missing:
        raise click.UsageError(f"give --stack, or {', '.join(missing)}")
    return Deployment(**given)


def _default_region() -> str | None:
    import boto3

    return boto3.session.Session().region_name


def _planned(paths: tuple[str, ...], where: dict[str, Any]) -> RegionalPlan | int:
    """The plan of the files against the deployment (each region's, for regional monitors), or
    the exit status of why there is none."""
    fleet = read_fleet(paths)
    if not _report_problems(fleet):
        return EXIT_BAD_INPUT
    deployment = _deployment(where)
    try:
        return plan_regions(
            fleet.monitors,
            deployment,
            region=where.get("region"),
            stack=where.get("stack"),
            default_region=_default_region,
        )
    except AwsFailed as exc:
        click.echo(f"error: {exc.detail}", err=True)
        return EXIT_NOT_OK
    except ValueError as exc:  # a monitor that cannot be a schedule; regions without --stack
        click.echo(f"error: {exc}", err=True)
        return EXIT_BAD_INPUT


@monitors_group.command("plan")
@PATHS
@where_options
@handled
def plan_command(paths: tuple[str, ...], detailed_exitcode: bool, **where: Any) -> int:
    """Show what apply would change: schedules to create, update (field by field) and delete."""
    planned = _planned(paths, where)
    if isinstance(planned, int):
        return planned
    changes = planned.plan
    click.echo("\n".join(changes.lines()))
    return EXIT_CHANGES if detailed_exitcode and changes.changes else EXIT_OK


@monitors_group.command("apply")
@PATHS
@where_options
@click.option("--yes", is_flag=True, help="Apply without asking.")
@click.option(
    "--purge", is_flag=True, help="Also delete the states of removed monitors now (else they expire)."
)
@handled
def apply_command(
    paths: tuple[str, ...], detailed_exitcode: bool, yes: bool, purge: bool, **where: Any
) -> int:
    """Make the deployed schedules what the files say (only fanout's own; others are left alone)."""
    planned = _planned(paths, where)
    if isinstance(planned, int):
        return planned
    changes, deployment = planned.plan, planned.deployments[_home_key(planned)]
    click.echo("\n".join(changes.lines()))
    if not changes.changes:
        return EXIT_OK
    if not yes and not click.confirm(f"Apply {len(changes.changes)} change(s)?", default=False, err=True):
        click.echo("nothing applied", err=True)
        return EXIT_NOT_OK
    results = planned.apply(changes.changes)
    failed = [r for r in results if r.error is not None]
    for r in results:
        status = "applied" if r.error is None else f"FAILED: {r.error}"
        where_ = f" in {r.change.region}" if r.change.region else ""
        click.echo(f"{r.change.kind} {r.change.monitor}{where_}: {status}")
    click.echo(f"Applied {len(results) - len(failed)} of {len(results)} change(s).")
    if purge:
        failed_purge = _purge(changes, deployment, where.get("region"), failed)
        if failed_purge:
            return EXIT_NOT_OK
    if failed:
        click.echo(f"{len(failed)} change(s) failed: apply again to finish.", err=True)
        return EXIT_NOT_OK
    return EXIT_CHANGES if detailed_exitcode else EXIT_OK


def _home_key(planned: RegionalPlan) -> str | None:
    """The region named's key in the plan's deployments (its first)."""
    return next(iter(planned.deployments))


def _purge(changes: Plan, deployment: Deployment, region: str | None, failed: list[Applied]) -> bool:
    """Delete the states of the monitors whose schedules were all deleted (a monitor that only
    left a region keeps its state); True when that failed."""
    not_deleted = {(r.change.name, r.change.region) for r in failed}
    kept = {c.monitor for c in changes.changes if c.kind != "delete"}
    gone = sorted(
        {
            c.monitor
            for c in changes.changes
            if c.kind == "delete" and (c.name, c.region) not in not_deleted and c.monitor not in kept
        }
    )
    if not gone:
        return False
    if not deployment.monitors_table:
        click.echo("error: --purge needs the monitors table (--monitors-table or --stack)", err=True)
        return True
    try:
        count = purge_states(gone, deployment.monitors_table, region)
    except AwsFailed as exc:
        click.echo(f"error: {exc.detail}", err=True)
        return True
    click.echo(f"Purged {count} state item(s) of {len(gone)} removed monitor(s).")
    return False
