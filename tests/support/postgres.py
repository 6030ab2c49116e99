"""The PostgreSQL server of the tests: where it is, whether it answers, and throwaway databases on it.

``DUBAN_TEST_POSTGRES_URL`` names the server (a database on it to connect to for administration);
``DUBAN_TEST_POSTGRES=required`` makes an unreachable server an error instead of a reason to skip.
"""

from __future__ import annotations

import os

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from core.net import database_answers

PG_URL = os.environ.get("DUBAN_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
PG_REQUIRED = os.environ.get("DUBAN_TEST_POSTGRES") == "required"


def reachable() -> bool:
    """Whether the server's port answers (a cheap probe, no login)."""
    return database_answers(PG_URL)


def skip_unless_reachable(what: str) -> None:
    """Skip the test (or fail it, when PostgreSQL is required) if the server does not answer."""
    if not reachable():
        if PG_REQUIRED:
            pytest.fail(f"DUBAN_TEST_POSTGRES=required but PostgreSQL is not reachable at {PG_URL}")
        pytest.skip(f"{what} needs PostgreSQL, not reachable at {PG_URL}")


def database_url(name: str) -> str:
    """The URL of database ``name`` on the test server (password included, for child processes)."""
    return make_url(PG_URL).set(database=name).render_as_string(hide_password=False)


def create_database(name: str, template: str | None = None) -> str:
    """A new database ``name`` (a copy of ``template`` if given); returns its URL."""
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")))
    finally:
        admin.dispose()
    return database_url(name)


def drop_database(name: str) -> None:
    """Drop database ``name``, closing whatever connections are still open to it."""
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()
