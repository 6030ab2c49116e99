"""A request that cannot get SQLite's write lock within the busy timeout answers 503 with Retry-After,
writes nothing, and the next request after the lock is released succeeds; a request that only reads
(a read transaction, ``api.deps.ReadSessionDep``) is answered while the lock is held."""

from __future__ import annotations

import sqlite3
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from core.db import reset_engines
from core.settings import get_settings
from models import ApiToken
from tasks.accounts import DEMO_PASSWORD


def _tokens(engine: Engine) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(ApiToken)).one()


async def test_a_locked_sqlite_database_answers_503_not_500(anon: httpx.AsyncClient, login: Any, demo_county: Engine,
                                                           backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if backend != "sqlite":
        pytest.skip("PostgreSQL has row locks: readers never wait for a writer")
    headers = await login(anon, "admin")
    tokens = _tokens(demo_county)
    monkeypatch.setenv("DUBAN_SQLITE_BUSY_TIMEOUT_MS", "100")
    get_settings.cache_clear()
    reset_engines()
    holder = sqlite3.connect(str(demo_county.url.database), isolation_level=None)
    signing_in = {"username": "admin", "password": DEMO_PASSWORD}
    try:
        holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        r = await anon.post("/api/v1/auth/token", json=signing_in)  # issuing a token writes one
        assert r.status_code == 503, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.headers["retry-after"] == "2" and "稍后重试" in r.json()["detail"]
        # reads do not queue for the write lock: they read the last committed state beside the writer
        assert (await anon.get("/api/v1/campaigns", headers=headers)).status_code == 200
        assert (await anon.get("/api/v1/reviews/queue", headers=headers)).status_code == 200
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert _tokens(demo_county) == tokens
    assert (await anon.post("/api/v1/auth/token", json=signing_in)).status_code == 200
    assert _tokens(demo_county) == tokens + 1
