"""The emulator harness itself: it really enforces the Lambda timeout, and it cleans up after itself.

These make the other e2e assertions meaningful: "answered within the Lambda timeout" can fail,
because an overrunning function is cut off by the emulator and reported as such.
"""

from __future__ import annotations

import os
import socket
import time

import pytest

from devtools import rie as rie_module
from devtools.rie import ROOT, SRC, LambdaEmulator, find_rie_binary, function_error
from tests.support import EmulatorFactory

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

SLOW = "tests.e2e.slow_handler.handler"


def test_the_emulator_binary_is_found_and_executable() -> None:
    binary = find_rie_binary()
    assert binary.name.startswith("aws-lambda-rie-")
    assert binary.is_file()


def test_the_emulator_enforces_the_lambda_timeout(new_emulator: EmulatorFactory) -> None:
    rie = new_emulator(handler=SLOW, timeout_s=1, env={"PYTHONPATH": f"{SRC}{os.pathsep}{ROOT}"})

    quick, _ = rie.invoke({"sleep_s": 0})
    assert function_error(quick) is None, rie.log_tail()
    pid = quick["pid"]
    assert quick["remaining_ms"] <= 1000

    payload, wall_s = rie.invoke({"sleep_s": 10})
    assert isinstance(function_error(payload), str)
    assert "Task timed out" in payload
    assert wall_s < 5, "the emulator cut the function off at its timeout"
    assert rie.wait_for_log("Reset initiated: Timeout"), rie.log_tail()

    again, _ = rie.invoke({"sleep_s": 0})
    assert function_error(again) is None, rie.log_tail()
    assert again["pid"] != pid, "after a timeout the emulator starts a fresh runtime"
    assert rie.init_count() == 2


def test_stop_ends_the_emulator_and_the_runtime() -> None:
    rie = LambdaEmulator(handler=SLOW, timeout_s=2, env={"PYTHONPATH": f"{SRC}{os.pathsep}{ROOT}"})
    with rie:
        payload, _ = rie.invoke({"sleep_s": 0})
        runtime = rie.runtime_pids()
        emulator_pid = rie.pid
        port = rie.port
    assert runtime == [payload["pid"]]
    assert emulator_pid is not None
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _alive(payload["pid"]):
        time.sleep(0.05)
    assert not _alive(payload["pid"]), "the runtime process survived stop()"
    assert not _alive(emulator_pid), "the emulator survived stop()"
    assert "INIT START" in rie.log_text(), "the log stays readable after stop()"
    assert port > 0


def _alive(pid: int) -> bool:
    """A live process (a zombie waiting for its reaper counts as ended)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_a_port_taken_before_the_emulator_binds_it_is_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        ports = iter([busy.getsockname()[1], rie_module.free_port()])
        real_free_port = rie_module.free_port
        monkeypatch.setattr(rie_module, "free_port", lambda: next(ports, None) or real_free_port())
        with LambdaEmulator(handler=SLOW, timeout_s=2, env={"PYTHONPATH": f"{SRC}{os.pathsep}{ROOT}"}) as rie:
            assert rie.port != busy.getsockname()[1]
            payload, _ = rie.invoke({"sleep_s": 0})
            assert function_error(payload) is None, rie.log_tail()
            assert rie.count("address already in use") == 1
