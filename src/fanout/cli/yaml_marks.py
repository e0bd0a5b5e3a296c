"""YAML read with where each value was written, so a problem names its file, line and column.

PyYAML composes the document into nodes that carry their marks; the values are built here from
those nodes (scalars by PyYAML's safe constructor, so ``yes``/``10``/``1.5`` mean what they mean
in any YAML tool), and every mapping key and value, every list item, is remembered by its path.
A key written twice in one mapping is a problem, not a silent overwrite.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

Path_ = tuple[int | str, ...]


@dataclass(frozen=True, slots=True)
class Mark:
    line: int  # 1-based
    column: int  # 1-based

    @classmethod
    def of(cls, mark: Any) -> Mark:
        return cls(mark.line + 1, mark.column + 1)


@dataclass
class Marked:
    """A YAML document's value and the marks of its parts (``values``: the value at a path,
    ``keys``: the key that names it), plus the problems found while reading it."""

    value: Any = None
    values: dict[Path_, Mark] = field(default_factory=dict)
    keys: dict[Path_, Mark] = field(default_factory=dict)
    duplicates: list[tuple[Path_, Mark]] = field(default_factory=list)

    def mark(self, path: Path_, *, key: bool = False) -> Mark:
        """Where the value at ``path`` was written (its key's place with ``key``), else the
        nearest written parent's."""
        if key and path and (named := (*self.known(path[:-1]), path[-1])) in self.keys:
            return self.keys[named]
        return self.values.get(self.known(path), Mark(1, 1))

    def known(self, path: Path_) -> Path_:
        """The longest part of ``path`` that was written (pydantic adds union tags in between)."""
        kept: list[int | str] = []
        for part in path:
            if (*kept, part) in self.values:
                kept.append(part)
        return tuple(kept)


class _Builder:
    def __init__(self, marked: Marked) -> None:
        self.marked = marked
        self.scalars = yaml.constructor.SafeConstructor()

    def build(self, node: yaml.Node, path: Path_) -> Any:
        self.marked.values[path] = Mark.of(node.start_mark)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        return self.scalars.construct_object(node, deep=True)

    def _mapping(self, node: yaml.MappingNode, path: Path_) -> dict[Any, Any]:
        self.scalars.flatten_mapping(node)  # YAML merge keys (<<) as PyYAML reads them
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = self.scalars.construct_object(key_node, deep=True)
            if not isinstance(key, str | int | float | bool) and key is not None:
                key = str(key)
            child = (*path, key if isinstance(key, str) else str(key))
            if key in out:
                self.marked.duplicates.append((child, Mark.of(key_node.start_mark)))
            self.marked.keys[child] = Mark.of(key_node.start_mark)
            out[key] = self.build(value_node, child)
        return out


def load_marked(text: str) -> Marked:
    """The document in ``text`` with its marks; raises ``yaml.YAMLError`` (with a mark) when it is
    not YAML. An empty document is ``None``."""
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    marked = Marked()
    if node is not None:
        marked.value = _Builder(marked).build(node, ())
    return marked
