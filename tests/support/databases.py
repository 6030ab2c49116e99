"""Fresh migrated databases for the tests: the schema is migrated once per backend into a template, and every
test gets a copy of it (a file copy on SQLite, ``CREATE DATABASE … TEMPLATE`` on PostgreSQL). A second template per
backend holds the demo county as well, seeded once: the tests that use the demo county (most of them) get a copy of
that instead of seeding it each (0.11 s of CPU per seeding on SQLite, 0.22–0.27 s in the test process on PostgreSQL,
measured on the loaded test machine; 681 of the 1,714 tests use it). On PostgreSQL the copies are made ahead and
dropped afterwards in a background thread (:class:`PostgresCopies`)."""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import threading
import uuid
from collections import deque
from pathlib import Path

from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import Engine, make_url
from sqlmodel import SQLModel

from core.db import make_engine, reset_engines
from tests.support import postgres


class Templates:
    """The migrated templates of one test session, under ``root`` (SQLite) or on the test server (PostgreSQL)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.sqlite: dict[bool, Path] = {}  # by whether the demo county is seeded in it
        self.postgresql: dict[bool, str] = {}
        self.copies = PostgresCopies()

    def fresh(self, backend: str, demo: bool = False) -> tuple[str, str | None]:
        """A new migrated database, with the demo county if ``demo``: (its URL, the PostgreSQL database to hand to
        :meth:`discard` afterwards or None)."""
        if backend == "sqlite":
            target = self.root / f"db-{uuid.uuid4().hex}.db"
            shutil.copyfile(self._sqlite_template(demo), target)
            return f"sqlite:///{target}", None
        name = self.copies.take(self._postgresql_template(demo))
        return postgres.database_url(name), name

    def discard(self, pg_name: str) -> None:
        """Drop a PostgreSQL database from :meth:`fresh` once its test is over (in the background)."""
        self.copies.discard(pg_name)

    def _sqlite_template(self, demo: bool) -> Path:
        from models.migrate import upgrade

        if demo not in self.sqlite:
            template = self.root / ("template-demo.db" if demo else "template.db")
            if demo:
                shutil.copyfile(self._sqlite_template(False), template)
                _seed_demo(f"sqlite:///{template}")
                with sqlite3.connect(template) as raw:  # everything in the main file, which is what is copied
                    raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                raw.close()
            else:
                upgrade(f"sqlite:///{template}")
            self.sqlite[demo] = template
        return self.sqlite[demo]

    def _postgresql_template(self, demo: bool) -> str:
        from models.migrate import upgrade

        if demo not in self.postgresql:
            name = f"duban_tpl_{'demo_' if demo else ''}{os.getpid()}"
            postgres.drop_database(name)
            if demo:
                _seed_demo(postgres.create_database(name, template=self._postgresql_template(False)))
            else:
                upgrade(postgres.create_database(name))
            self.postgresql[demo] = name
        return self.postgresql[demo]

    def drop(self) -> None:
        """Drop the PostgreSQL templates and the copies not yet dropped (the SQLite ones go with ``root``)."""
        self.copies.close()
        for name in self.postgresql.values():
            postgres.drop_database(name)
        self.postgresql.clear()


class PostgresCopies:
    """Copies of PostgreSQL templates made ahead, and used databases dropped, by one background thread: a test
    takes a copy made while the test before it ran, and its database is dropped while the next one runs. Each
    test still has a database of its own, copied from the template and used by no test before it.

    Measured on the loaded 2-CPU test machine (PostgreSQL 15, the demo template ≈10 MB): ``CREATE DATABASE …
    TEMPLATE`` kept a test waiting 1.0–1.4 s, of which the server computed 0.5–0.8 s (the WAL_LOG strategy;
    FILE_COPY took 3 s, for its two checkpoints); ``DROP DATABASE`` 0.1–0.3 s, of which 0.02 s of computing. The
    rest is waiting on the disk, which a test now spends running instead."""

    def __init__(self, ahead: int = 1) -> None:
        self.ahead = ahead
        self._changed = threading.Condition()
        self._ready: dict[str, deque[str]] = {}  # by template: copies no test has had yet
        self._failed: dict[str, BaseException] = {}  # by template: why its last copy could not be made
        self._drops: deque[str] = deque()
        self._left: list[str] = []  # databases whose drop failed in the thread: tried again by close()
        self._thread: threading.Thread | None = None
        self._stopping = False

    def take(self, template: str) -> str:
        """A new copy of ``template`` (its name), made ahead when one was ready; the next is begun meanwhile."""
        with self._changed:
            ready = self._ready.setdefault(template, deque())
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="duban-test-databases", daemon=True)
                self._thread.start()
            thread = self._thread
            self._changed.notify_all()
            while not ready:
                if template in self._failed:
                    raise self._failed.pop(template)
                if not thread.is_alive():
                    raise RuntimeError("the thread making PostgreSQL test databases has stopped")
                self._changed.wait(timeout=1.0)
            name = ready.popleft()
            self._changed.notify_all()
            return name

    def discard(self, name: str) -> None:
        """Drop database ``name`` in the background (its open connections closed by the server)."""
        with self._changed:
            self._drops.append(name)
            self._changed.notify_all()

    def close(self) -> None:
        """Stop the thread and drop every copy not taken and every database still to drop."""
        with self._changed:
            self._stopping = True
            self._changed.notify_all()
        if self._thread is not None:
            self._thread.join()
        names = [*self._left, *self._drops, *(name for ready in self._ready.values() for name in ready)]
        self._left.clear()
        self._drops.clear()
        self._ready.clear()
        self._thread, self._stopping = None, False
        for name in names:
            postgres.drop_database(name)

    def _next(self) -> tuple[str, str] | None:
        """The next operation, under the lock: a copy a test may be waiting for first, then a drop, then copies
        up to ``ahead``; None when the thread is to stop."""
        while not self._stopping:
            for template, ready in self._ready.items():
                if not ready and template not in self._failed:
                    return "create", template
            if self._drops:
                return "drop", self._drops.popleft()
            for template, ready in self._ready.items():
                if len(ready) < self.ahead and template not in self._failed:
                    return "create", template
            self._changed.wait()
        return None

    def _run(self) -> None:
        admin = create_engine(postgres.PG_URL, isolation_level="AUTOCOMMIT")
        try:
            while True:
                with self._changed:
                    operation = self._next()
                if operation is None:
                    return
                kind, subject = operation
                try:
                    with admin.connect() as conn:
                        if kind == "create":
                            name = f"duban_t_{uuid.uuid4().hex[:12]}"
                            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{subject}"'))
                        else:
                            conn.execute(text(f'DROP DATABASE IF EXISTS "{subject}" WITH (FORCE)'))
                except Exception as error:  # noqa: BLE001 - raised by the test taking the copy; a drop is retried
                    with self._changed:
                        if kind == "create":
                            self._failed[subject] = error
                        else:
                            self._left.append(subject)
                        self._changed.notify_all()
                    continue
                with self._changed:
                    if kind == "create":
                        self._ready[subject].append(name)
                    self._changed.notify_all()
        finally:
            admin.dispose()


def _seed_demo(url: str) -> None:
    """The demo county in the database at ``url``, every connection to it closed afterwards (a template must
    have none)."""
    from tests.support.world import seed_demo_county

    engine = make_engine(url)
    try:
        seed_demo_county(engine)
    finally:
        engine.dispose()


def copy_database(engine: Engine, target: Path) -> tuple[str, str | None]:
    """A copy of the database behind ``engine``, every connection to it closed first: (its URL, the PostgreSQL
    database to drop afterwards or None). A SQLite copy is written to ``target``."""
    reset_engines()
    engine.dispose()
    if engine.dialect.name == "sqlite":
        _sqlite_copy(str(engine.url.database), str(target))
        return f"sqlite:///{target}", None
    name = f"duban_copy_{uuid.uuid4().hex[:12]}"
    return postgres.create_database(name, template=str(engine.url.database)), name


def _sqlite_copy(source: str, target: str) -> None:
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    with dst:
        src.backup(dst)
    src.close()
    dst.close()


class PreparedStates:
    """Databases prepared once per key (a backend, a job and backend, …) and handed to each test that starts from
    them: :meth:`restore` makes a test's database a copy of the kept one, :meth:`keep` keeps one. ``directory``
    (set by the module's fixture) holds the SQLite copies; :meth:`drop` removes the PostgreSQL ones."""

    def __init__(self) -> None:
        self.urls: dict[str, str] = {}
        self.directory: Path | None = None

    def restore(self, key: str, engine: Engine) -> bool:
        if key not in self.urls:
            return False
        restore_database(engine, self.urls[key])
        return True

    def keep(self, key: str, engine: Engine) -> None:
        assert self.directory is not None, "the module's fixture sets the directory first"
        self.urls[key], _ = copy_database(engine, self.directory / f"prepared-{key}.db")

    def drop(self) -> None:
        for url in self.urls.values():
            if url.startswith("postgresql"):
                postgres.drop_database(str(make_url(url).database))
        self.urls.clear()


def restore_database(engine: Engine, source: str) -> None:
    """Make the database behind ``engine`` a copy of the one at URL ``source`` (from :func:`copy_database`), under
    its own name, every connection to it closed first: a state prepared once, handed to each test that starts from
    it."""
    reset_engines()
    engine.dispose()
    if engine.dialect.name == "sqlite":
        _sqlite_copy(str(make_url(source).database), str(engine.url.database))
        return
    name = str(engine.url.database)
    postgres.drop_database(name)
    postgres.create_database(name, template=str(make_url(source).database))


def db_snapshot(engine: Engine, leave_out: frozenset[str] = frozenset()) -> dict[str, list[str]]:
    """Every row of every table of the schema, as text (sorted), to compare before and after; without the
    columns named in ``leave_out`` (``"table.column"``)."""
    with engine.connect() as conn:
        return {table.name: sorted(repr(tuple(row)) for row in conn.execute(
                    select(*(c for c in table.columns if f"{table.name}.{c.name}" not in leave_out))))
                for table in SQLModel.metadata.sorted_tables}


def db_fingerprint(engine: Engine) -> dict[str, str]:
    """A digest of each table's rows: equal fingerprints, equal contents (as :func:`db_snapshot` compares them),
    for a fraction of its cost — on PostgreSQL the server digests every table in one statement, on SQLite one
    read of each table in rowid order on a plain connection. For a check that usually finds nothing changed:
    take the snapshots only when the fingerprints differ."""
    tables = [table.name for table in SQLModel.metadata.sorted_tables]
    if engine.dialect.name == "postgresql":
        query = " UNION ALL ".join(
            f"SELECT '{name}', md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM \"{name}\" AS t"
            for name in tables)
        with engine.connect() as conn:
            digests = {str(name): str(digest) for name, digest in conn.exec_driver_sql(query)}
            conn.rollback()
        return digests
    raw = sqlite3.connect(f"file:{engine.url.database}?mode=ro", uri=True)
    try:
        return {name: hashlib.sha256(repr(raw.execute(f'SELECT * FROM "{name}" ORDER BY rowid').fetchall())
                                     .encode()).hexdigest() for name in tables}
    finally:
        raw.close()


def changed_tables(before: dict[str, list[str]], after: dict[str, list[str]]) -> list[str]:
    """The tables whose rows differ between two ``db_snapshot``s."""
    return [name for name in before if before[name] != after.get(name)]
