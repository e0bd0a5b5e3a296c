"""README stays true to the code: every setting and parameter is documented."""

from __future__ import annotations

from pathlib import Path

from samcli.yamlhelper import yaml_parse

from fanout.config import env_names

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def test_every_environment_setting_is_in_the_readme() -> None:
    missing = [var for var in env_names().values() if f"`{var}`" not in README]
    assert missing == []


def test_every_template_parameter_is_in_the_readme() -> None:
    parameters = yaml_parse((ROOT / "template.yaml").read_text())["Parameters"]
    missing = [name for name in parameters if f"`{name}`" not in README]
    assert missing == []


def test_readme_shows_the_two_commands() -> None:
    assert "make demo" in README
    assert "make test" in README
