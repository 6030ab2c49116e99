"""Signing in: API tokens, web sessions with their CSRF token, lockout, and the ``duban users`` commands."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import httpx
from fastapi import routing
from fastapi.routing import APIRoute
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from api.app import create_app
from cli.main import app as cli
from core.clock import FakeClock
from models import User
from tasks.accounts import DEMO_PASSWORD, MAX_FAILED_LOGINS

runner = CliRunner()
TOKEN = "/api/v1/auth/token"
CJK = re.compile(r"[\u4e00-\u9fff]")


def _problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, f"{response.request.method} {response.request.url}: {response.status_code} {response.text}"
    assert response.headers["content-type"].startswith("application/problem+json")
    body = dict(response.json())
    assert body["status"] == status and CJK.search(body["detail"]), body
    if status == 401:
        assert response.headers["www-authenticate"] == "Bearer"
    return body


async def _token(client: httpx.AsyncClient, username: str, password: str = DEMO_PASSWORD) -> httpx.Response:
    return await client.post(TOKEN, json={"username": username, "password": password})


# ---- API tokens -----------------------------------------------------------------------------------------

BAD_TOKEN_REQUESTS = [
    ({"username": "admin", "password": DEMO_PASSWORD, "remember": True}, "remember"),
    ({"username": "admin"}, "password"),
    ({"username": "", "password": DEMO_PASSWORD}, "username"),
]


async def test_token_for_the_right_password_only(anon: httpx.AsyncClient, clock: FakeClock) -> None:
    response = await _token(anon, "qx01-liaison")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer" and body["access_token"]
    assert dt.datetime.fromisoformat(body["expires_at"]) == clock.now() + dt.timedelta(days=30)
    me = await anon.get("/api/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200, me.text
    assert {k: me.json()[k] for k in ("username", "display_name", "role")} == {
        "username": "qx01-liaison", "display_name": "青石镇党建联络员", "role": "submitter"}
    assert len(me.json()["townships"]) == 1
    # The scheme is case-insensitive; the token is not.
    assert (await anon.get("/api/v1/me", headers={"Authorization": f"bearer {body['access_token']}"})).status_code == 200
    _problem(await anon.get("/api/v1/me", headers={"Authorization": f"Bearer {body['access_token'].upper()}"}), 401)

    # A wrong password and an unknown user get the very same answer.
    wrong = _problem(await _token(anon, "qx01-liaison", "not-the-password"), 401)
    unknown = _problem(await _token(anon, "nobody-here", "not-the-password"), 401)
    assert wrong == unknown
    assert "用户名或密码错误" in wrong["detail"]

    for request, field in BAD_TOKEN_REQUESTS:
        problem = _problem(await anon.post(TOKEN, json=request), 422)
        assert [e["field"] for e in problem["errors"]] == [field], problem
        assert field in problem["detail"]


async def test_malformed_unknown_and_expired_tokens_are_401(anon: httpx.AsyncClient, login: Any, clock: FakeClock) -> None:
    for header in ("Basic x", "Bearer ", "Bearer", "Token abc", "Bearer    "):
        problem = _problem(await anon.get("/api/v1/me", headers={"Authorization": header}), 401)
        assert "Bearer <令牌>" in problem["detail"] and TOKEN in problem["detail"], (header, problem)
    assert "令牌无效或已过期" in _problem(await anon.get("/api/v1/me", headers={"Authorization": "Bearer dbn_forged"}), 401)["detail"]

    headers = await login(anon, "observer")
    clock.advance(dt.timedelta(days=29, hours=23))
    assert (await anon.get("/api/v1/me", headers=headers)).status_code == 200
    clock.advance(dt.timedelta(days=1, hours=1))  # 31 days after it was issued
    assert "令牌无效或已过期" in _problem(await anon.get("/api/v1/me", headers=headers), 401)["detail"]
    fresh = await login(anon, "observer")  # signing in again works
    assert (await anon.get("/api/v1/me", headers=fresh)).status_code == 200


async def test_ten_wrong_passwords_lock_the_account(anon: httpx.AsyncClient, clock: FakeClock) -> None:
    # The short lockout (5 failures in 15 minutes, 429) is in tests/api/test_security.py; here the failures
    # are spread out so that only the account's own count of consecutive failures is at work.
    # A success resets the count.
    for _ in range(4):
        _problem(await _token(anon, "qx02-liaison", "guess"), 401)
    assert (await _token(anon, "qx02-liaison")).status_code == 200
    for attempt in range(MAX_FAILED_LOGINS):
        if attempt % 4 == 0:
            clock.advance(dt.timedelta(minutes=16))
        _problem(await _token(anon, "qx02-liaison", "guess"), 401)
    clock.advance(dt.timedelta(minutes=16))
    locked = _problem(await _token(anon, "qx02-liaison"), 401)
    assert locked == _problem(await _token(anon, "qx02-liaison", "guess"), 401)
    page = await anon.post("/login", data={"username": "qx02-liaison", "password": DEMO_PASSWORD})
    assert page.status_code == 401 and "用户名或密码错误" in page.text and "duban_session" not in page.headers.get("set-cookie", "")
    # Only that account is locked.
    assert (await _token(anon, "qx02-secretary")).status_code == 200


def _api_routes() -> list[tuple[str, str]]:
    app = create_app()
    contexts = routing.iter_route_contexts(app.routes) if hasattr(routing, "iter_route_contexts") else app.routes
    found = []
    for route in contexts:
        original = getattr(route, "original_route", route)
        if isinstance(original, APIRoute) and route.path and route.path.startswith("/api/v1/"):
            found += [(method, route.path) for method in sorted(route.methods or ())]
    return sorted(found)


async def test_every_api_route_needs_credentials(anon: httpx.AsyncClient) -> None:
    routes = [r for r in _api_routes() if r[1] != TOKEN]
    assert len(routes) >= 20, routes
    failures = []
    for method, path in routes:
        url = re.sub(r"\{[^}]+\}", "1", path)
        for headers in ({}, {"Cookie": "duban_session=not-a-session"}):
            response = await anon.request(method, url, headers=headers)
            if response.status_code != 401 or response.headers.get("www-authenticate") != "Bearer" \
                    or not response.headers["content-type"].startswith("application/problem+json"):
                failures.append(f"{method} {url} {headers} → {response.status_code} {response.text[:120]}")
    assert failures == [], "\n".join(failures)


# ---- web sessions ----------------------------------------------------------------------------------------


def _session_cookie(response: httpx.Response) -> tuple[str, str]:
    """(value, attributes) of the duban_session cookie the response sets."""
    for header in response.headers.get_list("set-cookie"):
        name, _, rest = header.partition("=")
        if name.strip() == "duban_session":
            value, _, attributes = rest.partition(";")
            return value, attributes
    raise AssertionError(f"no duban_session cookie in {response.headers.get_list('set-cookie')}")


def _csrf(page: str) -> str:
    """The CSRF token in the hidden input of the page's logout form."""
    form = re.search(r'<form[^>]*action="/logout"[^>]*>(.*?)</form>', page, re.S)
    assert form, "the page has no logout form"
    field = re.search(r'<input[^>]*name="csrf_token"[^>]*>', form.group(1))
    value = re.search(r'value="([^"]+)"', field.group(0)) if field else None
    assert value, "the logout form has no csrf_token"
    return value.group(1)


