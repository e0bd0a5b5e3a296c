"""The invocation's event loop: uvloop by default, asyncio's on request, asyncio's when uvloop is missing."""

from __future__ import annotations

import asyncio
import logging
import sys

import pytest
import uvloop

from fanout.config import ConfigError, Settings, load_settings
from fanout.core.budget import InvocationClock
from fanout.runs import invocation as invocation_module
from fanout.runs.invocation import Invocation, loop_factory


def test_the_setting_defaults_to_uvloop_and_takes_asyncio() -> None:
    assert load_settings({}).event_loop == "uvloop"
    assert load_settings({"FANOUT_EVENT_LOOP": "asyncio"}).event_loop == "asyncio"
    with pytest.raises(ConfigError, match="FANOUT_EVENT_LOOP"):
        load_settings({"FANOUT_EVENT_LOOP": "trio"})


def _loop_module(settings: Settings) -> str:
    async def which() -> str:
        return type(asyncio.get_running_loop()).__module__

    invocation = Invocation(InvocationClock.begin(10_000), settings, context=None)  # type: ignore[arg-type]
    try:
        return invocation.run(which(), "test")
    finally:
        invocation.close()


def test_an_invocation_runs_on_the_chosen_loop() -> None:
    assert _loop_module(Settings()) == "uvloop"
    assert _loop_module(Settings().model_copy(update={"event_loop": "asyncio"})).startswith("asyncio")
    assert loop_factory("uvloop") is uvloop.new_event_loop
    assert loop_factory("asyncio") is None


def test_a_missing_uvloop_falls_back_to_asyncio_and_says_so_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # ``import uvloop`` raises ImportError
    monkeypatch.setattr(invocation_module, "_fallback_logged", False)
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    keep = Keep(level=logging.WARNING)
    logger = invocation_module.logger
    logger.addHandler(keep)  # type: ignore[arg-type]
    try:
        assert loop_factory("uvloop") is None
        assert _loop_module(Settings()).startswith("asyncio")
        assert loop_factory("uvloop") is None
    finally:
        logger.removeHandler(keep)  # type: ignore[arg-type]
    warnings = [r for r in records if "uvloop is not installed" in r.getMessage()]
    assert len(warnings) == 1
    assert warnings[0].levelno == logging.WARNING
