"""Where a field of a definition's YAML is written: the line a validation error points at. Pure: no I/O."""

from __future__ import annotations

import re

import yaml

_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def field_path(field: str) -> list[str | int]:
    """``stages[1].closes.month`` → ``["stages", 1, "closes", "month"]``."""
    return [int(index) if index else name for name, index in _PART.findall(field)]


def field_line(source: str, field: str) -> int | None:
    """The 1-based line of ``field`` (as the loader names it, e.g. ``obligations[2].due.day``) in ``source``: the
    line of the deepest part of the path that is written there (a missing field points at its parent), None when
    the text is no YAML mapping or the path starts nowhere in it."""
    try:
        node = yaml.compose(source)
    except yaml.YAMLError:
        return None
    line: int | None = None
    for part in field_path(field):
        found = _child(node, part)
        if found is None:
            break
        line, node = found
    return line


def _child(node: yaml.Node | None, part: str | int) -> tuple[int, yaml.Node] | None:
    """The line where ``part`` of ``node`` is written and its value node."""
    if isinstance(node, yaml.MappingNode) and isinstance(part, str):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == part:
                return key.start_mark.line + 1, value
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
        item = node.value[part]
        return item.start_mark.line + 1, item
    return None
