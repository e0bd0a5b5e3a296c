"""``fanout run`` as a user runs it: the installed console script (a real subprocess) and
``fanout.cli.main.main`` in-process, against the demo target and sitemaps served on 127.0.0.1.

Loopback is exempted from the egress guard by ``EGRESS_ALLOW_CIDRS`` (tests/conftest.py), which
the subprocesses inherit; the test that blocks it sets it empty for its own process only.
"""

from __future__ import annotations

import csv
import functools
import gzip
import io
import json
import os
import select
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread
from typing import Any

import pytest
from junitparser import Failure, JUnitXml

from devtools.demo_target import DemoTarget
from fanout.cli.main import main
from tests.support import SLACK_S, open_connections_after

FANOUT = Path(sys.executable).parent / "fanout"  # the console script pyproject.toml declares
NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
PROCESS_TIMEOUT_S = 60


def fanout(
    *args: str, env: dict[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """The console script, stdout and stderr pipes (not a terminal)."""
    assert FANOUT.exists(), f"{FANOUT} is not installed: pip install -e ."
    return subprocess.run(
        [str(FANOUT), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=os.environ | {"PYTHONDONTWRITEBYTECODE": "1"} | (env or {}),
        timeout=PROCESS_TIMEOUT_S,
        check=False,
    )


def in_process(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def mixed(fresh_target: DemoTarget, tmp_path: Path) -> Iterator[tuple[str, list[str]]]:
    """A request file (JSON entries): two ok, one HTTP 404; the URLs in order."""
    urls = [fresh_target.url("/ok?n=1"), fresh_target.url("/status/404"), fresh_target.url("/ok?n=3")]
    entries = [urls[0], {"url": urls[1]}, {"url": urls[2], "method": "HEAD"}]
    path = tmp_path / "request.json"
    path.write_text(json.dumps(entries))
    yield str(path), urls
    assert open_connections_after(fresh_target) == 0


EXPECTED = [("GET", "ok", "200"), ("GET", "http_error", "404"), ("HEAD", "ok", "200")]


def _markdown_rows(text: str) -> list[list[str]]:
    lines = [line for line in text.splitlines() if line.startswith("| ")]
    assert lines[0].startswith("| # | method | url | outcome | status |")
    return [[c.strip() for c in line.strip("|").split(" | ")] for line in lines[1:]]


def parsed(fmt: str, text: str) -> list[tuple[str, str, str, str]]:
    """(url, method, outcome, status) per URL, read back from ``text`` in format ``fmt``."""
    if fmt == "json":
        results = json.loads(text)["results"]
        return [(r["url"], "", r["outcome"], str(r["status_code"])) for r in results]
    if fmt == "jsonl":
        results = [json.loads(line) for line in text.splitlines()]
        return [(r["url"], "", r["outcome"], str(r["status_code"])) for r in results]
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(text)))
        assert [r["index"] for r in rows] == ["1", "2", "3"]
        return [(r["url"], r["method"], r["outcome"], r["status_code"]) for r in rows]
    if fmt == "markdown":
        return [(r[2], r[1], r[3], r[4]) for r in _markdown_rows(text)]
    if fmt == "table":
        rows = [line.split() for line in text.splitlines() if line[:1].isdigit()]
        return [(r[2], r[1], r[3], r[4]) for r in rows]
    assert fmt == "junit"
    suites = list(JUnitXml.fromstring(text))
    assert len(suites) == 1
    assert (suites[0].tests, suites[0].failures, suites[0].errors) == (3, 1, 0)
    out = []
    for case in suites[0]:
        failures = [r for r in case.result if isinstance(r, Failure)]
        outcome = failures[0].type if failures else "ok"
        status = "404" if failures and "HTTP 404" in (failures[0].message or "") else "200"
        out.append((case.name, case.classname, outcome, status))
    return out


@pytest.mark.parametrize("fmt", ["json", "jsonl", "csv", "markdown", "table", "junit"])
def test_every_format_reads_back_as_the_run_it_shows(mixed: tuple[str, list[str]], fmt: str) -> None:
    path, urls = mixed
    proc = fanout("run", path, "--format", fmt, "--retries", "0")
    assert proc.returncode == 1, proc.stderr  # one URL is not ok
    assert proc.stderr == ""
    assert "\x1b" not in proc.stdout
    rows = parsed(fmt, proc.stdout)
    assert [r[0] for r in rows] == urls
    assert [(r[2], r[3]) for r in rows] == [(o, s) for _, o, s in EXPECTED]
    if fmt not in ("json", "jsonl"):  # the formats that show the method
        assert [r[1] for r in rows] == [m for m, _, _ in EXPECTED]


def test_the_output_file_takes_its_format_from_its_suffix(
    mixed: tuple[str, list[str]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, urls = mixed
    report = tmp_path / "fanout.xml"
    code, out, _ = in_process(capsys, "run", path, "--output", str(report), "--retries", "0")
    assert (code, out) == (1, "")
    assert [r[0] for r in parsed("junit", report.read_text())] == urls


def test_exit_status_is_0_when_every_url_is_ok_and_stdin_is_read(fresh_target: DemoTarget) -> None:
    urls = [fresh_target.url(f"/ok?s={i}") for i in range(4)]
    stdin = "# a comment\n" + "\n".join(urls) + "\n\n"
    proc = fanout("run", "-", "--format", "json", stdin=stdin)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    document = json.loads(proc.stdout)
    assert document["source"] == "cli"
    assert document["summary"]["ok"] == document["summary"]["total"] == 4
    assert [r["url"] for r in document["results"]] == urls


def test_a_breached_threshold_is_exit_status_1(fresh_target: DemoTarget) -> None:
    proc = fanout("run", "-", "--threshold", "ok_rate=>=1.0", "--threshold", "p95_ms=<0.001",
                  stdin=fresh_target.url("/ok") + "\n")  # fmt: skip
    assert proc.returncode == 1, proc.stdout + proc.stderr
    document = json.loads(proc.stdout)
    assert document["summary"]["ok"] == 1
    assert {t["name"]: t["ok"] for t in document["thresholds"]} == {"ok_rate": True, "p95_ms": False}


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["run", "/nonexistent/urls.txt"], None, "/nonexistent/urls.txt"),
        (["run", "-"], '{"urls": ["http://127.0.0.1:1/"', "not valid JSON"),
        (["run", "-", "--concurrency", "0"], "http://127.0.0.1:1/\n", "options.concurrency"),
        (["run", "-", "--deadline", "0"], "http://127.0.0.1:1/\n", "a duration must be above 0"),
        (["run", "-", "--format", "yaml"], "http://127.0.0.1:1/\n", "'yaml' is not one of"),
        (["run"], None, "give FILE (- for stdin) or --sitemap"),
    ],
    ids=["missing-file", "bad-json", "bad-option", "zero-deadline", "bad-format", "no-input"],
)
def test_bad_input_is_exit_status_2_with_a_message(args: list[str], stdin: str | None, message: str) -> None:
    proc = fanout(*args, stdin=stdin)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""


# -- the deadline ---------------------------------------------------------------------------------


def test_the_deadline_cuts_a_hanging_server_and_the_command_returns_in_time(
    fresh_target: DemoTarget, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    urls = [fresh_target.url("/ok"), fresh_target.url("/hang?a=1"), fresh_target.url("/hang?a=2")]
    (tmp_path / "urls.txt").write_text("\n".join(urls))
    started = time.monotonic()
    code, out, err = in_process(capsys, "run", str(tmp_path / "urls.txt"), "--deadline", "1.5s", "-f", "json")
    wall = time.monotonic() - started
    assert code == 1, err
    assert wall < 1.5 + SLACK_S, f"returned after {wall:.2f}s with a 1.5s deadline"
    document = json.loads(out)
    assert document["deadline_reached"] is True
    assert document["budget_ms"] < 1_500
    assert [r["outcome"] for r in document["results"]] == ["ok", "cancelled", "cancelled"]
    assert open_connections_after(fresh_target) == 0, "the hanging fetches were not closed"


# -- a terminal, and not --------------------------------------------------------------------------


def test_off_a_terminal_there_is_no_progress_bar_and_no_escape_sequence(mixed: tuple[str, list[str]]) -> None:
    path, _ = mixed
    proc = fanout("run", path, "--retries", "0", env={"FORCE_COLOR": "1", "TERM": "xterm-256color"})
    assert proc.returncode == 1
    assert proc.stderr == ""
    assert "\x1b" not in proc.stdout
    assert json.loads(proc.stdout)["summary"]["total"] == 3  # no --format off a terminal: JSON


def _read_all(fd: int, within_s: float) -> bytes:
    """What the other end writes to ``fd`` until it closes it (or ``within_s`` passes)."""
    out = b""
    end = time.monotonic() + within_s
    while time.monotonic() < end:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 65_536)
            except OSError:  # EIO: the process closed the terminal
                return out
            if not chunk:
                return out
            out += chunk
    return out


def test_on_a_terminal_the_progress_bar_shows_counts_outcomes_and_the_deadline(
    fresh_target: DemoTarget, tmp_path: Path
) -> None:
    """stderr is a pseudo-terminal, stdout a pipe: the bar is drawn on stderr, stdout stays JSON."""
    urls = [fresh_target.url("/ok"), fresh_target.url("/status/500"), fresh_target.url("/hang")]
    (tmp_path / "urls.txt").write_text("\n".join(urls))
    primary, secondary = os.openpty()
    env = os.environ | {"PYTHONDONTWRITEBYTECODE": "1", "COLUMNS": "120", "LINES": "40"}
    with subprocess.Popen(
        [str(FANOUT), "run", str(tmp_path / "urls.txt"), "--deadline", "2s", "--retries", "0"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=secondary, env=env,
    ) as proc:  # fmt: skip
        os.close(secondary)
        try:
            bar = _read_all(primary, PROCESS_TIMEOUT_S).decode(errors="replace")
        finally:
            os.close(primary)
        assert proc.stdout is not None
        out = proc.stdout.read().decode()
        assert proc.wait(timeout=PROCESS_TIMEOUT_S) == 1
    assert "\x1b[" in bar, "no terminal control sequence on the terminal"
    assert "fetching" in bar
    assert "3/3" in bar  # done / total
    assert "/ 2.0s" in bar  # elapsed against the deadline
    assert "1 ok" in bar
    assert "1 http_error" in bar
    assert "1 cancelled" in bar  # settled by the run's summary: the deadline cut /hang
    assert [r["outcome"] for r in json.loads(out)["results"]] == ["ok", "http_error", "cancelled"]


# -- sitemaps ------------------------------------------------------------------------------------


class _Files(SimpleHTTPRequestHandler):
    hits: Counter[str] = Counter()

    def do_GET(self) -> None:
        self.hits[self.path] += 1
        super().do_GET()

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[Path, str, Counter[str]]]:
    """``tmp_path/site`` served on 127.0.0.1: the directory, its base URL, the paths requested."""
    root = tmp_path / "site"
    root.mkdir()
    hits: Counter[str] = Counter()
    handler = type("Files", (_Files,), {"hits": hits})
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(root)))
    thread = Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}", hits
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def urlset(locs: list[str]) -> bytes:
    items = "".join(f"<url><loc>{loc}</loc></url>" for loc in locs)
    return f'<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="{NS}">{items}</urlset>'.encode()


