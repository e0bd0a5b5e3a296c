"""``make demo`` / ``make invoke EVENT=events/<file>.json``: one invocation through the real Lambda emulator.

Starts the demo target on http://127.0.0.1:8321 and its https twin on https://127.0.0.1:8322 (a
certificate from a private CA made with ``trustme``, expiring in 45 days, trusted through
``FANOUT_CA_BUNDLE``; other free ports if those are taken: the event's URLs are rewritten to
match), runs ``fanout.handler.lambda_handler`` in the Lambda Runtime Interface Emulator with a
short Lambda timeout (so the deadline is visible), invokes it with the event and prints the
results as a table (outcome, failed checks or error, the last attempt's total time, the
certificate's days to expiry), the summary, the budget, the time taken against the Lambda timeout
and how many connections the demo targets still have open after the answer (0: nothing was left
behind).

``make demo STORE=moto`` (``--store moto``) runs it with moto as an embedded AWS
(``devtools.local_aws``): the run writes its report and record there, and the demo
prints where they went.

Exits non-zero when the invocation fails (Lambda timeout, unhandled error), answers with an error
document, or leaves a connection open. Needs no AWS account and no network beyond 127.0.0.1.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import json
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from devtools.demo_checks import DemoTls
from devtools.demo_target import DemoTarget
from devtools.events import DEMO_BASE_URL, DEMO_TLS_BASE_URL, event_path, load_event
from devtools.rie import DEFAULT_HANDLER, EmulatorError, LambdaEmulator, function_error
from fanout.cli.rows import methods_of
from fanout.cli.table import render_document as render_results

DEFAULT_EVENT = "events/direct.json"
DEFAULT_TIMEOUT_S = 6
DEMO_PORT = int(urlsplit(DEMO_BASE_URL).port or 8321)
DEMO_TLS_PORT = int(urlsplit(DEMO_TLS_BASE_URL).port or 8322)
DEMO_CERT_DAYS = 45
CLOSE_WAIT_S = 3.0
URL_WIDTH = 40
NOTE_WIDTH = 34


def start_target(port: int, tls: DemoTls | None = None) -> tuple[DemoTarget, str | None]:
    """The demo target on ``port`` (https with ``tls``), or on a free port (with a note saying so)
    if it is taken."""
    context = None if tls is None else tls.server_context(expires_in_days=DEMO_CERT_DAYS)
    target = DemoTarget(port=port, ssl_context=context)
    try:
        return target.start(), None
    except OSError as exc:
        target.stop()
        fallback = DemoTarget(port=0, ssl_context=context).start()
        note = f"port {port} is busy ({exc.strerror}); the demo target listens on {fallback.port} instead"
        return fallback, note


def request_of(event: Any) -> dict[str, Any] | None:
    """The fan-out request an event carries (direct, API body, schedule detail), if it is readable."""
    if not isinstance(event, dict):
        return None
    if isinstance(event.get("body"), str):
        try:
            body = json.loads(event["body"])
        except json.JSONDecodeError:
            return None
        return body if isinstance(body, dict) else None
    detail = event.get("detail")
    if isinstance(detail, dict):
        return detail
    return event


def _display_url(url: str, base_urls: Sequence[str]) -> str:
    """A demo target's URL by its path (``https:`` before it for the https twin)."""
    for n, base in enumerate(base_urls):
        if url.startswith(base):
            path = url[len(base) :] or "/"
            return path if n == 0 else f"https {path}"
    return url


def render_document(
    document: dict[str, Any], request: dict[str, Any] | None, base_urls: Sequence[str]
) -> str:
    """The result document as the command line's table (``fanout.cli.table``) plus its summary
    lines. ``ms``: the URL's whole time, retries included; ``total ms``: its last attempt (with an
    ``expect``); ``cert days``: days to expiry."""
    table = render_results(
        document,
        methods_of(request or {}),
        show_url=lambda url: _display_url(url, base_urls),
        url_width=URL_WIDTH,
        why_width=NOTE_WIDTH,
        color=sys.stdout.isatty(),
    )
    return f"urls on {' and '.join(base_urls)}\n" + table.rstrip("\n")


def render_problem(problem: dict[str, Any]) -> str:
    """An error document's ``error`` (or an RFC 9457 problem body) as a few readable lines."""
    kind = problem.get("type")
    lines = [f"error     {problem.get('title', '')} ({kind})", f"          {problem.get('detail', '')}"]
    for item in problem.get("errors") or []:
        if isinstance(item, dict):
            lines.append(f"          - {item.get('loc') or '(request)'}: {item.get('msg')}")
    return "\n".join(lines)


def decode_body(response: dict[str, Any]) -> Any:
    body = response.get("body")
    if not isinstance(body, str):
        return body
    if response.get("isBase64Encoded"):
        try:
            body = base64.b64decode(body).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            return body
    try:
        return json.loads(body)
    except json.JSONDecodeError:
        return body


def render_answer(payload: Any, request: dict[str, Any] | None, base_urls: Sequence[str]) -> tuple[str, bool]:
    """A readable rendering of whatever the function answered, and whether it is a success."""
    failure = function_error(payload)
    if failure is not None:
        return f"the invocation failed: {failure}", False
    if isinstance(payload, dict) and "statusCode" in payload:
        status = payload.get("statusCode")
        headers = {str(k).lower(): v for k, v in (payload.get("headers") or {}).items()}
        body = decode_body(payload)
        lines = [f"HTTP {status}  {headers.get('content-type', '')}".rstrip()]
        if isinstance(body, dict) and "results" in body:
            lines += ["", render_document(body, request, base_urls)]
        elif isinstance(body, dict) and "title" in body:
            lines.append(render_problem(body))
        else:
            lines.append(json.dumps(body, indent=2) if not isinstance(body, str) else body)
        return "\n".join(lines), isinstance(status, int) and status < 400
    if isinstance(payload, dict) and "results" in payload:
        return render_document(payload, request, base_urls), True
    if isinstance(payload, dict) and isinstance(payload.get("error"), dict):
        return render_problem(payload["error"]), False
    return json.dumps(payload, indent=2), True


