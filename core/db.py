"""Database engine and sessions: SQLite (WAL, busy timeout, foreign keys) or PostgreSQL.

Every transaction is a write unless it is begun as a read (``read_only``, ``begin_read``). On SQLite a write
begins ``BEGIN IMMEDIATE`` (it holds the database's write lock from its first statement, so it never fails
upgrading a read lock), while a read begins a deferred ``BEGIN`` on its WAL snapshot beside the writer, with
``PRAGMA query_only`` on; on PostgreSQL a read is a ``READ ONLY`` transaction. A write through a read
transaction fails on both (``sqlite3.OperationalError: attempt to write a readonly database``,
``ReadOnlySqlTransaction``)."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import ARRAY, any_, bindparam, event
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import SessionTransaction
from sqlmodel import Session, create_engine

from core.settings import get_settings

_engines: dict[str, Engine] = {}
_readers: dict[int, tuple[Engine, Engine]] = {}  # id(engine) → (engine, its read_only twin)

#: the execution option that makes a connection's next transaction a read (see the module's docstring)
READ_ONLY = "duban_read_only"


def make_engine(url: str, busy_timeout_ms: int = 15_000) -> Engine:
    """Build an engine with the connection settings duban relies on."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": busy_timeout_ms / 1000},
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # Take over transaction control so BEGIN IMMEDIATE can be issued for writes.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            read = bool(conn.get_execution_options().get(READ_ONLY))
            info = conn.connection.info
            if info.get("query_only", False) != read:
                conn.exec_driver_sql(f"PRAGMA query_only={int(read)}")
                info["query_only"] = read
            # Readers read their snapshot beside the writer; writers queue on the busy timeout for the write
            # lock up front instead of failing on lock upgrade.
            conn.exec_driver_sql("BEGIN" if read else "BEGIN IMMEDIATE")

        @event.listens_for(engine, "checkin")
        def _sqlite_checkin(dbapi_conn: Any, record: Any) -> None:
            # A connection goes back to the pool writable, whoever takes it next and however.
            if record.info.get("query_only"):
                dbapi_conn.execute("PRAGMA query_only=0")
                record.info["query_only"] = False

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def get_engine(url: str | None = None) -> Engine:
    settings = get_settings()
    url = url or settings.effective_database_url
    engine = _engines.get(url)
    if engine is None:
        engine = make_engine(url, settings.sqlite_busy_timeout_ms)
        _engines[url] = engine
    return engine


def read_only(engine: Engine) -> Engine:
    """``engine`` whose every transaction is a read: a session bound to it cannot write (see the module's docstring)."""
    if engine.get_execution_options().get(READ_ONLY):
        return engine
    cached = _readers.get(id(engine))
    if cached is not None and cached[0] is engine:
        return cached[1]
    options: dict[str, Any] = {READ_ONLY: True}
    if engine.dialect.name == "postgresql":
        options["postgresql_readonly"] = True
    reader = engine.execution_options(**options)
    _readers[id(engine)] = (engine, reader)
    return reader


def begin_read(session: Session) -> None:
    """Begin ``session``'s next transaction as a read (a no-op when one is already under way); after it
    commits or rolls back, the session's transactions are writes again unless its bind is ``read_only``."""
    if session.in_transaction():
        return
    bind = session.get_bind()
    assert isinstance(bind, Engine)
    session.connection(execution_options=dict(read_only(bind).get_execution_options()))


def reset_engines() -> None:
    for engine in _engines.values():
        engine.dispose()
    _engines.clear()
    _readers.clear()


@contextmanager
def session_scope(engine: Engine | None = None) -> Iterator[Session]:
    """A session whose transaction commits on success and rolls back on any error."""
    with Session(engine or get_engine(), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def execute_prebuilt(session: Session, statement: Any, params: Mapping[str, Any] | None = None) -> Any:
    """Run a Core statement built once at import (bound parameters, no ORM entities) in ``session``'s transaction,
    flushing first as ``session.execute`` would: SQLAlchemy then neither builds it nor computes its cache key
    again, and the ORM's per-execution work is skipped. Returns the ``CursorResult``."""
    if session.autoflush:
        session.flush()
    return session.connection().execute(statement, dict(params or {}))


def one_of(session: Session, column: Any, values: Collection[Any], sql_type: Any) -> Any:
    """``column IN values`` for a long list of values: on PostgreSQL ``column = ANY(array)`` with the values as one
    array parameter, because an ``IN`` list of thousands is thousands of parameters, which SQLAlchemy expands and
    psycopg re-parses on every execution (≈0.1 ms each); elsewhere the plain ``IN``. ``sql_type``: the values' type."""
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, list(values), type_=ARRAY(sql_type)))
    return column.in_(list(values))


class DriverStatement:
    """A statement compiled once by SQLAlchemy for ``conn``'s dialect, to be run on the DBAPI cursor: SQLAlchemy's
    work per execution (and, for a multi-row ``INSERT``, psycopg re-parsing thousands of placeholders) costs more
    than the write itself where the same statement runs thousands of times. ``params`` gives the values as the
    columns store them (the types' bind processors applied: e.g. aware times in UTC).

    ``complete`` is False when the statement would need a Python-side column default that ``keys`` leave out (the
    driver would not fill it in): run it through SQLAlchemy then."""

    def __init__(self, conn: Connection, statement: Any, keys: Sequence[str] | None = None) -> None:
        compiled = statement.compile(dialect=conn.dialect, column_keys=list(keys) if keys is not None else None)
        self.sql = str(compiled)
        self.complete = not getattr(compiled, "insert_prefetch", None)
        self._compiled = compiled
        self._names = compiled.positiontup  # the order of qmark parameters (SQLite); None for named ones
        self._process = {}
        for name, bind in compiled.binds.items():
            process = bind.type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
            if process is not None:
                self._process[name] = process

    def values(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """Every parameter by name: ``given`` and the statement's constants, processed for the driver."""
        params = self._compiled.construct_params(dict(given))
        for name, process in self._process.items():
            if params.get(name) is not None:
                params[name] = process(params[name])
        return params

    def args(self, params: Mapping[str, Any]) -> Any:
        """``params`` (from :meth:`values`) in the driver's parameter style."""
        return [params[name] for name in self._names] if self._names else params


# ---- memory that lasts one transaction ------------------------------------------------------------

_TRANSACTION_MEMO = "duban_transaction_memo"  # session.info: (the transaction, {name: value})


@event.listens_for(OrmSession, "after_transaction_end")
def _forget_transaction_memo(session: OrmSession, transaction: SessionTransaction) -> None:
    # A flush runs in a subtransaction of its own, which ends without ending the database's transaction.
    if _TRANSACTION_MEMO in session.info and (transaction.parent is None or transaction.nested):
        del session.info[_TRANSACTION_MEMO]


def transaction_memo(session: Session) -> dict[str, Any]:
    """A dict for what the session's current transaction has read or written and may reuse until it ends: it is
    emptied whenever one of the session's transactions ends (committed or rolled back, a savepoint's included),
    and a savepoint begun meanwhile starts with an empty one. Keep in it only what no other writer can change
    while the transaction lasts (what its locks protect, or what this transaction alone writes). Begins the
    session's transaction (a write) when none is under way: the memo belongs to one."""
    if session.get_transaction() is None:
        session.connection()
    current = session.get_nested_transaction() or session.get_transaction()
    held = session.info.get(_TRANSACTION_MEMO)
    if held is None or held[0] is not current:
        held = (current, {})
        session.info[_TRANSACTION_MEMO] = held
    memo: dict[str, Any] = held[1]
    return memo
