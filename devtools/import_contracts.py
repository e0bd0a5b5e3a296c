"""An import-linter contract import-linter's own types cannot state: private modules stay private.

A module named ``_x`` (httpx's shape: ``httpx/_client.py`` behind ``httpx/__init__``) may be imported
only from inside the package that holds it. import-linter 2.16's wildcards replace whole module
names only (``fanout.*._x`` is refused: "A wildcard can only replace a whole module"), so its
``protected`` contract would need every private module listed by hand; this one finds them.

Wired in pyproject.toml as::

    [tool.importlinter]
    contract_types = ["private_modules: devtools.import_contracts.PrivateModulesContract"]

    [[tool.importlinter.contracts]]
    name = "A private module (_x) is imported only from inside its package"
    type = "private_modules"
    containers = ["fanout"]
"""

from __future__ import annotations

import grimp
from importlinter import Contract, ContractCheck, fields, output


def owner_of(module: str) -> str | None:
    """The package a module is private to (the parent of its first ``_x`` part), or None."""
    parts = module.split(".")
    for i, part in enumerate(parts):
        if part.startswith("_") and not part.startswith("__"):
            return ".".join(parts[:i])
    return None


def private_imports(graph: grimp.ImportGraph, containers: list[str]) -> list[tuple[str, str]]:
    """(importer, imported) for every import of a private module from outside its package."""
    broken = []
    for container in containers:
        for imported in sorted(graph.find_descendants(container) | {container}):
            owner = owner_of(imported)
            if owner is None:
                continue
            for importer in sorted(graph.find_modules_that_directly_import(imported)):
                if importer != owner and not importer.startswith(owner + "."):
                    broken.append((importer, imported))
    return broken


class PrivateModulesContract(Contract):
    """``containers``: the packages whose private modules are checked."""

    type_name = "private_modules"
    containers = fields.ListField(subfield=fields.StringField())

    def check(self, graph: grimp.ImportGraph, verbose: bool) -> ContractCheck:
        broken = private_imports(graph, list(self.containers))  # type: ignore[call-overload]
        return ContractCheck(kept=not broken, metadata={"broken": broken})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for importer, imported in check.metadata["broken"]:
            output.print_error(f"{importer} imports {imported}, which is private to its package")
            output.new_line()
