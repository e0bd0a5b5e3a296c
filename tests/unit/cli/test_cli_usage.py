"""Bad input ends with exit status 2 and a readable, typed message: never a traceback, and
nothing fetched (``click.testing.CliRunner``, in-process; no test here reaches a network)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from fanout.cli.main import cli, main
from fanout.config import get_settings

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>https://e.com/&lol2;</loc></url></urlset>"""


def fanout(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), input=stdin, catch_exceptions=False)


def file(tmp_path: Path, name: str, content: str | bytes) -> str:
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return str(path)


def refused(result: Result, *expected: str) -> str:
    """The result of a refused command: status 2, every expected text in its message."""
    text = result.output  # stdout and stderr together
    assert result.exit_code == 2, text
    assert "Traceback" not in text
    for part in expected:
        assert part in text, text
    return text


def test_run_needs_a_file_or_a_sitemap() -> None:
    refused(fanout("run"), "give FILE (- for stdin) or --sitemap")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"urls": ["http://127.0.0.1:1/"', "the request starts like a JSON object but is not valid JSON"),
        ("[1, 2", "the list starts like JSON but is not valid JSON"),
        ("# only a comment\n\n", "the list is empty"),
        (b"\xff\xfe\x00", "the list is not UTF-8 text"),
        ('{"urls": []}', "urls: List should have at least 1 item"),
        (
            '{"urls": ["http://127.0.0.1:1/"], "options": {"retries": "2"}}',
            "options.retries: Input should be a valid integer",
        ),
        ('{"urls": ["http://127.0.0.1:1/"], "optoins": {}}', "optoins: Extra inputs are not permitted"),
        ('{"urls": [{"url": "http://127.0.0.1:1/", "method": "FETCH"}]}', "urls.0.method"),
        ('{"targets": "s3://bucket/key.txt"}', "an S3 target list needs the service's stores"),
        ('{"targets": "ftp://nowhere"}', "targets: String should match pattern"),
        (
            '{"urls": ["http://127.0.0.1:1/"], "monitor": {"name": "m"}}',
            "a monitor needs the service's stores",
        ),
        ('{"urls": ["http://127.0.0.1:1/"], "mode": "sharded"}', "a sharded run needs the service's stores"),
        (
            '{"urls": ["http://127.0.0.1:1/"], "options": {"shard_size": 500}}',
            "sharding (a shard size) needs the service's stores",
        ),
    ],
    ids=[
        "bad-json-object",
        "bad-json-list",
        "empty",
        "not-utf8",
        "no-urls",
        "strict-types",
        "unknown-field",
        "bad-method",
        "s3-targets",
        "bad-targets",
        "monitor",
        "sharded",
        "shard-size",
    ],
)
def test_a_bad_request_file_is_the_services_error(
    tmp_path: Path, content: str | bytes, expected: str
) -> None:
    refused(fanout("run", file(tmp_path, "request", content)), expected)


def test_command_line_options_are_validated_as_the_services(tmp_path: Path) -> None:
    urls = file(tmp_path, "urls.txt", "http://127.0.0.1:1/\n")
    text = refused(
        fanout("run", urls, "--concurrency", "0", "--expect-status", "700"), "2 problem(s) in the request"
    )
    assert "options.concurrency: Input should be greater than or equal to 1" in text
    assert "options.expect.status" in text
    refused(
        fanout("run", urls, "--concurrency", "100000"),
        "options.concurrency: Input should be less than or equal to 1000",
    )


def test_a_shard_size_on_the_command_line_is_refused_not_ignored(tmp_path: Path) -> None:
    urls = file(tmp_path, "urls.txt", "http://127.0.0.1:1/\n")
    refusal = "sharding (a shard size) needs the service's stores"
    text = refused(fanout("run", urls, "--shard-size", "500"), refusal)
    assert "options.shard_size" in text


def test_too_many_urls_are_refused_before_anything_runs(tmp_path: Path) -> None:
    limit = get_settings().max_urls
    urls = file(tmp_path, "urls.txt", "http://127.0.0.1:1/\n" * (limit + 1))
    refused(fanout("run", urls), f"the list has {limit + 1} entries; at most {limit} are allowed")


def test_a_missing_file_is_named() -> None:
    refused(
        fanout("run", "/nonexistent/urls.txt"),
        "/nonexistent/urls.txt: cannot be read (No such file or directory)",
    )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--deadline", "20m"], "at most 900s"),
        (["--deadline", "soon"], "'soon' is not a duration"),
        (["--format", "yaml"], "'yaml' is not one of"),
        (["--threshold", "p95"], "METRIC=CONDITION"),
        (["--sitemap", "https://e.com/sitemap.xml"], "--sitemap gives the URLs"),
    ],
)
def test_usage_errors_are_status_2(tmp_path: Path, args: list[str], expected: str) -> None:
    refused(fanout("run", file(tmp_path, "urls.txt", "http://127.0.0.1:1/\n"), *args), expected)


def test_a_hostile_local_sitemap_is_refused(tmp_path: Path) -> None:
    refused(fanout("run", "--sitemap", file(tmp_path, "bomb.xml", BILLION_LAUGHS)), "DTDForbidden")
    refused(fanout("run", "--sitemap", file(tmp_path, "broken.xml", "<urlset>")), "not well-formed XML")


def test_stdin_is_dash() -> None:
    refused(fanout("run", "-", stdin="[1, 2"), "stdin: the list starts like JSON but is not valid JSON")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], "give --function NAME or --api URL"),
        (["--function", "f", "--watch"], "--watch follows the run with GET /runs/{id}: give --api URL"),
        (["--api", "http://127.0.0.1:1", "--auth", "jwt"], "--auth jwt needs --token"),
        (["--api", "http://127.0.0.1:1", "--sitemap", "https://e.com/s.xml"], "the HTTP API takes urls only"),
    ],
)
def test_invoke_usage(tmp_path: Path, args: list[str], expected: str) -> None:
    refused(fanout("invoke", file(tmp_path, "urls.txt", "http://127.0.0.1:1/\n"), *args), expected)


def test_an_api_that_does_not_answer_is_status_3(tmp_path: Path) -> None:
    result = fanout("runs", "list", "--api", "http://127.0.0.1:1", "--auth", "none")
    assert result.exit_code == 3, result.output
    assert "error: GET http://127.0.0.1:1/runs: no answer (ConnectError" in result.output


def test_main_returns_the_status_and_maps_usage_errors_to_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run"]) == 2
    assert main(["--help"]) == 0
    assert "run" in capsys.readouterr().out
    assert main(["nosuchverb"]) == 2
    assert main(["run", "/nonexistent/urls.txt"]) == 2
    assert "cannot be read" in capsys.readouterr().err


def test_every_verb_has_help() -> None:
    for verb in (["run"], ["invoke"], ["runs", "show"], ["runs", "list"]):
        result = fanout(*verb, "--help")
        assert result.exit_code == 0
        assert f"Usage: cli {' '.join(verb)}" in result.output