async def test_web_login_session_csrf_and_logout(anon: httpx.AsyncClient) -> None:
    first = await anon.get("/")
    assert first.status_code == 303 and first.headers["location"].startswith("/login")

    signed_in = await anon.post("/login", data={"username": "qx01-liaison", "password": DEMO_PASSWORD, "next": "/"})
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/"
    cookie, attributes = _session_cookie(signed_in)
    flags = {a.strip().lower() for a in attributes.split(";")}
    assert "httponly" in flags and "samesite=lax" in flags, attributes
    assert cookie

    home = await anon.get("/")
    assert home.status_code == 200 and "青石镇党建联络员" in home.text
    csrf = _csrf(home.text)
    me = await anon.get("/api/v1/me")  # a safe method needs no CSRF token
    assert me.status_code == 200 and me.json()["username"] == "qx01-liaison"

    # An unsafe API request with only the cookie: refused without the CSRF header or with a wrong one.
    unknown_obligation = {"obligation_id": 999_999, "data": {}}
    for headers in ({}, {"X-CSRF-Token": "wrong"}, {"X-CSRF-Token": ""}):
        problem = _problem(await anon.post("/api/v1/submissions", json=unknown_obligation, headers=headers), 403)
        assert "CSRF" in problem["detail"]
    _problem(await anon.patch("/api/v1/submissions/1", json={"data": {}, "version": 1}), 403)
    # With the token of the page, the request gets through to the handler (here: no such obligation).
    allowed = await anon.post("/api/v1/submissions", json=unknown_obligation, headers={"X-CSRF-Token": csrf})
    assert allowed.status_code == 404, allowed.text

    # Logging out without the token does not end the session (no cross-site logout) ...
    await anon.post("/logout", data={})
    still = await anon.get("/", headers={"Cookie": f"duban_session={cookie}"})
    assert still.status_code == 200
    # ... with it, it does: the old cookie no longer works anywhere.
    out = await anon.post("/logout", data={"csrf_token": csrf}, headers={"Cookie": f"duban_session={cookie}"})
    assert out.status_code == 303 and out.headers["location"] == "/login"
    anon.cookies.clear()
    replayed = {"Cookie": f"duban_session={cookie}"}
    assert (await anon.get("/", headers=replayed)).status_code == 303
    _problem(await anon.get("/api/v1/me", headers=replayed), 401)
    _problem(await anon.post("/api/v1/submissions", json=unknown_obligation, headers=replayed | {"X-CSRF-Token": csrf}), 401)


