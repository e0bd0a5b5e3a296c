"""Fixtures for the end-to-end tier: the function running in the real Lambda Runtime Interface Emulator."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from devtools.rie import LambdaEmulator, function_error
from tests.support import E2E_ENV, E2E_TIMEOUT_S, EmulatorFactory


@pytest.fixture(scope="module")
def emulator() -> Iterator[LambdaEmulator]:
    """One warm emulator per test module (as one Lambda execution environment serves many invokes)."""
    with LambdaEmulator(timeout_s=E2E_TIMEOUT_S, env=E2E_ENV) as rie:
        # The emulator counts the runtime's initialisation in the first invocation's timeout; initialise
        # it with a request that needs no network so the tests measure warm invocations.
        payload, _ = rie.invoke({"urls": []})
        assert function_error(payload) is None, rie.log_tail()
        assert payload["error"]["type"] == "validation_error", payload
        yield rie


@pytest.fixture
def new_emulator() -> Iterator[EmulatorFactory]:
    """Start a fresh emulator (cold runtime); every one started is stopped after the test."""
    started: list[LambdaEmulator] = []

    def make(**kwargs: Any) -> LambdaEmulator:
        options: dict[str, Any] = {"timeout_s": E2E_TIMEOUT_S, "env": E2E_ENV} | kwargs
        rie = LambdaEmulator(**options)
        started.append(rie)
        return rie.start()

    yield make
    for rie in started:
        rie.stop()
