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
The binary is found in ``devtools.rie_binary``, the log and the runtime processes are read in
``devtools.rie_log``; their names callers use are importable from here as before.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from devtools.rie_binary import EmulatorError as EmulatorError
from devtools.rie_binary import find_rie_binary as find_rie_binary
from devtools.rie_binary import rie_binary_name as rie_binary_name
from devtools.rie_binary import runnable_rie_binary
from devtools.rie_log import LEAK_MARKERS as LEAK_MARKERS
from devtools.rie_log import EmulatorLog, parent_pid

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src"
DEFAULT_HANDLER = "fanout.handler.lambda_handler"
INVOKE_PATH = "/2015-03-31/functions/function/invocations"
LOOPBACK = "127.0.0.1"

_PROXY_VARS = {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}
# urllib without proxies: the emulator is on loopback whatever the environment says.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class InvokeResult(NamedTuple):
    """What one invocation answered (decoded JSON, or the raw text) and how long it took."""

    payload: Any
    wall_s: float


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


class LambdaEmulator(EmulatorLog):
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
        assert self._tmp is not None
        return runnable_rie_binary(Path(self._tmp.name))

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
            if parent_pid(pid) is not None:  # still alive (not a zombie): the emulator did not get it
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
