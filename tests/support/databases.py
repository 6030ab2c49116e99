"""Fresh migrated databases for the tests: the schema is migrated once per backend into a template, and every
test gets a copy of it (a file copy on SQLite, ``CREATE DATABASE … TEMPLATE`` on PostgreSQL)."""

from __future__ import annotations

import os
import shutil
import sqlite3
import uuid
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from core.db import reset_engines
from tests.support import postgres


class Templates:
    """The migrated templates of one test session, under ``root`` (SQLite) or on the test server (PostgreSQL)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.sqlite: Path | None = None
        self.postgresql: str | None = None

    def fresh(self, backend: str) -> tuple[str, str | None]:
        """A new migrated database: (its URL, the PostgreSQL database to drop afterwards or None)."""
        if backend == "sqlite":
            return self._fresh_sqlite(), None
        name = f"duban_t_{uuid.uuid4().hex[:12]}"
        return postgres.create_database(name, template=self._postgresql_template()), name

    def _fresh_sqlite(self) -> str:
        from models.migrate import upgrade

        if self.sqlite is None:
            template = self.root / "template.db"
            upgrade(f"sqlite:///{template}")
            self.sqlite = template
        target = self.root / f"db-{uuid.uuid4().hex}.db"
        shutil.copyfile(self.sqlite, target)
        return f"sqlite:///{target}"

    def _postgresql_template(self) -> str:
        from models.migrate import upgrade

        if self.postgresql is None:
            name = f"duban_tpl_{os.getpid()}"
            postgres.drop_database(name)
            upgrade(postgres.create_database(name))
            self.postgresql = name
        return self.postgresql

    def drop(self) -> None:
        """Drop the PostgreSQL template (the SQLite one goes with ``root``)."""
        if self.postgresql is not None:
            postgres.drop_database(self.postgresql)
            self.postgresql = None


def copy_database(engine: Engine, target: Path) -> tuple[str, str | None]:
    """A copy of the database behind ``engine``, every connection to it closed first: (its URL, the PostgreSQL
    database to drop afterwards or None). A SQLite copy is written to ``target``."""
    reset_engines()
    engine.dispose()
    if engine.dialect.name == "sqlite":
        src, dst = sqlite3.connect(str(engine.url.database)), sqlite3.connect(target)
        with dst:
            src.backup(dst)
        src.close()
        dst.close()
        return f"sqlite:///{target}", None
    name = f"duban_copy_{uuid.uuid4().hex[:12]}"
    return postgres.create_database(name, template=str(engine.url.database)), name


def db_snapshot(engine: Engine, leave_out: frozenset[str] = frozenset()) -> dict[str, list[str]]:
    """Every row of every table of the schema, as text (sorted), to compare before and after; without the
    columns named in ``leave_out`` (``"table.column"``)."""
    with engine.connect() as conn:
        return {table.name: sorted(repr(tuple(row)) for row in conn.execute(
                    select(*(c for c in table.columns if f"{table.name}.{c.name}" not in leave_out))))
                for table in SQLModel.metadata.sorted_tables}


def changed_tables(before: dict[str, list[str]], after: dict[str, list[str]]) -> list[str]:
    """The tables whose rows differ between two ``db_snapshot``s."""
    return [name for name in before if before[name] != after.get(name)]