async def test_web_login_refusals_and_session_expiry(anon: httpx.AsyncClient, clock: FakeClock) -> None:
    for username in ("qx01-liaison", "nobody-here"):
        page = await anon.post("/login", data={"username": username, "password": "wrong-password"})
        assert page.status_code == 401 and page.headers["content-type"].startswith("text/html")
        assert "用户名或密码错误" in page.text
        assert not any(h.startswith("duban_session=") for h in page.headers.get_list("set-cookie"))
    assert (await anon.get("/")).status_code == 303

    # A session lasts twelve hours.
    signed_in = await anon.post("/login", data={"username": "observer", "password": DEMO_PASSWORD})
    assert signed_in.status_code == 303
    clock.advance(dt.timedelta(hours=11, minutes=59))
    assert (await anon.get("/")).status_code == 200
    clock.advance(dt.timedelta(minutes=2))
    assert (await anon.get("/")).status_code == 303


# ---- duban users ------------------------------------------------------------------------------------------


def _usernames(engine: Engine, names: list[str]) -> list[str]:
    with Session(engine) as session:
        return sorted(session.exec(select(User.username).where(col(User.username).in_(names))))


REFUSED_ACCOUNTS = [
    (["--role", "submitter"], "乡镇级组织编码"),
    (["--role", "submitter", "--unit", "QX"], "乡镇级组织编码"),
    (["--role", "submitter", "--unit", "QX01001"], "乡镇级组织编码"),
    (["--role", "submitter", "--unit", "QX99"], "QX99"),
    (["--role", "reviewer", "--unit", "QX01"], "township 或 county"),
    (["--role", "boss", "--unit", "QX01"], "角色只能是"),
]


async def test_cli_users_add_creates_accounts_that_can_sign_in_and_refuses_bad_ones(anon: httpx.AsyncClient, demo_county: Engine) -> None:
    result = runner.invoke(cli, ["users", "add", "--username", "qx04-liaison", "--role", "submitter", "--name", "秀水乡党建联络员",
                                 "--unit", "QX04", "--password", "a-good-password"])
    assert result.exit_code == 0, result.output
    assert "qx04-liaison" in result.output and "a-good-password" not in result.output
    token = await _token(anon, "qx04-liaison", "a-good-password")
    assert token.status_code == 200, token.text
    me = (await anon.get("/api/v1/me", headers={"Authorization": f"Bearer {token.json()['access_token']}"})).json()
    assert (me["username"], me["role"]) == ("qx04-liaison", "submitter")

    # Without --password one is generated and printed once.
    generated = runner.invoke(cli, ["users", "add", "--username", "leader2", "--role", "observer", "--name", "县领导",
                                    "--scope", "QX05"])
    assert generated.exit_code == 0, generated.output
    match = re.search(r"初始密码：(\S+)", generated.output)
    assert match, generated.output
    assert (await _token(anon, "leader2", match.group(1))).status_code == 200

    # A role without the unit it acts for is refused with a message, exit status 2, and no account.
    for args, message in REFUSED_ACCOUNTS:
        result = runner.invoke(cli, ["users", "add", "--username", "someone", "--name", "某人", "--password", "a-good-password", *args])
        assert result.exit_code == 2, (args, result.output)
        assert "错误" in result.output and message in result.output, (args, result.output)
    assert _usernames(demo_county, ["someone"]) == []


def test_cli_users_import_is_all_or_nothing(demo_county: Engine, tmp_path: Path) -> None:
    path = tmp_path / "accounts.csv"
    header = "username,display_name,role,level,unit,email,password,scopes\n"
    good = "qx05-liaison,秀水联络员,submitter,,QX05,,a-good-password,\n"
    bad = "qx06-liaison,联络员,submitter,,,,a-good-password,\n"  # a submitter without a township
    last = "qx07-secretary,审核人,reviewer,township,QX07,,a-good-password,\n"
    path.write_text(header + good + bad + last, encoding="utf-8")
    result = runner.invoke(cli, ["users", "import", str(path)])
    assert result.exit_code == 2, result.output
    assert "accounts.csv" in result.output and "第3行" in result.output and "乡镇级组织编码" in result.output, result.output
    assert _usernames(demo_county, ["qx05-liaison", "qx06-liaison", "qx07-secretary"]) == []

    path.write_text(header + good + last, encoding="utf-8")
    fixed = runner.invoke(cli, ["users", "import", str(path)])
    assert fixed.exit_code == 0, fixed.output
    assert _usernames(demo_county, ["qx05-liaison", "qx06-liaison", "qx07-secretary"]) == ["qx05-liaison", "qx07-secretary"]
