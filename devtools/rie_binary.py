"""Which Lambda runtime emulator binary to run, and a runnable copy of it.

Apart from running it (``devtools.rie``): where the binary comes from (the ``aws-sam-cli`` wheel,
this machine's architecture, an executable bit the wheel may not keep) is a question of its own.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import platform
import shutil
import stat
from pathlib import Path

_ARCHES = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}


class EmulatorError(RuntimeError):
    """The emulator could not be started, or an invocation could not be delivered."""


def rie_binary_name(machine: str | None = None) -> str:
    arch = _ARCHES.get((machine or platform.machine()).lower())
    if arch is None:
        raise EmulatorError(f"no Lambda runtime emulator for machine type {machine or platform.machine()!r}")
    return f"aws-lambda-rie-{arch}"


def find_rie_binary(machine: str | None = None) -> Path:
    """The emulator binary inside the installed ``samcli`` package."""
    spec = importlib.util.find_spec("samcli")
    if spec is None or not spec.submodule_search_locations:
        raise EmulatorError("aws-sam-cli is not installed (run `make venv`): it carries the emulator")
    name = rie_binary_name(machine)
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "local" / "rapid" / name
        if candidate.is_file():
            return candidate
    raise EmulatorError(
        f"{name} not found under samcli/local/rapid/ in {list(spec.submodule_search_locations)}"
    )


def runnable_rie_binary(scratch: Path) -> Path:
    """The emulator binary, made executable if it is not, else an executable copy in ``scratch``."""
    binary = find_rie_binary()
    if os.access(binary, os.X_OK):
        return binary
    with contextlib.suppress(OSError):
        binary.chmod(binary.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        if os.access(binary, os.X_OK):
            return binary
    copy = scratch / binary.name
    shutil.copyfile(binary, copy)
    copy.chmod(0o755)
    return copy
