"""``docs/configuration.md``'s variables tables, generated from the settings model.

Each variable's name, default, bounds and meaning are declared once, in
``fanout.config.model``; this renders them, one table per section, between the two markers of
the chapter (the prose around them is the chapter's own). A test fails when they drift.

    python -m devtools.configdoc            print the tables
    python -m devtools.configdoc --write    write them into docs/configuration.md (``make configdoc``)
    python -m devtools.configdoc --check    exit 1 when docs/configuration.md is out of date
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Literal, get_args, get_origin

from annotated_types import Ge, Gt, Le, Lt
from pydantic.fields import FieldInfo

from fanout.config import AtMost, Section, Settings

ROOT = Path(__file__).resolve().parent.parent
DOCUMENT = ROOT / "docs" / "configuration.md"
BEGIN = "<!-- BEGIN settings: generated from fanout.config.model by `make configdoc`; do not edit -->"
END = "<!-- END settings -->"


def _value(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


def _default(field: FieldInfo) -> str:
    value = field.default
    if value == "":
        return "empty"
    return f"`{value}`" if isinstance(value, str) else _value(value)


def _env(name: str) -> str:
    return f"`{Settings.model_fields[name].validation_alias}`"


def _bounds(field: FieldInfo) -> str:
    """``>= 1``, ``10000 to 262144``, ``<= FANOUT_MAX_RETRIES``, the choices of a literal, or the
    first line of a validator's docstring."""
    low = high = ""
    rules: list[str] = []
    for item in field.metadata:
        if isinstance(item, Ge):
            low = f">= {_value(item.ge)}"
        elif isinstance(item, Gt):
            low = f"> {_value(item.gt)}"
        elif isinstance(item, Le):
            high = f"<= {_value(item.le)}"
        elif isinstance(item, Lt):
            high = f"< {_value(item.lt)}"
        elif isinstance(item, AtMost):
            rules.append(f"<= {_env(item.field)}")
        elif (doc := getattr(getattr(item, "func", None), "__doc__", None)) is not None:
            line = doc.strip().splitlines()[0].rstrip(".")
            rules.append(line[:1].lower() + line[1:])
    if low.startswith(">=") and high.startswith("<="):
        rules.insert(0, f"{low[3:]} to {high[3:]}")
    else:
        rules[:0] = [b for b in (low, high) if b]
    if get_origin(field.annotation) is Literal:
        rules.append(" or ".join(f"`{choice}`" for choice in get_args(field.annotation)))
    return ", ".join(rules)


def _sections() -> list[tuple[Section, list[tuple[str, FieldInfo]]]]:
    sections: list[tuple[Section, list[tuple[str, FieldInfo]]]] = []
    for name, field in Settings.model_fields.items():
        marker = next((m for m in field.metadata if isinstance(m, Section)), None)
        if marker is not None:
            sections.append((marker, []))
        if not sections:
            raise ValueError(f"{name}: the first setting must start a Section")
        sections[-1][1].append((name, field))
    return sections


def render() -> str:
    """The tables, markers included."""
    lines: list[str] = [BEGIN]
    for section, fields in _sections():
        lines += ["", f"### {section.title}", "", f"{section.about[:1].upper()}{section.about[1:]}.", ""]
        lines += ["| variable | default | bounds | meaning |", "|---|---|---|---|"]
        for name, field in fields:
            row = [_env(name), _default(field), _bounds(field), str(field.description)]
            lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |")
    lines += ["", END]
    return "\n".join(lines)


def with_tables(document: str, tables: str) -> str:
    """``document`` with what stands between its markers replaced by ``tables``."""
    start, end = document.find(BEGIN), document.find(END)
    if start < 0 or end < start:
        raise ValueError(f"{DOCUMENT.name} lacks the markers {BEGIN!r} ... {END!r}")
    return document[:start] + tables + document[end + len(END) :]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write", action="store_true")
    group.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    tables = render()
    current = DOCUMENT.read_text()
    wanted = with_tables(current, tables)
    if args.write:
        DOCUMENT.write_text(wanted)
        print(f"wrote {DOCUMENT.relative_to(ROOT)}")
    elif args.check:
        if current != wanted:
            print(f"{DOCUMENT.relative_to(ROOT)} is out of date: run make configdoc", file=sys.stderr)
            return 1
    else:
        sys.stdout.write(tables + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
