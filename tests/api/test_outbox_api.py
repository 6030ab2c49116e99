"""Administrators see the outbox, its dead letters, and can retry them; nobody else can."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
from sqlalchemy.engine import Engine
from sqlmodel import Session

from core.db import session_scope
from models import OutboxMessage


def _message(engine: Engine, status: str, key: str) -> int:
    with session_scope(engine) as s:
        m = OutboxMessage(key=key, message_id=f"<{key}@duban.local>", to_addr="a@b.cn", subject="测试",
                          body_text="正文", body_html="<p>正文</p>", status=status, attempts=3,
                          last_error="550 mailbox unavailable" if status == "dead" else None,
                          created_at=dt.datetime(2025, 1, 2, tzinfo=dt.UTC))
        s.add(m)
        s.flush()
        return m.id or 0


async def test_dead_letters_are_visible_and_retryable(client: httpx.AsyncClient, demo_county: Engine) -> None:
    dead = _message(demo_county, "dead", "k-dead")
    sent = _message(demo_county, "sent", "k-sent")
    listed = (await client.get("/api/v1/outbox", params={"status": "dead"})).json()
    assert listed["counts"]["dead"] == 1 and listed["counts"]["sent"] == 1
    assert [m["id"] for m in listed["items"]] == [dead]
    assert listed["items"][0]["last_error"] == "550 mailbox unavailable"
    retried = await client.post(f"/api/v1/outbox/{dead}/retry")
    assert retried.status_code == 200 and retried.json()["status"] == "pending"
    with Session(demo_county) as s:
        assert s.get(OutboxMessage, dead).status == "pending"  # type: ignore[union-attr]
    again = await client.post(f"/api/v1/outbox/{sent}/retry")
    assert again.status_code == 409
    assert (await client.post("/api/v1/outbox/999999/retry")).status_code == 404
    assert (await client.get("/api/v1/outbox", params={"status": "lost"})).status_code == 422


async def test_only_administrators(anon: httpx.AsyncClient, login: Any, demo_county: Engine) -> None:
    dead = _message(demo_county, "dead", "k-dead-2")
    for user in ("qx01-liaison", "qx01-secretary", "county-reviewer", "observer"):
        headers = await login(anon, user)
        assert (await anon.get("/api/v1/outbox", headers=headers)).status_code == 403
        assert (await anon.post(f"/api/v1/outbox/{dead}/retry", headers=headers)).status_code == 403
    assert (await anon.get("/api/v1/outbox")).status_code == 401
