"""``make demo`` as a user runs it: the real emulator, the demo targets, the table it prints."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.support import ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


def test_make_demo_succeeds_and_shows_checks_and_tls() -> None:
    env = os.environ | {"PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run(
        [sys.executable, "-m", "devtools.demo"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    header = next(line for line in lines if line.lstrip().startswith("#  method"))
    assert header.split() == [
        "#", "method", "url", "outcome", "status", "tries", "ms", "total", "ms", "bytes", "cert", "days",
        "why",
    ]  # fmt: skip
    rows = {line.split()[2]: line.split() for line in lines if line[:2].strip().isdigit()}
    assert len(rows) == 12
    assert rows["/health?status=DOWN"][3] == "check_failed"
    assert rows["/health?status=DOWN"][-1] == "json:/status"
    assert rows["/health?delay_ms=400"][3] == "ok"
    assert rows["/health?delay_ms=400"][-1] == "degraded"
    checked = rows["https"]  # the https twin's URL is shown as "https /health"
    assert checked[4] == "ok"
    assert 44 < float(checked[-1]) <= 45
    assert any(
        line.startswith("summary") and "1 check_failed" in line and "1 degraded" in line for line in lines
    )
    assert "0 connection(s) open after the answer" in proc.stdout


def test_make_demo_monitor_shows_one_down_and_one_up_alert() -> None:
    env = os.environ | {"PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run(
        [sys.executable, "-m", "devtools.demo_monitor"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "1 monitor(s) in 1 file(s): valid" in out  # devtools/demo-monitors.yaml, validated
    assert "+ create demo-health (schedule fanout.demo-health)" in out
    assert "Applied 1 of 1 change(s)." in out
    assert '"group": "demo", "tags": {"team": "platform", "env": "local"}' in out  # the schedule's input
    assert "notifications on the topic (2):" in out
    assert out.index(" is DOWN") < out.index(" is UP")
    assert "transitions: none" in out  # the first run: one failure is below the threshold
    assert "events on the bus: [('Monitor status changed', 'down'), ('Monitor status changed', 'up')]" in out
    assert "GET /monitors/demo-health -> 200" in out
