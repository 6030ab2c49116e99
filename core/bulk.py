"""Bulk inserts handed straight to the driver: rows as tuples, one statement, no per-row ORM or Core work.

SQLAlchemy's ``conn.execute(insert(table), [dict, …])`` compiles the parameters of every row and runs every value
through its type's bind processor (on SQLite a date becomes ISO text in Python, a JSON value its ``json.dumps``).
:func:`insert_rows` binds each value with the same processor, so the stored values are the ones SQLAlchemy would
have stored, but column by column and only once per distinct value (a launch's thousands of due dates are a few
dozen distinct dates), and passes the tuples to the driver: on SQLite one ``executemany`` through ``exec_driver_sql``, on
PostgreSQL one ``COPY … FROM STDIN``; errors are SQLAlchemy's either way (an ``IntegrityError`` is
``sqlalchemy.exc.IntegrityError``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import JSON, Table, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

Bind = Callable[[Any], Any]


def _processor(conn: Connection, table: Table, column: str) -> tuple[Bind, bool] | None:
    """``column``'s bind processor on ``conn``'s dialect (None when the driver takes the Python value as it is), and
    whether values equal under ``==`` bind alike (not for JSON, where ``1`` and ``True`` do not)."""
    kind = table.c[column].type
    process = kind.dialect_impl(conn.dialect).bind_processor(conn.dialect)
    return None if process is None else (process, not isinstance(kind, JSON))


def _bound(process: Bind, by_value: bool, values: list[Any]) -> list[Any]:
    """``values`` through ``process``: once per distinct value when ``by_value``, once per value otherwise."""
    if not by_value:
        return [process(value) for value in values]
    distinct = {value: process(value) for value in set(values)}
    return list(map(distinct.__getitem__, values))


def insert_rows(conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None:
    """Insert ``rows`` (tuples of Python values in the order of ``columns``) into ``table`` in one statement."""
    if not rows:
        return
    binds = [(i, p) for i, p in enumerate(_processor(conn, table, c) for c in columns) if p is not None]
    if binds:
        values = [list(column) for column in zip(*rows, strict=True)]  # column by column
        for i, (process, by_value) in binds:
            values[i] = _bound(process, by_value, values[i])
        rows = list(zip(*values, strict=True))
    names = ", ".join(f'"{c}"' for c in columns)
    if conn.dialect.name == "postgresql":
        _copy_rows(conn, f"COPY {table.name} ({names}) FROM STDIN", rows)
        return
    conn.exec_driver_sql(f"INSERT INTO {table.name} ({names}) VALUES ({', '.join(['?'] * len(columns))})", list(rows))


def _copy_rows(conn: Connection, sql: str, rows: Sequence[tuple[Any, ...]]) -> None:
    """PostgreSQL: the rows through ``COPY … FROM STDIN`` on the connection's own transaction (psycopg's
    ``executemany`` sends one prepared statement per row); a driver error is raised as SQLAlchemy's (an
    ``IntegrityError`` stays ``sqlalchemy.exc.IntegrityError``)."""
    import psycopg

    raw = conn.connection.driver_connection
    assert isinstance(raw, psycopg.Connection)
    try:
        with raw.cursor() as cursor, cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row(row)
    except psycopg.Error as exc:
        raise DBAPIError.instance(sql, None, exc, psycopg.Error) from exc


def new_ids(conn: Connection, table: Table, n: int) -> list[int]:
    """``n`` ids for rows about to be inserted into ``table`` (its ``id`` column), in the order they would be given.

    PostgreSQL: taken from the table's sequence. SQLite: the ids after the largest one, which is what SQLite itself
    gives (an ``INTEGER PRIMARY KEY`` without ``AUTOINCREMENT``); safe because a duban write transaction holds the
    database's write lock from its first statement (``BEGIN IMMEDIATE``, ``core.db``)."""
    if n <= 0:
        return []
    if conn.dialect.name == "postgresql":
        return list(conn.execute(text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)"),
                                 {"table": table.name, "n": n}).scalars())
    last = conn.execute(text(f"SELECT coalesce(max(id), 0) FROM {table.name}")).scalar_one()
    return list(range(int(last) + 1, int(last) + 1 + n))
