"""Shared fixtures: a fresh migrated database per test (SQLite always, PostgreSQL when reachable),
a virtual clock, and the ASGI app over real HTTP semantics."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import socket
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

_TMP = Path(tempfile.mkdtemp(prefix="duban-tests-"))
os.environ["PREFECT_HOME"] = str(_TMP / "prefect")
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ["PREFECT_LOGGING_LEVEL"] = "WARNING"
os.environ["DUBAN_VAR_DIR"] = str(_TMP / "var")
os.environ["DUBAN_SMTP_SINK"] = "false"
os.environ["DUBAN_PREFECT_WARMUP"] = "false"
os.environ["DUBAN_PASSWORD_HASHING"] = "cheap"
os.environ["DUBAN_SCHEDULER"] = "off"
os.environ.pop("DUBAN_DATABASE_URL", None)
os.environ.pop("DATABASE_URL", None)

import httpx  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import Engine, make_url  # noqa: E402

from core import clock as clock_module  # noqa: E402
from core.clock import FakeClock  # noqa: E402
from core.db import get_engine, reset_engines  # noqa: E402
from core.settings import get_settings  # noqa: E402

PG_URL = os.environ.get("DUBAN_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
PG_REQUIRED = os.environ.get("DUBAN_TEST_POSTGRES") == "required"


def _pg_reachable() -> bool:
    url = make_url(PG_URL)
    try:
        with socket.create_connection((url.host or "127.0.0.1", url.port or 5432), timeout=2):
            return True
    except OSError:
        return False


PG_OK = _pg_reachable()
if PG_REQUIRED and not PG_OK:
    raise RuntimeError(f"DUBAN_TEST_POSTGRES=required but {PG_URL} is unreachable")

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param(
        "postgresql",
        id="postgresql",
        marks=[
            pytest.mark.postgres,
            pytest.mark.skipif(not PG_OK, reason=f"PostgreSQL is not reachable at {PG_URL}"),
        ],
    ),
]

_templates: dict[str, str] = {}


def _sqlite_url() -> str:
    from models.migrate import upgrade

    template = _TMP / "template.db"
    if "sqlite" not in _templates:
        upgrade(f"sqlite:///{template}")
        _templates["sqlite"] = str(template)
    target = _TMP / f"db-{uuid.uuid4().hex}.db"
    shutil.copyfile(template, target)
    return f"sqlite:///{target}"


def _pg_url() -> tuple[str, str]:
    from models.migrate import upgrade

    name = f"duban_t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if "postgresql" not in _templates:
            tpl = f"duban_tpl_{os.getpid()}"
            conn.execute(text(f'DROP DATABASE IF EXISTS "{tpl}"'))
            conn.execute(text(f'CREATE DATABASE "{tpl}"'))
            upgrade(make_url(PG_URL).set(database=tpl).render_as_string(hide_password=False))
            _templates["postgresql"] = tpl
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{_templates["postgresql"]}"'))
    admin.dispose()
    return make_url(PG_URL).set(database=name).render_as_string(hide_password=False), name


def _drop_pg(name: str) -> None:
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def engine(backend: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """A fresh, migrated database; settings and the engine cache point at it for the test."""
    pg_name = None
    if backend == "sqlite":
        url = _sqlite_url()
    else:
        url, pg_name = _pg_url()
    monkeypatch.setenv("DUBAN_DATABASE_URL", url)
    get_settings.cache_clear()
    reset_engines()
    try:
        yield get_engine()
    finally:
        reset_engines()
        get_settings.cache_clear()
        if pg_name:
            _drop_pg(pg_name)


@pytest.fixture
def clock() -> Iterator[FakeClock]:
    fake = FakeClock(dt.datetime(2025, 1, 2, 9, 0, tzinfo=clock_module.CHINA_TZ))
    previous = clock_module.get_clock()
    clock_module.set_clock(fake)
    yield fake
    clock_module.set_clock(previous)


@pytest.fixture
def demo_county(engine: Engine) -> Engine:
    """The demo county with its demo accounts (all with the demo password)."""
    from core.db import session_scope
    from tasks.accounts import seed_demo_users
    from tasks.org import demo_county_rows, import_org_units

    with session_scope(engine) as session:
        import_org_units(session, demo_county_rows())
        session.flush()
        seed_demo_users(session, dt.datetime(2024, 12, 1, tzinfo=dt.UTC))
    return engine


@pytest.fixture
async def anon(demo_county: Engine, clock: FakeClock) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client over the ASGI app, signed in as nobody."""
    from api.app import create_app

    transport = httpx.ASGITransport(app=create_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://duban.test") as c:
        yield c


async def token_for(client: httpx.AsyncClient, username: str) -> dict[str, str]:
    from tasks.accounts import DEMO_PASSWORD

    response = await client.post("/api/v1/auth/token", json={"username": username, "password": DEMO_PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.fixture
def login() -> Any:
    """``await login(client, username)`` → the Authorization header of a fresh token."""
    return token_for


@pytest.fixture
async def client(anon: httpx.AsyncClient) -> httpx.AsyncClient:
    """The HTTP client signed in as the county administrator (bearer token)."""
    anon.headers.update(await token_for(anon, "admin"))
    return anon


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if "postgresql" in _templates:
        with contextlib.suppress(Exception):  # cleanup must not mask the result
            _drop_pg(_templates["postgresql"])
    shutil.rmtree(_TMP, ignore_errors=True)
