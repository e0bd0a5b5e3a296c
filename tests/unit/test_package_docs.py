"""Each subpackage's docstring says what it offers: every module in it is named there."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import fanout

SUBPACKAGES = sorted(m.name for m in pkgutil.iter_modules(fanout.__path__, "fanout.") if m.ispkg)


def test_the_subpackages_are_the_layers() -> None:
    assert {name.split(".")[1] for name in SUBPACKAGES} >= {
        "aws", "cli", "core", "entry", "fetch", "observability", "runs",
    }  # fmt: skip


@pytest.mark.parametrize("name", SUBPACKAGES)
def test_every_module_is_named_in_its_package_docstring(name: str) -> None:
    package = importlib.import_module(name)
    doc = package.__doc__ or ""
    modules = [m.name for m in pkgutil.iter_modules(package.__path__)]
    assert modules
    missing = [m for m in modules if f"``{m}" not in doc and f"{m}``" not in doc]
    assert not missing, f"{name}'s docstring does not say what {missing} offer"
