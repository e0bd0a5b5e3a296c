"""Run the function in the real AWS Lambda Runtime Interface Emulator (RIE), locally.

The RIE binary ships inside the ``aws-sam-cli`` wheel (``samcli/local/rapid/aws-lambda-rie-<arch>``);
``awslambdaric`` is the runtime interface client the Lambda Python base image uses. Together they run
a handler exactly as Lambda does: the emulator enforces ``AWS_LAMBDA_FUNCTION_TIMEOUT`` (it kills the
runtime and starts a fresh one after a timeout), hands the function a real context (remaining time)
and keeps the runtime process warm between invocations. No Docker, no AWS account, no network beyond
127.0.0.1::

    with LambdaEmulator(timeout_s=6) as rie:
        payload, wall_s = rie.invoke({"urls": ["http://127.0.0.1:8321/ok"]})
        print(rie.init_count(), rie.leak_lines())

Everything the emulator and the function print (RIE's ``INIT START`` / ``INVOKE START`` / ``REPORT``
lines, the function's logs, Python tracebacks) goes to one log file, readable with ``log_text()``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import platform
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src"
DEFAULT_HANDLER = "fanout.handler.lambda_handler"
INVOKE_PATH = "/2015-03-31/functions/function/invocations"
LOOPBACK = "127.0.0.1"

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

_ARCHES = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}
_PROXY_VARS = {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}
# urllib without proxies: the emulator is on loopback whatever the environment says.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class EmulatorError(RuntimeError):
    """The emulator could not be started, or an invocation could not be delivered."""


class InvokeResult(NamedTuple):
    """What one invocation answered (decoded JSON, or the raw text) and how long it took."""

    payload: Any
    wall_s: float


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


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def function_error(payload: Any) -> str | None:
    """Why an answer is a Lambda-level failure (timeout, unhandled exception), or None."""
    if isinstance(payload, str):
        return payload.strip() or "empty answer"
    if isinstance(payload, dict) and "errorType" in payload and "errorMessage" in payload:
        return f"{payload['errorType']}: {payload['errorMessage']}"
    return None


def _parent_pid(pid: int) -> int | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw.rsplit(")", 1)[-1].split()
    return int(fields[1]) if len(fields) > 1 and fields[0] != "Z" else None


class LambdaEmulator:
    """The RIE running ``handler`` with ``python -m awslambdaric``, on 127.0.0.1 only.

    ``env`` is added to (and overrides) the Lambda-like environment the function gets. The log
    goes to ``log_path`` when given (kept), otherwise to a temporary file removed by ``stop()``
    (its text stays readable through ``log_text()``).
    """

    def __init__(
        self,
        handler: str = DEFAULT_HANDLER,
        *,
        timeout_s: int = 6,
        memory_mb: int = 512,
        function_name: str = "fanout",
        env: Mapping[str, str] | None = None,
        python: str | None = None,
        log_path: str | os.PathLike[str] | None = None,
        start_timeout_s: float = 20.0,
    ) -> None:
        if int(timeout_s) != timeout_s or timeout_s < 1:
            raise ValueError("timeout_s is a whole number of seconds (AWS_LAMBDA_FUNCTION_TIMEOUT)")
        self.handler = handler
        self.timeout_s = int(timeout_s)
        self.memory_mb = memory_mb
        self.function_name = function_name
        self.extra_env = dict(env or {})
        self.python = python or sys.executable
        self.start_timeout_s = start_timeout_s
        self.port = 0
        self.runtime_api_port = 0
        self._log_path_arg = Path(log_path) if log_path is not None else None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._log_path: Path | None = None
        self._final_log: str | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}{INVOKE_PATH}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def environment(self) -> dict[str, str]:
        """The environment the emulator and the function run with."""
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("AWS_", "_X_AMZN", "_LAMBDA", "LAMBDA_"))
            and k.lower() not in _PROXY_VARS
            and k != "PYTHONPATH"
        }
        env.update(
            {
                "AWS_LAMBDA_FUNCTION_TIMEOUT": str(self.timeout_s),
                "AWS_LAMBDA_FUNCTION_NAME": self.function_name,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.memory_mb),
                "AWS_REGION": "us-east-1",
                "AWS_DEFAULT_REGION": "us-east-1",
                "LAMBDA_TASK_ROOT": str(SRC),
                "PYTHONPATH": str(SRC),
                "PYTHONUNBUFFERED": "1",
                "EGRESS_ALLOW_CIDRS": "127.0.0.0/8,::1/128",
                "POWERTOOLS_METRICS_NAMESPACE": "fanout",
                "POWERTOOLS_SERVICE_NAME": "fanout",
            }
        )
        env.update(self.extra_env)
        return env

    def _executable(self) -> Path:
        binary = find_rie_binary()
        if os.access(binary, os.X_OK):
            return binary
        with contextlib.suppress(OSError):
            binary.chmod(binary.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
            if os.access(binary, os.X_OK):
                return binary
        assert self._tmp is not None
        copy = Path(self._tmp.name) / binary.name
        shutil.copyfile(binary, copy)
        copy.chmod(0o755)
        return copy

    def start(self) -> LambdaEmulator:
        if self._proc is not None:
            raise EmulatorError("the emulator is already running")
        self._tmp = tempfile.TemporaryDirectory(prefix="fanout-rie-")
        self._log_path = self._log_path_arg or Path(self._tmp.name) / "rie.log"
        self._final_log = None
        try:
            binary = self._executable()
            for attempt in range(3):
                if self._launch(binary):
                    return self
                # Another process took a port between free_port() and the emulator's bind: retry.
                if attempt == 2:
                    raise EmulatorError(f"the emulator could not bind its ports\n{self.log_tail()}")
        except BaseException:
            self.stop()
            raise
        return self  # pragma: no cover

    def _launch(self, binary: Path) -> bool:
        """Start the emulator; False if it lost a race for its ports (then it is stopped)."""
        assert self._log_path is not None
        self.port, self.runtime_api_port = free_port(), free_port()
        while self.runtime_api_port == self.port:
            self.runtime_api_port = free_port()
        command = [
            str(binary),
            "--runtime-interface-emulator-address",
            f"{LOOPBACK}:{self.port}",
            "--runtime-api-address",
            f"{LOOPBACK}:{self.runtime_api_port}",
            self.python,
            "-m",
            "awslambdaric",
            self.handler,
        ]
        log_start = self.log_offset()
        with self._log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.environment(),
                cwd=str(SRC),  # Lambda runs the runtime in the code directory (CodeUri: src/)
                start_new_session=True,
            )
        deadline = time.monotonic() + self.start_timeout_s
        while True:
            if self._proc.poll() is not None:
                if "address already in use" in self.log_text(since=log_start):
                    self._terminate()
                    return False
                raise EmulatorError(
                    f"the emulator exited with status {self._proc.returncode}\n{self.log_tail()}"
                )
            if self._answers_like_rie():
                time.sleep(0.05)  # a port collision makes the emulator exit at once: make sure it did not
                if self._proc.poll() is None:
                    return True
                continue
            if time.monotonic() > deadline:
                raise EmulatorError(
                    f"the emulator did not answer within {self.start_timeout_s}s\n{self.log_tail()}"
                )
            time.sleep(0.05)

    def _answers_like_rie(self) -> bool:
        """The emulator's HTTP server is up: Go's ``404 page not found`` on ``/``."""
        try:
            with _OPENER.open(f"http://{LOOPBACK}:{self.port}/", timeout=2) as response:
                response.read()
            return False
        except urllib.error.HTTPError as exc:
            with exc:
                body = exc.read()
            return exc.code == 404 and body.startswith(b"404 page not found")
        except (urllib.error.URLError, OSError):
            return False

    def _terminate(self) -> None:
        proc = self._proc
        if proc is None:
            return
        runtimes = self.runtime_pids()
        if proc.poll() is None:
            # SIGTERM: the emulator shuts down and SIGKILLs the runtime (its own process group).
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        for pid in runtimes:
            if _parent_pid(pid) is not None:  # still alive (not a zombie): the emulator did not get it
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        self._proc = None

    def stop(self) -> None:
        """Stop the emulator and the runtime; remove the temporary log (its text is kept)."""
        try:
            self._terminate()
        finally:
            if self._final_log is None and self._log_path is not None:
                self._final_log = self._read_log()
            if self._tmp is not None:
                self._tmp.cleanup()
                self._tmp = None

    def __enter__(self) -> LambdaEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- invoking --------------------------------------------------------------------------

    def invoke(self, event: Any, *, http_timeout_s: float | None = None) -> InvokeResult:
        """POST ``event`` as JSON; the answer decoded as JSON (or the raw text) and the wall time."""
        return self.invoke_raw(json.dumps(event).encode(), http_timeout_s=http_timeout_s)

    def invoke_raw(self, body: bytes, *, http_timeout_s: float | None = None) -> InvokeResult:
        if self._proc is None or self._proc.poll() is not None:
            raise EmulatorError(f"the emulator is not running\n{self.log_tail()}")
        # The emulator enforces the function timeout; allow for a cold start on a busy machine.
        timeout = http_timeout_s if http_timeout_s is not None else self.timeout_s + 30
        request = urllib.request.Request(
            self.url, data=body, method="POST", headers={"Content-Type": "application/json"}
        )
        started = time.monotonic()
        try:
            with _OPENER.open(request, timeout=timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            with exc:
                detail = exc.read().decode("utf-8", "replace")
            raise EmulatorError(f"the emulator answered HTTP {exc.code}: {detail}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise EmulatorError(f"invocation failed: {exc}\n{self.log_tail()}") from exc
        wall_s = time.monotonic() - started
        text = raw.decode("utf-8", "replace")
        try:
            payload: Any = json.loads(text)
        except json.JSONDecodeError:
            payload = text
        return InvokeResult(payload, wall_s)

    # -- the log and the processes ---------------------------------------------------------

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
            if entry.name.isdigit() and _parent_pid(int(entry.name)) == parent:
                pids.append(int(entry.name))
        return sorted(pids)
