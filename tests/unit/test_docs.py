"""The README and docs/ stay true to the code: every setting and parameter is documented, every
reference chapter is one click from the README, and every link between them leads somewhere."""

from __future__ import annotations

import re
from pathlib import Path

from samcli.yamlhelper import yaml_parse

from devtools import configdoc
from fanout.config import env_names

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
DOCS = {p.name: p.read_text() for p in sorted((ROOT / "docs").glob("*.md"))}
LINK = re.compile(r"\]\(([^)#\s]+\.md)(?:#[^)]*)?\)")


def test_every_environment_setting_is_in_the_configuration_chapters() -> None:
    documented = DOCS["configuration.md"] + DOCS["persistence.md"] + DOCS["sharding.md"] + DOCS["monitors.md"]
    missing = [var for var in env_names().values() if f"`{var}`" not in documented]
    assert missing == []


def test_the_configuration_tables_are_what_the_settings_model_declares() -> None:
    """``make configdoc`` writes them; a setting added, renamed or re-bounded without it fails here."""
    written = DOCS["configuration.md"]
    assert configdoc.with_tables(written, configdoc.render()) == written
    assert all(f"| `{var}` |" in written for var in env_names().values())


def test_every_template_parameter_is_in_the_deploy_chapter() -> None:
    parameters = yaml_parse((ROOT / "template.yaml").read_text())["Parameters"]
    missing = [name for name in parameters if f"`{name}`" not in DOCS["deploy.md"]]
    assert missing == []


def test_readme_shows_the_two_commands() -> None:
    assert "make demo" in README
    assert "make test" in README


def test_every_chapter_is_linked_from_the_readme() -> None:
    linked = {Path(target).name for target in LINK.findall(README)}
    assert set(DOCS) <= linked, set(DOCS) - linked


def test_every_link_between_the_documents_leads_to_a_file() -> None:
    for name, text in {"README.md": README, **{f"docs/{n}": t for n, t in DOCS.items()}}.items():
        base = ROOT / name
        for target in LINK.findall(text):
            assert (base.parent / target).is_file(), f"{name} links to {target}, which does not exist"
