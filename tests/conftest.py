"""Shared fixtures: a fresh migrated database per test (SQLite always, PostgreSQL when reachable),
a virtual clock, and the ASGI app over real HTTP semantics."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from core.prefect_env import isolate

_TMP = Path(tempfile.mkdtemp(prefix="duban-tests-"))
isolate(_TMP)
os.environ["DUBAN_PASSWORD_HASHING"] = "cheap"
os.environ["DUBAN_SCHEDULER"] = "off"
os.environ.pop("DUBAN_DATABASE_URL", None)

import httpx  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402

from core.clock import FakeClock  # noqa: E402
from core.db import get_engine, reset_engines  # noqa: E402
from core.settings import get_settings  # noqa: E402
from tests.support import postgres  # noqa: E402
from tests.support.clock import fake_clock  # noqa: E402
from tests.support.databases import Templates  # noqa: E402
from tests.support.world import SignedIn, token_for  # noqa: E402

PG_OK = postgres.reachable()
if postgres.PG_REQUIRED and not PG_OK:
    raise RuntimeError(f"DUBAN_TEST_POSTGRES=required but {postgres.PG_URL} is unreachable")

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param(
        "postgresql",
        id="postgresql",
        marks=[
            pytest.mark.postgres,
            pytest.mark.skipif(not PG_OK, reason=f"PostgreSQL is not reachable at {postgres.PG_URL}"),
        ],
    ),
]

_templates = Templates(_TMP)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def engine(backend: str, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Iterator[Engine]:
    """A fresh, migrated database; settings and the engine cache point at it for the test. For a test that uses
    the demo county (``demo_county``, directly or through ``anon``, ``client``, …) it is a copy of the database the
    demo county was seeded in once per session."""
    url, pg_name = _templates.fresh(backend, demo="demo_county" in request.fixturenames)
    monkeypatch.setenv("DUBAN_DATABASE_URL", url)
    get_settings.cache_clear()
    reset_engines()
    try:
        yield get_engine()
    finally:
        reset_engines()
        get_settings.cache_clear()
        if pg_name:
            _templates.discard(pg_name)


@pytest.fixture
def clock() -> Iterator[FakeClock]:
    with fake_clock() as fake:
        yield fake


@pytest.fixture
def demo_county(engine: Engine) -> Engine:
    """The demo county with its demo accounts (all with the demo password): the ``engine`` fixture copied it."""
    return engine


@pytest.fixture
async def anon(demo_county: Engine, clock: FakeClock) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client over the ASGI app, signed in as nobody."""
    from api.app import create_app

    transport = httpx.ASGITransport(app=create_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://duban.test") as c:
        yield c


@pytest.fixture
def login() -> Any:
    """``await login(client, username)`` → the Authorization header of a fresh token."""
    return token_for


@pytest.fixture
async def users(anon: httpx.AsyncClient, login: Any) -> SignedIn:
    """``await users(username)``: a demo user's bearer header, re-issued after the clock moves far."""
    return SignedIn(anon, login)


@pytest.fixture
async def client(anon: httpx.AsyncClient) -> httpx.AsyncClient:
    """The HTTP client signed in as the county administrator (bearer token)."""
    anon.headers.update(await token_for(anon, "admin"))
    return anon


# The longest tests go first, so that neither xdist worker is left with one of them at the end while the other
# waits (the offline install, collected last, used to add its minute to the run).
LONGEST_FIRST = ("tests/test_offline_install.py", "tests/api/test_fuzz.py", "tests/api/test_route_matrix.py",
                 "tests/flows/test_prefect_deploy.py", "tests/api/test_stationing_programme.py")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The longest tests first; tests marked ``soak`` run only in ``make soak`` (``DUBAN_SOAK=1``,
    tests/support/soak.py)."""
    from tests.support.soak import soak_enabled

    items.sort(key=lambda item: 0 if item.nodeid.split("::")[0] in LONGEST_FIRST else 1)  # stable: order kept within
    if soak_enabled():
        return
    skip = pytest.mark.skip(reason="a soak-size test: `make soak` runs it")
    for item in items:
        if item.get_closest_marker("soak") is not None:
            item.add_marker(skip)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    with contextlib.suppress(Exception):  # cleanup must not mask the result
        _templates.drop()
    shutil.rmtree(_TMP, ignore_errors=True)