def test_a_sitemap_index_of_gzipped_sitemaps_is_run(
    site: tuple[Path, str, Counter[str]], fresh_target: DemoTarget
) -> None:
    root, base, _ = site
    pages = [fresh_target.url(f"/ok?page={i}") for i in range(5)]
    (root / "a.xml.gz").write_bytes(gzip.compress(urlset(pages[:3])))
    (root / "b.xml").write_bytes(urlset(pages[3:]))
    locs = "".join(f"<sitemap><loc>{base}/{name}</loc></sitemap>" for name in ("a.xml.gz", "b.xml"))
    (root / "index.xml").write_text(f'<sitemapindex xmlns="{NS}">{locs}</sitemapindex>')
    proc = fanout("run", "--sitemap", f"{base}/index.xml", "--method", "HEAD", "-f", "csv")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    assert [r["url"] for r in rows] == pages
    assert {(r["method"], r["outcome"]) for r in rows} == {("HEAD", "ok")}


def test_a_sitemap_file_and_a_request_with_a_sitemap_target(
    site: tuple[Path, str, Counter[str]], fresh_target: DemoTarget, tmp_path: Path
) -> None:
    root, base, _ = site
    pages = [fresh_target.url("/ok?f=1"), fresh_target.url("/status/404")]
    (root / "pages.xml").write_bytes(urlset(pages))
    from_file = fanout("run", "--sitemap", str(root / "pages.xml"), "-f", "json", "--retries", "0")
    assert from_file.returncode == 1, from_file.stderr
    assert [r["outcome"] for r in json.loads(from_file.stdout)["results"]] == ["ok", "http_error"]
    request = {"targets": {"sitemap": f"{base}/pages.xml"}, "options": {"retries": 0}}
    from_target = fanout("run", "-", "-f", "json", stdin=json.dumps(request))
    assert from_target.returncode == 1, from_target.stderr
    document = json.loads(from_target.stdout)
    assert document["targets"] == f"{base}/pages.xml"
    assert [r["url"] for r in document["results"]] == pages


