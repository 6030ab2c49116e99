"""Shared bench plumbing: the process environment, throwaway databases, raw DBAPI access, figures.

Nothing here imports duban at module level: ``configure_environment()`` must run first, because
duban's settings and Prefect read their environment variables when they are first imported.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PG_ADMIN_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
PG_PREFIX = "duban_bench_"

_tmp: Path | None = None


def configure_environment() -> Path:
    """Point duban and Prefect at a private temporary directory; returns that directory."""
    global _tmp
    if _tmp is None:
        _tmp = Path(tempfile.mkdtemp(prefix="duban-bench-"))
        from core.prefect_env import isolate

        isolate(_tmp)
        os.environ["DUBAN_DATABASE_URL"] = f"sqlite:///{_tmp / 'unused.db'}"
    return _tmp


def cleanup_environment() -> None:
    global _tmp
    if _tmp is not None:
        shutil.rmtree(_tmp, ignore_errors=True)
        _tmp = None


def use_database(url: str) -> None:
    """Make ``url`` duban's database: settings are re-read and cached engines are disposed."""
    os.environ["DUBAN_DATABASE_URL"] = url
    from core.db import reset_engines
    from core.settings import get_settings

    get_settings.cache_clear()
    reset_engines()


def postgres_reachable() -> bool:
    from core.net import database_answers

    return database_answers(PG_ADMIN_URL)


def backends() -> list[str]:
    """SQLite always; PostgreSQL when its port answers (``BENCH_BACKENDS=sqlite`` to restrict)."""
    wanted = [b.strip() for b in os.environ.get("BENCH_BACKENDS", "sqlite,postgresql").split(",") if b.strip()]
    out = [b for b in wanted if b == "sqlite"]
    if "postgresql" in wanted and postgres_reachable():
        out.append("postgresql")
    return out


@dataclass
class BenchDB:
    """One freshly migrated database: its SQLAlchemy URL and how to open a raw DBAPI connection."""

    backend: str
    url: str
    name: str  # the SQLite file or the PostgreSQL database

    @property
    def placeholder(self) -> str:
        return "?" if self.backend == "sqlite" else "%s"

    def connect(self) -> Any:
        """A raw DBAPI connection with no transaction open (``begin``/``commit`` delimit one)."""
        if self.backend == "sqlite":
            conn = sqlite3.connect(self.name, isolation_level=None)
            # The same connection settings as duban's engine (core.db.make_engine).
            for pragma in ("journal_mode=WAL", "busy_timeout=15000", "foreign_keys=ON", "synchronous=NORMAL"):
                conn.execute(f"PRAGMA {pragma}")
            return conn
        import psycopg
        from sqlalchemy.engine import make_url

        conninfo = make_url(self.url).set(drivername="postgresql").render_as_string(hide_password=False)
        return psycopg.connect(conninfo)  # the first statement opens the transaction

    def begin(self, conn: Any) -> None:
        if self.backend == "sqlite":
            conn.execute("BEGIN IMMEDIATE")  # as duban's engine does for every transaction

    def commit(self, conn: Any) -> None:
        if self.backend == "sqlite":
            conn.execute("COMMIT")
        else:
            conn.commit()


@dataclass
class TempDatabases:
    """Creates migrated databases of one backend and removes every one of them on exit."""

    backend: str
    root: Path
    created: list[BenchDB] = field(default_factory=list)

    def create(self, label: str) -> BenchDB:
        from models.migrate import upgrade

        suffix = f"{label}_{uuid.uuid4().hex[:10]}"
        if self.backend == "sqlite":
            path = self.root / f"{suffix}.db"
            db = BenchDB("sqlite", f"sqlite:///{path}", str(path))
        else:
            from sqlalchemy.engine import make_url

            name = f"{PG_PREFIX}{suffix}"
            with _pg_admin() as conn:
                conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
            db = BenchDB("postgresql", make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False), name)
        self.created.append(db)
        upgrade(db.url)
        return db

    def drop_all(self) -> None:
        from core.db import reset_engines

        reset_engines()
        for db in self.created:
            if db.backend == "sqlite":
                for extra in ("", "-wal", "-shm"):
                    Path(db.name + extra).unlink(missing_ok=True)
            else:
                with suppress(Exception), _pg_admin() as conn:
                    conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{db.name}" WITH (FORCE)')
        self.created.clear()


@contextmanager
def _pg_admin() -> Iterator[Any]:
    from sqlalchemy import create_engine

    engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


@contextmanager
def temp_databases(backend: str, root: Path) -> Iterator[TempDatabases]:
    dbs = TempDatabases(backend, root)
    try:
        yield dbs
    finally:
        dbs.drop_all()


@dataclass
class Figure:
    """One line of the table: duban's time against its baseline's, both in seconds."""

    benchmark: str
    name: str
    backend: str
    duban_s: float
    baseline_s: float
    target_ratio: float
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def figure(self) -> str:
        return f"{self.benchmark} {self.name} ({self.backend})"

    @property
    def ratio(self) -> float:
        return self.duban_s / self.baseline_s if self.baseline_s > 0 else float("inf")

    @property
    def passed(self) -> bool:
        return self.ratio <= self.target_ratio

    def as_json(self) -> dict[str, Any]:
        return {
            "benchmark": self.benchmark,
            "name": self.name,
            "backend": self.backend,
            "duban_s": round(self.duban_s, 4),
            "baseline_s": round(self.baseline_s, 4),
            "ratio": round(self.ratio, 3),
            "target_ratio": self.target_ratio,
            "passed": self.passed,
            **self.details,
        }
