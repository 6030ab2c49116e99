"""Read transactions (``core.db.read_only``, ``begin_read``): on SQLite they run beside a writer that holds the
write lock instead of queueing for it; on both databases a write through one fails loudly, and the
connection goes back to the pool writable."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, select

from core.db import begin_read, make_engine, read_only, session_scope
from models import OrgUnit


def _a_unit(code: str) -> OrgUnit:
    return OrgUnit(code=code, name=f"测试{code}", kind="county")


def test_a_write_through_a_read_only_session_fails_and_writes_nothing(engine: Engine) -> None:
    with Session(read_only(engine)) as session:
        assert session.exec(select(OrgUnit)).all() == []
        session.add(_a_unit("RO1"))
        with pytest.raises(DBAPIError, match="(?i)readonly|read-only"):
            session.flush()
        session.rollback()
        with pytest.raises(DBAPIError, match="(?i)readonly|read-only"):
            session.execute(text("DELETE FROM org_units"))
    with session_scope(engine) as session:  # the same pooled connections, writable again
        session.add(_a_unit("RW1"))
    with Session(engine) as session:
        assert [u.code for u in session.exec(select(OrgUnit))] == ["RW1"]


def test_begin_read_makes_only_the_next_transaction_a_read(engine: Engine) -> None:
    with Session(engine) as session:
        begin_read(session)
        session.add(_a_unit("RO2"))
        with pytest.raises(DBAPIError, match="(?i)readonly|read-only"):
            session.flush()
        session.rollback()
        session.add(_a_unit("RW2"))  # the next transaction is a write again
        session.commit()
        assert [u.code for u in session.exec(select(OrgUnit))] == ["RW2"]


def test_on_sqlite_a_read_runs_while_another_process_holds_the_write_lock(engine: Engine, backend: str) -> None:
    if backend != "sqlite":
        pytest.skip("SQLite only: PostgreSQL readers never wait for writers")
    with session_scope(engine) as session:
        session.add(_a_unit("W1"))
    holder = sqlite3.connect(str(engine.url.database), isolation_level=None, timeout=0.1)
    try:
        holder.execute("BEGIN IMMEDIATE")
        holder.execute("INSERT INTO org_units (code, name, kind) VALUES ('W2', '未提交', 'county')")
        impatient = make_engine(str(engine.url), busy_timeout_ms=100)
        with Session(read_only(impatient)) as session:  # reads the last committed state at once
            assert [u.code for u in session.exec(select(OrgUnit))] == ["W1"]
            session.commit()
        with pytest.raises(DBAPIError, match="locked"), Session(impatient) as session:
            session.exec(select(OrgUnit)).all()  # a write transaction waits for the lock, here 0.1 s
        impatient.dispose()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