def test_a_sitemap_on_a_blocked_address_is_refused_unfetched(
    site: tuple[Path, str, Counter[str]], fresh_target: DemoTarget
) -> None:
    root, base, hits = site
    (root / "pages.xml").write_bytes(urlset([fresh_target.url("/ok")]))
    proc = fanout("run", "--sitemap", f"{base}/pages.xml", env={"EGRESS_ALLOW_CIDRS": ""})
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "refused by the egress guard (address_blocked:loopback)" in proc.stderr
    assert proc.stdout == ""
    assert hits["/pages.xml"] == 0
    assert int(fresh_target.stats()["requests"]) == 0


def test_allow_exempts_a_network_from_the_egress_guard_for_one_run(
    fresh_target: DemoTarget,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from fanout.config import configure

    urls = tmp_path / "urls.txt"
    urls.write_text(fresh_target.url("/ok") + "\n")
    monkeypatch.setenv("EGRESS_ALLOW_CIDRS", "")  # loopback guarded, as on Lambda
    configure(None)
    try:
        code, out, _ = in_process(capsys, "run", str(urls), "-f", "json", "--retries", "0")
        assert code == 1
        assert json.loads(out)["results"][0]["outcome"] == "blocked"
        code, out, _ = in_process(capsys, "run", str(urls), "-f", "json", "--allow", "127.0.0.0/8")
        assert code == 0, out
        assert json.loads(out)["results"][0]["outcome"] == "ok"
        code, _, err = in_process(capsys, "run", str(urls), "--allow", "127.0.0.1/8")
        assert code == 2
        assert "--allow" in err
        assert "not a valid CIDR" in err
    finally:
        monkeypatch.undo()
        configure(None)
    assert "--allow CIDR" in fanout("run", "--help", env={"PYTHONPATH": os.pathsep.join(sys.path)}).stdout
