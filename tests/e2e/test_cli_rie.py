"""``fanout invoke --function`` against the real Lambda Runtime Interface Emulator: the console
script (a subprocess) calls Lambda's Invoke API with boto3, ``--endpoint-url`` pointing at the
emulator (which serves ``/2015-03-31/functions/function/invocations``), and prints the answer.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from junitparser import Failure, JUnitXml

from devtools.demo_target import DemoTarget
from devtools.rie import ROOT, SRC, LambdaEmulator
from tests.support import CREDENTIALS, E2E_TIMEOUT_S, SLACK_S, EmulatorFactory, unique

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

FANOUT = Path(sys.executable).parent / "fanout"
PROCESS_TIMEOUT_S = 60
STARTUP_S = 3.0  # the console script's own start (imports) on a small shared machine
SLOW = "tests.e2e.slow_handler.handler"


def invoke(
    rie: LambdaEmulator, *args: str, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``fanout invoke ARGS --function function --endpoint-url`` the emulator, with test credentials."""
    assert FANOUT.exists(), f"{FANOUT} is not installed: pip install -e ."
    base = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    aws = CREDENTIALS | {"AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull}
    endpoint = f"http://127.0.0.1:{rie.port}"
    return subprocess.run(
        [str(FANOUT), "invoke", *args, "--function", "function", "--endpoint-url", endpoint],
        input=stdin, capture_output=True, text=True, timeout=PROCESS_TIMEOUT_S, check=False,
        env=base | aws | {"PYTHONDONTWRITEBYTECODE": "1"} | (env or {}),
    )  # fmt: skip


def test_a_direct_invoke_prints_the_functions_document(emulator: LambdaEmulator, target: DemoTarget) -> None:
    urls = [target.url(f"/ok?{unique('cli')}"), target.url("/status/404"), target.url("/ok?second")]
    proc = invoke(emulator, "-", "--retries", "0", "-f", "json", stdin="\n".join(urls))
    assert proc.returncode == 1, proc.stdout + proc.stderr + emulator.log_tail()
    document = json.loads(proc.stdout)
    assert document["source"] == "direct"
    assert [r["url"] for r in document["results"]] == urls
    assert [r["outcome"] for r in document["results"]] == ["ok", "http_error", "ok"]
    assert proc.stderr == ""


def test_junit_from_a_direct_invoke_reads_back_with_a_junit_reader(
    emulator: LambdaEmulator, target: DemoTarget, tmp_path: Path
) -> None:
    urls = [target.url("/ok?j=1"), target.url("/status/503"), target.url("/ok?j=3")]
    (tmp_path / "urls.txt").write_text("\n".join(urls))
    report = tmp_path / "fanout.xml"
    proc = invoke(
        emulator, str(tmp_path / "urls.txt"), "--retries", "0", "--method", "HEAD", "-o", str(report)
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert proc.stdout == ""
    [suite] = list(JUnitXml.fromfile(str(report)))
    assert (suite.tests, suite.failures) == (3, 1)
    cases = list(suite)
    assert [c.name for c in cases] == urls
    assert {c.classname for c in cases} == {"HEAD"}
    [failure] = [r for r in cases[1].result if isinstance(r, Failure)]
    assert failure.type == "http_error"
    assert failure.message == "http_error: HTTP 503"
    assert cases[0].is_passed
    assert cases[2].is_passed


def test_every_url_ok_is_exit_status_0(emulator: LambdaEmulator, target: DemoTarget) -> None:
    urls = [target.url(f"/ok?all={i}") for i in range(5)]
    proc = invoke(emulator, "-", "-f", "csv", stdin=json.dumps(urls))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    assert [(r["url"], r["outcome"], r["status_code"]) for r in rows] == [(u, "ok", "200") for u in urls]


def test_the_functions_deadline_cuts_a_hanging_url(emulator: LambdaEmulator, target: DemoTarget) -> None:
    """The function has E2E_TIMEOUT_S: it answers before it, the hanging fetch cancelled."""
    started = time.monotonic()
    proc = invoke(emulator, "-", "-f", "jsonl", stdin=f"{target.url('/ok?d=1')}\n{target.url('/hang')}\n")
    wall = time.monotonic() - started
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert [json.loads(line)["outcome"] for line in proc.stdout.splitlines()] == ["ok", "cancelled"]
    assert wall < E2E_TIMEOUT_S + STARTUP_S + SLACK_S, f"the invoke took {wall:.2f}s"


class _Sitemap(BaseHTTPRequestHandler):
    body = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("content-type", "application/gzip")
        self.send_header("content-length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def sitemap(target: DemoTarget) -> Iterator[tuple[str, list[str]]]:
    """A gzipped sitemap on 127.0.0.1 listing three demo target pages: its URL, the pages."""
    pages = [target.url(f"/ok?sitemap={i}") for i in range(3)]
    items = "".join(f"<url><loc>{p}</loc></url>" for p in pages)
    xml = f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{items}</urlset>'
    handler = type("Sitemap", (_Sitemap,), {"body": gzip.compress(xml.encode())})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/sitemap.xml.gz", pages
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_a_sitemap_is_read_by_the_function(emulator: LambdaEmulator, sitemap: tuple[str, list[str]]) -> None:
    url, pages = sitemap
    proc = invoke(emulator, "--sitemap", url, "-f", "json")
    assert proc.returncode == 0, proc.stdout + proc.stderr + emulator.log_tail()
    document = json.loads(proc.stdout)
    assert document["targets"] == url
    assert [r["url"] for r in document["results"]] == pages


def test_a_refused_request_is_exit_status_2(emulator: LambdaEmulator) -> None:
    proc = invoke(emulator, "-", "--concurrency", "0", stdin="http://127.0.0.1:1/\n")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "the service answered 422" in proc.stderr
    assert "options.concurrency" in proc.stderr
    assert proc.stdout == ""


def test_no_credentials_is_exit_status_2_and_nothing_is_sent(emulator: LambdaEmulator) -> None:
    before = emulator.log_offset()
    empty = {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""}
    proc = invoke(emulator, "-", stdin="http://127.0.0.1:1/\n", env=empty)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "needs AWS credentials" in proc.stderr
    assert emulator.count("INVOKE START", since=before) == 0
    signed = invoke(emulator, "-", "--retries", "0", stdin="http://127.0.0.1:1/\n")  # the same, signed
    assert signed.returncode == 1, signed.stdout + signed.stderr  # the closed port: failed
    assert emulator.wait_for_log("INVOKE START", since=before), emulator.log_tail()


def test_a_function_that_times_out_is_exit_status_3(new_emulator: EmulatorFactory, tmp_path: Path) -> None:
    rie = new_emulator(handler=SLOW, timeout_s=1, env={"PYTHONPATH": f"{SRC}{os.pathsep}{ROOT}"})
    (tmp_path / "sleep.json").write_text(json.dumps({"sleep_s": 10}))
    proc = invoke(rie, str(tmp_path / "sleep.json"))
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert "timed out" in proc.stderr
