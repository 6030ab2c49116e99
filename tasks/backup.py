"""Backups of the database, and restoring one.

SQLite is copied with SQLite's online backup API, so a backup taken while the service runs is one consistent
snapshot (writers are not blocked under WAL). PostgreSQL uses ``pg_dump -Fc`` and
``pg_restore --clean --if-exists``; those programs must be on PATH. The password of the database URL is
passed in the environment, never on a command line.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.engine import URL, make_url
from sqlmodel import Session

from domain.errors import DubanError, ValidationFailed
from tasks.audit import verify_chain

__all__ = ["BackupInfo", "backup_database", "check_backup", "restore_database"]

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_CUSTOM_MAGIC = b"PGDMP"
_REQUIRED_TABLES = ("alembic_version", "audit_events", "users")


class BackupFailed(DubanError):
    status = 500
    title = "备份或恢复失败"


@dataclasses.dataclass(frozen=True)
class BackupInfo:
    """What a backup file holds: ``kind`` is ``sqlite`` or ``postgresql``."""

    path: Path
    kind: str
    size: int
    audit_events: int | None = None


def _backend(url: str) -> str:
    name = make_url(url).get_backend_name()
    if name not in ("sqlite", "postgresql"):
        raise ValidationFailed(f"不支持备份 {name} 数据库，只支持 SQLite 和 PostgreSQL")
    return name


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        raise ValidationFailed("SQLite 数据库必须是一个文件才能备份或恢复")
    return Path(database)


def _sqlite_copy(source: sqlite3.Connection, target: sqlite3.Connection) -> None:
    # pages=-1 copies every page in one step, under one read transaction: a consistent snapshot.
    source.backup(target, pages=-1)


def backup_database(url: str, out: Path) -> BackupInfo:
    """Write a backup of the database at ``url`` to ``out`` (written to a temporary name, then renamed)."""
    kind = _backend(url)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        if kind == "sqlite":
            path = _sqlite_path(url)
            if not path.is_file():
                raise ValidationFailed(f"数据库文件 {path} 不存在")
            source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            target = sqlite3.connect(partial)
            try:
                _sqlite_copy(source, target)
                target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
            finally:
                target.close()
                source.close()
        else:
            _run_pg(["pg_dump", "-Fc", "--no-owner", "-f", str(partial)], url)
        info = check_backup(partial)
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)
    return dataclasses.replace(info, path=out)


def check_backup(path: Path) -> BackupInfo:
    """Make sure ``path`` is a complete duban backup; raises ``ValidationFailed`` saying what is wrong."""
    if not path.is_file():
        raise ValidationFailed(f"备份文件 {path} 不存在")
    with path.open("rb") as f:
        head = f.read(len(SQLITE_MAGIC))
    size = path.stat().st_size
    if head == SQLITE_MAGIC:
        return _check_sqlite(path, size)
    if head.startswith(PG_CUSTOM_MAGIC):
        listing = _run_pg(["pg_restore", "--list", str(path)], None)
        if "audit_events" not in listing:
            raise ValidationFailed(f"备份文件 {path.name} 不是督办数据库的备份（没有审计记录表）")
        return BackupInfo(path=path, kind="postgresql", size=size)
    raise ValidationFailed(f"{path.name} 不是有效的备份文件（既不是 SQLite 数据库，也不是 pg_dump -Fc 的输出）")


def _check_sqlite(path: Path, size: int) -> BackupInfo:
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            integrity = conn.execute("PRAGMA integrity_check").fetchone()
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise ValidationFailed(f"备份文件 {path.name} 已损坏，无法读取：{exc}") from None
    if not integrity or integrity[0] != "ok":
        raise ValidationFailed(f"备份文件 {path.name} 已损坏：完整性检查未通过（{integrity[0] if integrity else '无结果'}）")
    missing = [t for t in _REQUIRED_TABLES if t not in tables]
    if missing:
        raise ValidationFailed(f"备份文件 {path.name} 不是督办数据库的备份（缺少表 {'、'.join(missing)}）")
    engine = create_engine(f"sqlite:///file:{path}?mode=ro&uri=true")
    try:
        with Session(engine) as session:
            result = verify_chain(session)
    finally:
        engine.dispose()
    if not result.ok:
        raise ValidationFailed(f"备份文件 {path.name} 中的审计链断裂：{result.reason}")
    return BackupInfo(path=path, kind="sqlite", size=size, audit_events=result.checked)


def restore_database(url: str, path: Path) -> BackupInfo:
    """Replace the database at ``url`` with the backup at ``path`` (checked first; nothing changes if invalid).

    Close the application's connections first (``core.db.reset_engines``); a running service should be stopped.
    """
    kind = _backend(url)
    info = check_backup(path)
    if info.kind != kind:
        names = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
        raise ValidationFailed(f"备份文件是 {names[info.kind]} 的备份，不能恢复到 {names[kind]} 数据库")
    if kind == "sqlite":
        target_path = _sqlite_path(url)
        target_path.parent.mkdir(parents=True, exist_ok=True)
        source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        target = sqlite3.connect(target_path, timeout=30)
        try:
            _sqlite_copy(source, target)
        finally:
            target.close()
            source.close()
    else:
        _run_pg(["pg_restore", "--clean", "--if-exists", "--no-owner", "--single-transaction", "--exit-on-error",
                 str(path)], url, database_arg=True)
    return info


def _pg_env(url: URL) -> dict[str, str]:
    env = dict(os.environ)
    for key, value in (("PGHOST", url.host), ("PGPORT", url.port), ("PGUSER", url.username),
                       ("PGPASSWORD", url.password), ("PGDATABASE", url.database)):
        if value is not None:
            env[key] = str(value)
    return env


def _run_pg(command: list[str], url: str | None, *, database_arg: bool = False) -> str:
    program = shutil.which(command[0])
    if program is None:
        raise BackupFailed(f"找不到 {command[0]}：PostgreSQL 的备份与恢复需要安装 PostgreSQL 客户端程序")
    env = dict(os.environ)
    if url is not None:
        parsed = make_url(url)
        env = _pg_env(parsed)
        if database_arg:
            command = [*command, "-d", str(parsed.database)]
    result = subprocess.run([program, *command[1:]], env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        message = (result.stderr or result.stdout).strip().splitlines()
        raise BackupFailed(f"{command[0]} 失败（退出码 {result.returncode}）：{' '.join(message[-3:])}")
    return result.stdout
