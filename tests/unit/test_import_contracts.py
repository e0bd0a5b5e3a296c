"""``devtools.import_contracts``: a private module (``_x``) is imported only from inside its package."""

from __future__ import annotations

import grimp

from devtools.import_contracts import owner_of, private_imports


def graph(*imports: tuple[str, str]) -> grimp.ImportGraph:
    built = grimp.ImportGraph()
    for name in ("fanout", "fanout.fetch", "fanout.runs", "fanout.fetch.transports"):
        built.add_module(name)
    for importer, imported in imports:
        built.add_import(importer=importer, imported=imported, line_number=1, line_contents="import")
    return built


def test_a_module_is_private_to_the_package_above_its_first_underscored_part() -> None:
    assert owner_of("fanout.fetch._compat") == "fanout.fetch"
    assert owner_of("fanout.fetch._compat.inner") == "fanout.fetch"
    assert owner_of("fanout.fetch.client") is None
    assert owner_of("fanout.fetch.__init__") is None


def test_only_imports_from_outside_the_package_break_the_contract() -> None:
    found = private_imports(
        graph(
            ("fanout.fetch.client", "fanout.fetch._compat"),  # its own package
            ("fanout.fetch.transports.aiohttp", "fanout.fetch._compat"),  # a subpackage of it
            ("fanout.fetch", "fanout.fetch._compat"),  # the package itself
            ("fanout.runs.stores", "fanout.fetch._compat"),  # another subpackage: broken
            ("fanout.runs.stores", "fanout.fetch.client"),  # a public module
            ("fanout.runs.stores", "aiohttp._http_parser"),  # outside the containers
        ),
        ["fanout"],
    )
    assert found == [("fanout.runs.stores", "fanout.fetch._compat")]


def test_the_tree_has_no_private_import_today() -> None:
    assert private_imports(grimp.build_graph("fanout"), ["fanout"]) == []
