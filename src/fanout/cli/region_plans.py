"""``fanout monitors plan|apply`` over several regions: a regional monitor's schedule in each of
its regions, every other monitor's in the one region named (``--region``) as before.

Each region's deployment is the same stack's outputs there (``--stack``: the stack has the same
name in every region, docs/deploy.md "Several regions"). The regions looked at are the one named,
those the files list, and those the deployed regional schedules list (so a monitor that leaves a
region has its schedule there deleted); a fleet without ``regions`` plans exactly as before.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from fanout.cli.monitors_file import FleetMonitor
from fanout.cli.schedule_apply import Applied, apply_changes, client, deployed_schedules, stack_deployment
from fanout.cli.schedules import Change, Deployment, Desired, Plan, desired, plan, regions_deployed

MAX_REGIONS_LOOKED_AT = 30


class RegionsNeedStack(ValueError):
    """Regional monitors and no ``--stack`` (or no region to start from)."""


@dataclass
class RegionalPlan:
    """The plan of every region looked at, and each region's deployment (None: the one region of a
    fleet without regions, as named by ``--region`` or the environment)."""

    plan: Plan
    deployments: dict[str | None, Deployment] = field(default_factory=dict)

    def apply(self, changes: Sequence[Change]) -> list[Applied]:
        """Apply the changes region by region; what became of each, in the plan's order."""
        done: dict[int, Applied] = {}
        for region, deployment in self.deployments.items():
            mine = [(i, c) for i, c in enumerate(changes) if c.region == region]
            answers = apply_changes([c for _, c in mine], deployment, region)
            done |= {i: a for (i, _), a in zip(mine, answers, strict=True)}
        return [done[i] for i in range(len(changes))]


def _wanted(
    monitors: Sequence[FleetMonitor], region: str | None, home: str | None, dep: Deployment
) -> list[Desired]:
    """The schedules ``region`` should have: its regional monitors', and in the region named the
    monitors without regions."""
    now = time.time()
    return [
        desired(m, dep, now=now)
        for m in monitors
        if (region in (m.monitor.regions or ())) or (not m.monitor.regions and region == home)
    ]


def plan_regions(
    monitors: Sequence[FleetMonitor],
    home: Deployment,
    *,
    region: str | None,
    stack: str | None,
    default_region: Callable[[], str | None],
) -> RegionalPlan:
    """The plan of ``monitors`` over every region they (and the deployed schedules) involve;
    ``home`` is the deployment in ``region`` (the one named). Raises ``AwsFailed``,
    ``RegionsNeedStack``, or ``ValueError`` for a monitor that cannot be a schedule."""
    listed = {r for m in monitors for r in m.monitor.regions or ()}
    if not listed:  # as before regions: one region, changes not marked with it
        wanted = _wanted(monitors, None, None, home)
        deployed, foreign = deployed_schedules(client("scheduler", region), home.group)
        if not regions_deployed(deployed):
            return RegionalPlan(plan(wanted, deployed, foreign=foreign), {None: home})
    named = region or default_region()
    if not named:
        raise RegionsNeedStack("regional monitors need a region to start from (--region or AWS_REGION)")
    deployments: dict[str | None, Deployment] = {named: home}
    todo, looked, result = sorted(listed | {named}), set[str](), Plan()
    while todo and len(looked) < MAX_REGIONS_LOOKED_AT:
        here = todo.pop(0)
        looked.add(here)
        if here not in deployments:
            if not stack:
                raise RegionsNeedStack(f"regional monitors need --stack (its outputs in {here})")
            deployments[here] = stack_deployment(stack, here)
        dep = deployments[here]
        deployed, foreign = deployed_schedules(client("scheduler", here), dep.group)
        part = plan(_wanted(monitors, here, named, dep), deployed, foreign=foreign, region=here)
        result.changes += part.changes
        result.unchanged += part.unchanged
        result.foreign += part.foreign
        todo += sorted(regions_deployed(deployed) - looked - set(todo))
    return RegionalPlan(result, deployments)
