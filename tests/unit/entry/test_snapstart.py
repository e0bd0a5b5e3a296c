"""SnapStart hooks: the whole init before the snapshot, fresh state after restore."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import certifi
from snapshot_restore_py import get_after_restore, get_before_snapshot

ROOT = Path(__file__).resolve().parents[3]


def run_python(code: str) -> dict[str, object]:
    env = dict(os.environ, PYTHONPATH=f"{ROOT / 'src'}{os.pathsep}{ROOT}")
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120, check=True
    ).stdout
    result: dict[str, object] = json.loads(out.strip().splitlines()[-1])
    return result


def test_importing_the_handler_registers_the_hooks_with_the_runtime() -> None:
    from fanout import handler
    from fanout.entry import snapstart

    assert handler.lambda_handler is not None
    assert snapstart.before_snapshot in [entry[0] for entry in get_before_snapshot()]
    assert snapstart.after_restore in [entry[0] for entry in get_after_restore()]


def test_without_snapstart_the_store_is_not_imported_at_init() -> None:
    result = run_python(
        "import json, sys; import fanout.handler; "
        "print(json.dumps({'aioboto3': 'aioboto3' in sys.modules, 'xray': 'aws_xray_sdk' in sys.modules}))"
    )
    assert result == {"aioboto3": False, "xray": False}


def test_before_snapshot_does_the_whole_init_aioboto3_included() -> None:
    result = run_python(
        "import json, sys; import fanout.handler; from fanout.entry.snapstart import before_snapshot; "
        "loaded = before_snapshot(); "
        "print(json.dumps({'loaded': loaded, 'aioboto3': 'aioboto3' in sys.modules}))"
    )
    assert result["aioboto3"] is True
    for lazy in ("fanout.aws.idempotency", "fanout.entry.api", "fanout.runs.monitor", "fanout.runs.targets"):
        assert lazy in result["loaded"]  # type: ignore[operator]


def test_after_restore_reseeds_and_drops_the_shared_tls_context() -> None:
    from fanout.aws.session import tls_context
    from fanout.entry.snapstart import after_restore
    from fanout.fetch.transports.base import verified_ssl_context

    verified_ssl_context()
    aws_context = tls_context(certifi.where())
    random.seed(1234)
    snapshot_value = random.random()
    random.seed(1234)  # every environment restored from one snapshot would be here
    after_restore()
    assert random.random() != snapshot_value
    assert verified_ssl_context.cache_info().currsize == 0
    assert tls_context(certifi.where()) is not aws_context  # made again, not the snapshot's
