"""Publishing, retiring and listing the versions of a campaign definition (administrators only, audited)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from core.settings import get_settings
from domain.definition_diff import Section, diff_definitions
from domain.definitions import Definition, DefinitionError
from domain.errors import Conflict, NotFound, ValidationFailed
from models import DefinitionVersion, User
from tasks.accounts import Principal, require_admin
from tasks.audit import append_event
from tasks.registry import definition_version, get_definition, is_retired, parse_source, refresh, remember, shipped

SHIPPED_NOTE = "随程序发布的第1版（definitions/ 目录）"


def ensure_seeded(session: Session, now: dt.datetime) -> None:
    """Store each shipped definition as its first version if the database has none of it yet (first use)."""
    present = set(session.exec(select(DefinitionVersion.key).distinct()))
    directory = get_settings().definitions_dir
    for key, definition in shipped().items():
        if key in present:
            continue
        source = (directory / f"{key}.yaml").read_text(encoding="utf-8")
        session.add(DefinitionVersion(key=key, version=definition.version, source=source, note=SHIPPED_NOTE,
                                      published_at=now))
    session.flush()


def _newest(session: Session, key: str) -> DefinitionVersion | None:
    return session.exec(select(DefinitionVersion).where(col(DefinitionVersion.key) == key)
                        .order_by(col(DefinitionVersion.version).desc())).first()


def publish(session: Session, principal: Principal, now: dt.datetime, key: str, source: str, note: str) -> DefinitionVersion:
    """Validate ``source`` exactly as at load and store it as the next version of ``key``; the caller commits."""
    require_admin(principal)
    if not note.strip():
        raise ValidationFailed("请填写版本说明（例如依据的新通知文号和改动）", errors=[{"field": "note", "message": "required"}])
    try:
        parsed = parse_source(source, f"{key}.yaml")
    except DefinitionError as exc:
        raise ValidationFailed(f"定义未通过校验：{exc.detail}", errors=exc.errors) from None
    if parsed.key != key:
        raise ValidationFailed(f"YAML 中的 key “{parsed.key}”与地址中的定义“{key}”不一致",
                               errors=[{"field": "key", "message": "must match the definition in the path"}])
    ensure_seeded(session, now)
    refresh(session)
    newest = _newest(session, key)
    number = (newest.version if newest else 0) + 1
    row = DefinitionVersion(key=key, version=number, source=source, note=note.strip(), published_by=principal.user.id,
                            published_at=now)
    session.add(row)
    session.flush()
    append_event(session, actor_id=principal.user.id, actor=principal.user.username, action="definition.publish",
                 subject_type="definition_version", subject_id=row.id or 0, township_id=None, before=None,
                 after={"key": key, "version": number, "note": row.note}, now=now)
    remember(row)
    return row


def retire(session: Session, principal: Principal, now: dt.datetime, key: str) -> DefinitionVersion:
    """Stop new launches of ``key`` (running campaigns go on by their versions); publishing again revives it."""
    require_admin(principal)
    ensure_seeded(session, now)
    newest = _newest(session, key)
    if newest is None:
        raise NotFound(f"没有名为“{key}”的督办定义", field="definition")
    if newest.retired_at is not None:
        raise Conflict(f"督办定义“{key}”已于此前停用")
    newest.retired_at, newest.retired_by = now, principal.user.id
    session.add(newest)
    session.flush()
    append_event(session, actor_id=principal.user.id, actor=principal.user.username, action="definition.retire",
                 subject_type="definition_version", subject_id=newest.id or 0, township_id=None, before=None,
                 after={"key": key, "version": newest.version}, now=now)
    refresh(session)
    return newest


def versions(session: Session, now: dt.datetime, key: str) -> list[dict[str, Any]]:
    """Every version of ``key``, oldest first, with author, time, note and whether it is retired."""
    rows = _rows(session, now, key)
    if not rows:
        raise NotFound(f"没有名为“{key}”的督办定义", field="definition")
    names = dict(session.exec(select(User.id, User.display_name)
                              .where(col(User.id).in_({r.published_by for r in rows if r.published_by}))).all())
    return [{"key": r.key, "version": r.version, "name": definition_version(r.key, r.version, session).name, "note": r.note,
             "published_by": names.get(r.published_by) if r.published_by else None, "published_at": r.published_at,
             "retired_at": r.retired_at} for r in rows]


def _rows(session: Session, now: dt.datetime, key: str) -> list[DefinitionVersion]:
    """The stored versions of ``key``; before its first publication, the shipped file as version 1 (reads write
    nothing: the file is stored when the next version is published)."""
    rows = list(session.exec(select(DefinitionVersion).where(col(DefinitionVersion.key) == key)
                             .order_by(col(DefinitionVersion.version))))
    if rows or key not in shipped():
        return rows
    source = (get_settings().definitions_dir / f"{key}.yaml").read_text(encoding="utf-8")
    return [DefinitionVersion(key=key, version=shipped()[key].version, source=source, note=SHIPPED_NOTE, published_at=now)]


def source_of(session: Session, now: dt.datetime, key: str, version: int) -> str:
    row = next((r for r in _rows(session, now, key) if r.version == version), None)
    if row is None:
        raise NotFound(f"督办定义“{key}”没有第 {version} 版", field="version")
    return row.source


def newest_version(session: Session, key: str) -> int:
    number = session.exec(select(func.max(DefinitionVersion.version)).where(col(DefinitionVersion.key) == key)).one()
    return int(number) if number else 1


def diff(session: Session, now: dt.datetime, key: str, old: int, new: int) -> list[Section]:
    """What version ``new`` of ``key`` changes from version ``old``."""
    return diff_definitions(definition_version(key, old, session), definition_version(key, new, session))


def launchable(session: Session, key: str) -> Definition:
    """The newest version of ``key``, as published by any process; a retired definition takes no new launches
    (409 with the reason)."""
    refresh(session)
    definition = get_definition(key)
    if is_retired(key):
        raise Conflict(f"督办定义“{definition.name}”已停用，不能再启动新的督办任务；如需继续，请发布新版本")
    return definition
