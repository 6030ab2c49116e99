"""Backups taken while the service writes, restoring them, and ``duban backup`` / ``duban restore``."""

from __future__ import annotations

import datetime as dt
import shutil
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select
from typer.testing import CliRunner

from cli.main import app
from core.db import make_engine, session_scope
from models import AuditEvent, User
from tasks.audit import append_event, verify_chain
from tasks.backup import backup_database, check_backup, restore_database

runner = CliRunner()
NOW = dt.datetime(2025, 3, 3, 9, 0, tzinfo=dt.UTC)
HAVE_PG_TOOLS = bool(shutil.which("pg_dump") and shutil.which("pg_restore"))


@pytest.fixture(autouse=True)
def _pg_tools(backend: str) -> None:
    if backend == "postgresql" and not HAVE_PG_TOOLS:
        pytest.skip("pg_dump/pg_restore are not installed; PostgreSQL backups need the PostgreSQL client programs")


def _append(engine: Engine, subject_id: int) -> None:
    with session_scope(engine) as session:
        append_event(session, actor_id=None, actor="writer", action="test.write", subject_type="test",
                     subject_id=subject_id, township_id=None, before=None, after={"n": subject_id}, now=NOW)


def _audit(engine: Engine) -> tuple[int, int]:
    """(number of events, highest seq)."""
    with Session(engine) as session:
        count = session.exec(select(func.count()).select_from(AuditEvent)).one()
        top = session.exec(select(func.max(col(AuditEvent.seq)))).one()
    return count, top or 0


def _chain_ok(engine: Engine) -> int:
    with Session(engine) as session:
        result = verify_chain(session)
    assert result.ok, result
    return result.checked


@pytest.fixture
def fresh_url(engine: Engine, backend: str, tmp_path: Path) -> Iterator[str]:
    """An empty database of the same kind to restore into."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'restored' / 'duban.db'}"
        return
    name = f"duban_r_{uuid.uuid4().hex[:12]}"
    admin = create_engine(engine.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield engine.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_a_backup_taken_during_writes_is_a_consistent_snapshot(demo_county: Engine, fresh_url: str, tmp_path: Path) -> None:
    _append(demo_county, 0)
    stop = threading.Event()
    written: list[int] = []
    failures: list[BaseException] = []

    def writer() -> None:
        n = 1
        try:
            while not stop.is_set():
                _append(demo_county, n)
                written.append(n)
                n += 1
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            failures.append(exc)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while len(written) < 20 and thread.is_alive():  # the writer is well under way
            stop.wait(0.01)
        before, _ = _audit(demo_county)
        info = backup_database(demo_county.url.render_as_string(hide_password=False), tmp_path / "duban.backup")
        after, _ = _audit(demo_county)
        while len(written) < after + 20 and thread.is_alive():  # and keeps writing after the backup
            stop.wait(0.01)
    finally:
        stop.set()
        thread.join(timeout=60)
    assert not failures, failures
    assert info.path.is_file() and info.size > 0

    restore_database(fresh_url, info.path)
    restored = make_engine(fresh_url)
    try:
        count, top = _audit(restored)
        assert before <= count <= after and count == top, (before, count, after)
        assert _chain_ok(restored) == count
        if info.audit_events is not None:
            assert info.audit_events == count
        with Session(restored) as session:  # the rest of the data came along
            assert session.exec(select(func.count()).select_from(User)).one() >= 9
    finally:
        restored.dispose()
    assert _audit(demo_county)[0] > count  # the live database went on


def test_cli_backup_and_restore(demo_county: Engine, tmp_path: Path) -> None:
    _append(demo_county, 1)
    backup_file = tmp_path / "nightly" / "duban.backup"
    made = runner.invoke(app, ["backup", "--out", str(backup_file)])
    assert made.exit_code == 0, made.output
    assert "已备份" in made.output and backup_file.is_file()
    assert not list(backup_file.parent.glob("*.partial"))
    at_backup = _audit(demo_county)[0]

    _append(demo_county, 2)  # a change after the backup, which the restore undoes
    assert _audit(demo_county)[0] == at_backup + 1

    refused = runner.invoke(app, ["restore", str(backup_file)])
    assert refused.exit_code == 2 and "--yes" in refused.output and "覆盖" in refused.output, refused.output
    assert _audit(demo_county)[0] == at_backup + 1  # nothing changed

    garbage = tmp_path / "garbage.backup"
    garbage.write_bytes(b"this is not a backup at all" * 100)
    bad = runner.invoke(app, ["restore", str(garbage), "--yes"])
    assert bad.exit_code == 2 and "不是有效的备份文件" in bad.output, bad.output
    missing = runner.invoke(app, ["restore", str(tmp_path / "nope.backup"), "--yes"])
    assert missing.exit_code == 2 and "不存在" in missing.output, missing.output
    assert _audit(demo_county)[0] == at_backup + 1

    restored = runner.invoke(app, ["restore", str(backup_file), "--yes"])
    assert restored.exit_code == 0, restored.output
    assert "审计链完整" in restored.output
    assert _audit(demo_county) == (at_backup, at_backup)
    verified = runner.invoke(app, ["audit", "verify"])
    assert verified.exit_code == 0 and f"共 {at_backup} 条记录" in verified.output, verified.output

    # The restored database is in use again: the service can go on appending to the chain.
    _append(demo_county, 3)
    assert _chain_ok(demo_county) == at_backup + 1


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_damaged_sqlite_backup_is_refused(demo_county: Engine, tmp_path: Path) -> None:
    _append(demo_county, 1)
    good = backup_database(demo_county.url.render_as_string(hide_password=False), tmp_path / "good.db")
    assert check_backup(good.path).kind == "sqlite"
    data = good.path.read_bytes()

    truncated = tmp_path / "truncated.db"
    truncated.write_bytes(data[: len(data) // 2])
    scribbled = tmp_path / "scribbled.db"
    scribbled.write_bytes(data[:8192] + b"\xff" * 4096 + data[12288:])
    for damaged in (truncated, scribbled):
        result = runner.invoke(app, ["restore", str(damaged), "--yes"])
        assert result.exit_code == 2 and "错误" in result.output, (damaged.name, result.output)

    # A SQLite file that is not a duban database.
    other = tmp_path / "other.db"
    with create_engine(f"sqlite:///{other}").begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
    result = runner.invoke(app, ["restore", str(other), "--yes"])
    assert result.exit_code == 2 and "不是督办数据库的备份" in result.output, result.output

    # A backup whose audit chain was tampered with.
    tampered = tmp_path / "tampered.db"
    shutil.copyfile(good.path, tampered)
    _tamper(tampered)
    result = runner.invoke(app, ["restore", str(tampered), "--yes"])
    assert result.exit_code == 2 and "审计链断裂" in result.output, result.output
    _chain_ok(demo_county)


def _tamper(path: Path) -> None:
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET actor = 'someone-else' WHERE seq = (SELECT max(seq) FROM audit_events)"))
    engine.dispose()