def init_duration_s(log: str) -> float | None:
    match = re.search(r"INIT REPORT\(durationMs: ([\d.]+)\)", log)
    return float(match.group(1)) / 1000 if match else None


def run(
    event_name: str,
    *,
    timeout_s: int,
    port: int,
    tls_port: int = DEMO_TLS_PORT,
    show_log: bool,
    raw: bool,
    store: str = "off",
) -> int:
    path = event_path(event_name)
    if not path.is_file():
        print(f"no such event file: {event_name}", file=sys.stderr)
        return 2
    with contextlib.ExitStack() as stack:
        tls = DemoTls()
        stack.callback(tls.close)
        targets = []
        for listen_on, context in ((port, None), (tls_port, tls)):
            target, note = start_target(listen_on, context)
            stack.callback(target.stop)
            targets.append(target)
            if note:
                print(note)
        aws = None
        if store == "moto":
            from devtools.local_aws import LocalAws

            aws = stack.enter_context(LocalAws())
        env = (aws.function_env() if aws else {}) | {"FANOUT_CA_BUNDLE": str(tls.ca_file)}
        rie = stack.enter_context(LambdaEmulator(DEFAULT_HANDLER, timeout_s=timeout_s, env=env))
        return _invoke_and_show(path, rie, targets, aws, show_log=show_log, raw=raw)
    raise AssertionError("unreachable")  # pragma: no cover  (mypy: ExitStack may swallow)


def _invoke_and_show(
    path: Path, rie: LambdaEmulator, targets: list[DemoTarget], aws: Any, *, show_log: bool, raw: bool
) -> int:
    base_urls = [t.base_url for t in targets]
    event = load_event(str(path), base_url=base_urls[0], tls_base_url=base_urls[1])
    request = request_of(event)
    print(
        f"invoking {DEFAULT_HANDLER} with {_relative(path)} in the Lambda runtime emulator "
        f"(Lambda timeout {rie.timeout_s} s, demo targets {' and '.join(base_urls)})\n"
    )
    try:
        payload, wall_s = rie.invoke(event)
    except EmulatorError as exc:
        print(f"the invocation could not be delivered: {exc}", file=sys.stderr)
        return 1
    open_after = sum(t.open_connections_after(CLOSE_WAIT_S) for t in targets)
    requests_seen = sum(int(t.stats()["requests"]) for t in targets)
    text, ok = render_answer(payload, request, base_urls)
    print(text)
    if aws is not None:
        document = decode_body(payload) if isinstance(payload, dict) and "statusCode" in payload else payload
        if isinstance(document, dict) and "persisted" in document:
            print(aws.describe(document))
    if raw:
        print("\n" + json.dumps(payload, indent=2))
    init_s = init_duration_s(rie.log_text())
    cold = f", including a {init_s:.2f} s cold start" if init_s is not None else ""
    spare = rie.timeout_s - wall_s
    print(
        f"answered  in {wall_s:.2f} s{cold}: {'within' if spare > 0 else 'NOT within'} the "
        f"{rie.timeout_s} s Lambda timeout ({spare:.2f} s to spare)"
    )
    flag = "" if open_after == 0 else "  <- expected 0: a connection outlived the invocation"
    print(
        f"targets   {open_after} connection(s) open after the answer; {requests_seen} request(s) served{flag}"
    )
    if show_log or function_error(payload) is not None:
        print("\n--- emulator and function log ---\n" + rie.log_text().rstrip())
    return 0 if ok and open_after == 0 else 1


def _relative(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.demo",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--event", default=DEFAULT_EVENT, help=f"event file (default {DEFAULT_EVENT})")
    parser.add_argument(
        "--timeout",
        type=int,
        default=DEFAULT_TIMEOUT_S,
        help=f"Lambda timeout in seconds (default {DEFAULT_TIMEOUT_S})",
    )
    parser.add_argument("--port", type=int, default=DEMO_PORT, help=f"demo target port (default {DEMO_PORT})")
    parser.add_argument(
        "--tls-port",
        type=int,
        default=DEMO_TLS_PORT,
        help=f"https demo target port (default {DEMO_TLS_PORT})",
    )
    parser.add_argument("--log", action="store_true", help="print the emulator's and the function's log")
    parser.add_argument("--raw", action="store_true", help="also print the answer as JSON")
    parser.add_argument(
        "--store",
        default=os.environ.get("STORE") or "off",
        help="off (default), or moto: keep the run's report and record in an embedded moto (STORE=moto)",
    )
    args = parser.parse_args(argv)
    if args.store not in ("off", "moto"):
        parser.error("--store (STORE=) is 'off' or 'moto'")
    if args.timeout < 1 or args.timeout > 900:
        parser.error("--timeout must be between 1 and 900 seconds")
    try:
        return run(
            args.event,
            timeout_s=args.timeout,
            port=args.port,
            tls_port=args.tls_port,
            show_log=args.log,
            raw=args.raw,
            store=args.store,
        )
    except EmulatorError as exc:
        print(f"the Lambda runtime emulator failed: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
