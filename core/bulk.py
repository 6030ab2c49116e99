"""Bulk inserts handed straight to the driver: rows as tuples, one ``executemany``, no per-row ORM or Core work.

SQLAlchemy's ``conn.execute(insert(table), [dict, …])`` compiles the parameters of every row and runs every value
through its type's bind processor (on SQLite a date becomes ISO text in Python, a JSON value its ``json.dumps``).
:func:`insert_rows` binds each value with the same processor, so the stored values are the ones SQLAlchemy would
have stored, but only once per distinct hashable value (a launch's thousands of due dates are a few dozen
distinct dates), and passes the tuples to the driver's ``executemany`` through ``exec_driver_sql``, which keeps
SQLAlchemy's error translation (an ``IntegrityError`` is still ``sqlalchemy.exc.IntegrityError``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Table, text
from sqlalchemy.engine import Connection

Bind = Callable[[Any], Any]


def _identity(value: Any) -> Any:
    return value


def binder(conn: Connection, table: Table, column: str) -> Bind:
    """``column``'s bind processor on ``conn``'s dialect, memoised for hashable values (identity when it has none)."""
    process = table.c[column].type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
    if process is None:
        return _identity
    cache: dict[Any, Any] = {}

    def bind(value: Any) -> Any:
        try:
            return cache[value]
        except KeyError:
            cache[value] = bound = process(value)
            return bound
        except TypeError:  # unhashable (a JSON list or mapping): bound every time
            return process(value)

    return bind


def _bound(row: tuple[Any, ...], binds: list[tuple[int, Bind]]) -> tuple[Any, ...]:
    values = list(row)
    for i, bind in binds:
        values[i] = bind(values[i])
    return tuple(values)


def insert_rows(conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None:
    """Insert ``rows`` (tuples of Python values in the order of ``columns``) into ``table`` with one ``executemany``."""
    if not rows:
        return
    binds = [(i, b) for i, b in enumerate(binder(conn, table, c) for c in columns) if b is not _identity]
    if binds:
        rows = [_bound(row, binds) for row in rows]
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    names = ", ".join(f'"{c}"' for c in columns)
    sql = f"INSERT INTO {table.name} ({names}) VALUES ({', '.join([mark] * len(columns))})"
    conn.exec_driver_sql(sql, list(rows))


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
