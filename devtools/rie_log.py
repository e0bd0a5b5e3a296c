"""The emulator's log and its runtime processes, read: what tests assert on after a run.

Apart from starting, stopping and invoking the emulator (``devtools.rie``, whose ``LambdaEmulator``
takes these methods from ``EmulatorLog``): reading what a run left behind is a job of its own.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

from devtools.rie_binary import EmulatorError

# Lines that mean a run leaked something (tasks, sessions, sockets) or crashed.
LEAK_MARKERS: tuple[str, ...] = (
    "Task was destroyed but it is pending",
    "Task exception was never retrieved",
    "Unclosed client",
    "Unclosed connection",
    "Unclosed connector",
    "unclosed transport",
    "unclosed <socket",
    "Event loop is closed",
    "ResourceWarning",
    "Traceback",
    "tasks alive after the run",
)


def parent_pid(pid: int) -> int | None:
    """The parent of live process ``pid`` (from /proc), or None if it is gone or a zombie."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw.rsplit(")", 1)[-1].split()
    return int(fields[1]) if len(fields) > 1 and fields[0] != "Z" else None


class EmulatorLog:
    """The log (``_log_path``, or ``_final_log`` once stopped) and the runtime processes of ``_proc``."""

    _log_path: Path | None
    _final_log: str | None
    _proc: subprocess.Popen[bytes] | None

    def _read_log(self) -> str:
        if self._log_path is None:
            return ""
        try:
            return self._log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def log_text(self, since: int = 0) -> str:
        """Everything the emulator and the function printed (from character ``since``)."""
        text = self._final_log if self._final_log is not None else self._read_log()
        return text[since:]

    def log_offset(self) -> int:
        """The log's current length: pass it to ``log_text(since=...)`` to read what follows."""
        return len(self.log_text())

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def count(self, needle: str, since: int = 0) -> int:
        return self.log_text(since).count(needle)

    def init_count(self) -> int:
        """How many times a runtime process was initialised (cold starts, restarts after a timeout)."""
        return self.count("INIT START")

    def leak_lines(self, since: int = 0) -> list[str]:
        """Log lines that show a leak or a crash (see ``LEAK_MARKERS``)."""
        return [line for line in self.log_text(since).splitlines() if any(m in line for m in LEAK_MARKERS)]

    def wait_for_log(self, pattern: str, *, count: int = 1, since: int = 0, timeout_s: float = 5.0) -> bool:
        """Wait until ``pattern`` (a regular expression) occurs ``count`` times in the log."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout_s
        while True:
            if len(regex.findall(self.log_text(since))) >= count:
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)

    def runtime_threads(self) -> int:
        """Threads of the runtime process (``/proc/<pid>/task``): the handler must leave none behind."""
        pids = self.runtime_pids()
        if len(pids) != 1:
            raise EmulatorError(f"expected one runtime process, found {pids}")
        return len(os.listdir(f"/proc/{pids[0]}/task"))

    def runtime_pids(self) -> list[int]:
        """Live child processes of the emulator: the ``awslambdaric`` runtime (Linux /proc only)."""
        if self._proc is None or not Path("/proc").is_dir():
            return []
        parent = self._proc.pid
        pids = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and parent_pid(int(entry.name)) == parent:
                pids.append(int(entry.name))
        return sorted(pids)
