"""``make deploy-regions`` (scripts/deploy-regions.sh): its dry run prints the home region's
deploy first, then each probe region's pointed at the home region's queue; bad input exits 2."""

from __future__ import annotations

import shlex
import subprocess

from tests.support import ROOT

SCRIPT = ROOT / "scripts" / "deploy-regions.sh"


def dry_run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), "--dry-run", *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env={"PATH": "/usr/bin:/bin", "SAM": "sam"},
    )


def test_the_home_region_first_then_each_probe_region_with_its_queue() -> None:
    result = dry_run("--home", "us-east-1", "--probes", "eu-west-1 ap-southeast-2", "--stack", "shop")
    assert result.returncode == 0, result.stderr
    commands = [shlex.split(line) for line in result.stdout.splitlines()]
    assert [c[:6] for c in commands] == [
        ["sam", "deploy", "--stack-name", "shop", "--region", region]
        for region in ("us-east-1", "eu-west-1", "ap-southeast-2")
    ]
    overrides = [c[c.index("--parameter-overrides") + 1 :] for c in commands]
    queue = "HomeReportsQueueArn=<RegionReportsQueueArn of shop in us-east-1>"
    assert overrides == [
        ["HomeRegion=us-east-1"],
        ["HomeRegion=us-east-1", queue],
        ["HomeRegion=us-east-1", queue],
    ]


def test_extra_sam_arguments_go_to_every_deploy() -> None:
    result = dry_run("--home", "us-east-1", "--probes", "eu-west-1", "--", "--profile", "prod")
    assert result.returncode == 0, result.stderr
    assert all(line.endswith("--profile prod") for line in result.stdout.splitlines())


def test_bad_regions_are_refused_before_any_deploy() -> None:
    for args in (
        ("--home", "", "--probes", "eu-west-1"),
        ("--home", "us-east-1", "--probes", "Europe"),
        ("--home", "us-east-1", "--probes", "us-east-1"),
        ("--home", "us-east-1", "--stack", "no spaces"),
    ):
        result = dry_run(*args)
        assert result.returncode == 2, args
        assert result.stdout == ""
        assert result.stderr.startswith("deploy-regions: ")
