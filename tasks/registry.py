"""The campaign definitions in force, by version.

The shipped YAML under ``definitions/`` is version 1 of each definition; later versions are published into the
database (``definition_versions``, see :mod:`tasks.definitions`). A version never changes once published, so
parsed versions are cached for the life of the process, per database. A campaign behaves by the version it was
launched from (or last migrated to): read its definition with :func:`definition_of`, never by key alone.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from sqlmodel import Session, col, select

from core.settings import get_settings
from domain.definition_lines import field_line
from domain.definitions import Definition, DefinitionError, load_definitions, parse_definition
from domain.errors import NotFound
from models import DefinitionVersion


@lru_cache(maxsize=8)
def _load(directory: Path) -> dict[str, Definition]:
    return load_definitions(directory)


class _Published:
    """What this process knows of one database's published versions."""

    def __init__(self) -> None:
        self.versions: dict[tuple[str, int], Definition] = {}
        self.sources: dict[tuple[str, int], str] = {}  # the digest of the text each was parsed from
        self.retired: set[str] = set()


_published: dict[str, _Published] = {}


def _known() -> _Published:
    return _published.setdefault(get_settings().database_url.get_secret_value(), _Published())


def shipped() -> dict[str, Definition]:
    """The definitions deployed with the code: version 1 of each, the seed of the database's versions."""
    return _load(get_settings().definitions_dir)


def parse_source(source: str, name: str) -> Definition:
    """Validate a definition's YAML text exactly as at load; errors name the line or the field."""
    try:
        data = yaml.safe_load(source)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise DefinitionError(f"{name}:{where}: not valid YAML: {exc}",
                              errors=[{"file": name, "field": f"line {mark.line + 1}" if mark else "",
                                       "message": f"不是有效的 YAML（{getattr(exc, 'problem', None) or exc}）",
                                       **({"line": mark.line + 1} if mark else {})}]) from None
    try:
        return parse_definition(data, name)
    except DefinitionError as exc:
        for error in exc.errors:  # the line each field is written on, for the page and the command line
            line = field_line(source, str(error.get("field", "")))
            if line is not None:
                error["line"] = line
        raise


def remember(row: DefinitionVersion) -> Definition:
    """Cache one published version (parsed once: versions are immutable; a database restored or recreated under
    the same address has other rows, recognised by their ids)."""
    known = _known()
    definition = known.versions.get((row.key, row.version))
    digest = hashlib.sha256(row.source.encode()).hexdigest()
    if definition is None or known.sources.get((row.key, row.version)) != digest:
        parsed = parse_source(row.source, f"{row.key} v{row.version}")
        definition = parsed.model_copy(update={"version": row.version})
        known.versions[(row.key, row.version)] = definition
        known.sources[(row.key, row.version)] = digest
    return definition


_VERSIONS = select(DefinitionVersion)  # built once: every dashboard request reads it


def refresh(session: Session) -> None:
    """Learn the versions and retirements published (perhaps by another process) since the last look. The table
    is small (a row per published version), so it is read whole."""
    known = _known()
    rows = list(session.exec(_VERSIONS))
    present = {(r.key, r.version) for r in rows}
    files = shipped()
    for gone in [k for k, d in known.versions.items() if k not in present and d is not files.get(k[0])]:
        del known.versions[gone]  # (a shipped file not yet stored stays: it is what definition_version falls back to)
    newest: dict[str, DefinitionVersion] = {}
    for row in rows:
        remember(row)
        if row.key not in newest or row.version > newest[row.key].version:
            newest[row.key] = row
    known.retired = {key for key, row in newest.items() if row.retired_at is not None}


def forget() -> None:
    """Forget everything loaded: the next look reads ``definitions/`` and the database again, as a restarted
    process would."""
    _load.cache_clear()
    _published.clear()


reload_definitions = forget


def get_definitions() -> dict[str, Definition]:
    """The newest known version of each definition (for launching and listing)."""
    latest = dict(shipped())
    for (key, version), definition in _known().versions.items():
        if key not in latest or version > latest[key].version:
            latest[key] = definition
    return latest


def all_versions() -> list[Definition]:
    """Every known version of every definition (e.g. the highest ladder any campaign can climb)."""
    files = shipped()
    return [*files.values(), *(d for (key, version), d in _known().versions.items()
                               if key not in files or files[key].version != version)]


def is_retired(key: str) -> bool:
    return key in _known().retired


def get_definition(key: str) -> Definition:
    """The newest version of ``key``: what a new campaign is launched from."""
    definitions = get_definitions()
    try:
        return definitions[key]
    except KeyError:
        raise NotFound(
            f"没有名为“{key}”的督办定义；可用的定义：{', '.join(sorted(definitions))}",
            field="definition",
        ) from None


def definition_version(key: str, version: int, session: Session | None = None) -> Definition:
    """One version of a definition: cached, else from the database, else the shipped file when it is that version."""
    known = _known()
    definition = known.versions.get((key, version))
    if definition is not None:
        return definition
    if session is not None:
        row = session.exec(select(DefinitionVersion).where(
            col(DefinitionVersion.key) == key, col(DefinitionVersion.version) == version)).first()
        if row is not None:
            return remember(row)
    file = shipped().get(key)
    if file is not None and file.version == version:
        # Not yet stored: the shipped file is this version, and the row written for it when the next version is
        # published holds the same text. Remembered, so that every later read (a campaign's definition is read
        # many times per tick and per action) does not ask the database again; ``refresh`` drops it if the
        # database's rows say otherwise.
        known.versions[(key, version)] = file
        return file
    get_definition(key)  # an unknown key: the usual 404
    raise NotFound(f"督办定义“{key}”没有第 {version} 版", field="version")


def definition_of(campaign: Any) -> Definition:
    """The definition a campaign behaves by: the version it was launched from or last migrated to.

    Remembered in the campaign's session (versions never change), so a page of many campaigns of one version
    looks the version up once, not once per campaign."""
    session = Session.object_session(campaign)
    if session is None:
        return definition_version(campaign.definition_key, campaign.definition_version)
    memo: dict[tuple[str, int], Definition] = session.info.setdefault("duban_definitions", {})
    pinned = (campaign.definition_key, campaign.definition_version)
    definition = memo.get(pinned)
    if definition is None:
        definition = memo[pinned] = definition_version(*pinned, session)  # type: ignore[arg-type]
    return definition
