"""The campaign definitions in force, loaded once from ``definitions/``."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from core.settings import get_settings
from domain.definitions import Definition, load_definitions
from domain.errors import NotFound


@lru_cache(maxsize=8)
def _load(directory: Path) -> dict[str, Definition]:
    return load_definitions(directory)


def get_definitions() -> dict[str, Definition]:
    return _load(get_settings().definitions_dir)


def reload_definitions() -> None:
    """Forget the loaded definitions: the next :func:`get_definitions` reads ``definitions/`` again, as a
    restarted process would."""
    _load.cache_clear()


def get_definition(key: str) -> Definition:
    definitions = get_definitions()
    try:
        return definitions[key]
    except KeyError:
        raise NotFound(
            f"没有名为“{key}”的督办定义；可用的定义：{', '.join(sorted(definitions))}",
            field="definition",
        ) from None
