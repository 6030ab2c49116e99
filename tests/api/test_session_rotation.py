"""Privilege-relevant account changes end the account's sessions and tokens at once: deactivating it
(``duban users deactivate``) and setting a new password (``duban users set-password``)."""

from __future__ import annotations

import datetime as dt
import getpass

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select
from typer.testing import CliRunner

from cli.main import app as cli
from core.clock import FakeClock
from core.db import session_scope
from domain.errors import NotFound, ValidationFailed
from models import ApiToken, AuditEvent, User, WebSession
from tasks.accounts import DEMO_PASSWORD, deactivate_user, set_password
from tasks.audit import verify_chain
from tests.support.web import WebUser, web_sign_in

runner = CliRunner()
NEW_PASSWORD = "a-new-password-42"


async def _signed_in_everywhere(anon: httpx.AsyncClient, username: str) -> tuple[dict[str, str], WebUser]:
    token = await anon.post("/api/v1/auth/token", json={"username": username, "password": DEMO_PASSWORD})
    assert token.status_code == 200, token.text
    return {"Authorization": f"Bearer {token.json()['access_token']}"}, await web_sign_in(anon, username)


async def _works(anon: httpx.AsyncClient, bearer: dict[str, str], web: WebUser) -> tuple[int, int, int]:
    anon.cookies.clear()
    return ((await anon.get("/api/v1/me", headers=bearer)).status_code,
            (await anon.get("/", headers={"Cookie": f"duban_session={web.cookie}"})).status_code,
            (await anon.get("/api/v1/me", headers={"Cookie": f"duban_session={web.cookie}"})).status_code)


def _rows(engine: Engine, username: str) -> tuple[int, int]:
    with Session(engine) as session:
        user_id = session.exec(select(User.id).where(User.username == username)).one()
        return (session.exec(select(func.count()).select_from(WebSession).where(col(WebSession.user_id) == user_id)).one(),
                session.exec(select(func.count()).select_from(ApiToken).where(col(ApiToken.user_id) == user_id)).one())


async def test_deactivating_an_account_ends_its_sessions_and_tokens(anon: httpx.AsyncClient, demo_county: Engine,
                                                                    clock: FakeClock) -> None:
    bearer, web = await _signed_in_everywhere(anon, "qx01-liaison")
    other_bearer, other_web = await _signed_in_everywhere(anon, "qx01-secretary")
    assert await _works(anon, bearer, web) == (200, 200, 200)
    assert _rows(demo_county, "qx01-liaison") == (1, 1)

    result = runner.invoke(cli, ["users", "deactivate", "qx01-liaison"])
    assert result.exit_code == 0, result.output
    assert "qx01-liaison" in result.output and "2" in result.output

    # The token answers 401, the cookie leads to the login page; nothing of them is left in the database.
    assert await _works(anon, bearer, web) == (401, 303, 401)
    assert _rows(demo_county, "qx01-liaison") == (0, 0)
    # Signing in again is refused, through either door.
    assert (await anon.post("/api/v1/auth/token", json={"username": "qx01-liaison", "password": DEMO_PASSWORD})).status_code == 401
    anon.cookies.clear()
    assert (await anon.post("/login", data={"username": "qx01-liaison", "password": DEMO_PASSWORD})).status_code == 401
    # Other accounts keep theirs.
    assert await _works(anon, other_bearer, other_web) == (200, 200, 200)

    with Session(demo_county) as session:
        event = session.exec(select(AuditEvent).where(AuditEvent.action == "user.deactivated")).one()
        assert (event.actor, event.subject_type, event.before, event.after) == (
            f"system:cli:{getpass.getuser()}", "user", {"active": True}, {"active": False, "sessions_ended": 2})
        assert verify_chain(session).ok

    unknown = runner.invoke(cli, ["users", "deactivate", "nobody-here"])
    assert unknown.exit_code == 2 and "nobody-here" in unknown.output


async def test_a_new_password_ends_the_sessions_and_tokens_issued_before(anon: httpx.AsyncClient, demo_county: Engine,
                                                                         clock: FakeClock) -> None:
    bearer, web = await _signed_in_everywhere(anon, "observer")
    second_bearer, _ = await _signed_in_everywhere(anon, "observer")
    assert _rows(demo_county, "observer") == (2, 2)
    clock.advance(dt.timedelta(minutes=5))

    result = runner.invoke(cli, ["users", "set-password", "observer", "--password", NEW_PASSWORD])
    assert result.exit_code == 0, result.output
    assert NEW_PASSWORD not in result.output

    assert await _works(anon, bearer, web) == (401, 303, 401)
    assert (await anon.get("/api/v1/me", headers=second_bearer)).status_code == 401
    assert _rows(demo_county, "observer") == (0, 0)
    # The old password no longer works, the new one does.
    assert (await anon.post("/api/v1/auth/token", json={"username": "observer", "password": DEMO_PASSWORD})).status_code == 401
    fresh = await anon.post("/api/v1/auth/token", json={"username": "observer", "password": NEW_PASSWORD})
    assert fresh.status_code == 200, fresh.text
    assert (await anon.get("/api/v1/me", headers={"Authorization": f"Bearer {fresh.json()['access_token']}"})).status_code == 200

    with Session(demo_county) as session:
        event = session.exec(select(AuditEvent).where(AuditEvent.action == "user.password_changed")).one()
        assert event.after == {"sessions_ended": 4}
        assert NEW_PASSWORD not in str(event.after) and verify_chain(session).ok

    # Without --password one is generated and printed once.
    generated = runner.invoke(cli, ["users", "set-password", "observer"])
    assert generated.exit_code == 0 and "新密码：" in generated.output, generated.output


def test_refusals_change_nothing(demo_county: Engine, clock: FakeClock) -> None:
    with session_scope(demo_county) as session:
        before = session.exec(select(User.password_hash).where(User.username == "admin")).one()
        with pytest.raises(ValidationFailed):
            set_password(session, "admin", "short", clock.now())
        with pytest.raises(NotFound):
            set_password(session, "nobody-here", NEW_PASSWORD, clock.now())
        with pytest.raises(NotFound):
            deactivate_user(session, "nobody-here", clock.now())
        assert session.exec(select(User.password_hash).where(User.username == "admin")).one() == before
    too_short = runner.invoke(cli, ["users", "set-password", "admin", "--password", "short"])
    assert too_short.exit_code == 2 and "8 到 200" in too_short.output
