"""HTTP hardening: security headers, the request body limit, sign-in lockout with its audit trail, sessions."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import re
from collections.abc import AsyncIterator
from typing import Any

import argon2
import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from api.app import create_app
from api.security import DOCS_CSP, SecurityHeadersMiddleware
from core.clock import FakeClock
from core.settings import get_settings
from models import AuditEvent, Campaign
from tasks.accounts import DEMO_PASSWORD
from tasks.audit import verify_chain
from tasks.login_guard import LOCKED, LOGIN_FAILED

TOKEN = "/api/v1/auth/token"
CJK = re.compile(r"[\u4e00-\u9fff]")
FIXED_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
}


def _assert_hardened(response: httpx.Response) -> str:
    for name, value in FIXED_HEADERS.items():
        assert response.headers.get(name) == value, (response.request.url, name, response.headers)
    assert "camera=()" in response.headers["permissions-policy"]
    assert "strict-transport-security" not in response.headers  # the demo site is plain HTTP
    return response.headers["content-security-policy"]


def _directive(csp: str, name: str) -> list[str]:
    for part in csp.split(";"):
        words = part.split()
        if words and words[0] == name:
            return words[1:]
    raise AssertionError(f"no {name} in {csp}")


async def _web_login(client: httpx.AsyncClient, username: str, password: str = DEMO_PASSWORD) -> httpx.Response:
    return await client.post("/login", data={"username": username, "password": password, "next": "/"})


def _session_cookie(response: httpx.Response) -> str | None:
    for header in response.headers.get_list("set-cookie"):
        name, _, rest = header.partition("=")
        if name.strip() == "duban_session":
            return rest.partition(";")[0]
    return None


# ---- security headers -------------------------------------------------------------------------------------


async def test_headers_on_api_pages_errors_and_docs(client: httpx.AsyncClient) -> None:
    anon = client  # the same client; pages and errors do not care about the bearer token
    api = await client.get("/api/v1/me")
    assert api.status_code == 200
    csp = _assert_hardened(api)
    assert _directive(csp, "default-src") == ["'self'"] and _directive(csp, "frame-ancestors") == ["'none'"]
    assert "'unsafe-inline'" not in _directive(csp, "script-src") and "'unsafe-eval'" not in csp

    page = await anon.get("/login")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert _assert_hardened(page) == csp

    for error in (await anon.get("/api/v1/no-such-thing"), await anon.get("/api/v1/me", headers={"Authorization": "Bearer dbn_forged"}),
                  await client.post("/api/v1/campaigns", json={"definition": 1})):
        assert error.status_code in (401, 404, 422) and error.headers["content-type"].startswith("application/problem+json")
        _assert_hardened(error)
    static = await anon.get("/static/duban.css")
    assert static.status_code == 200 and _assert_hardened(static) == csp

    # Swagger UI and ReDoc load their bundles from duban itself and start with an inline script.
    for path in ("/docs", "/redoc"):
        docs = await anon.get(path)
        assert docs.status_code == 200 and _assert_hardened(docs) == DOCS_CSP
        assert not re.findall(r'(?:src|href)="(https?:)', docs.text)
        assert "https:" not in DOCS_CSP


async def test_the_inline_script_of_the_launch_page_is_allowed_by_its_hash(anon: httpx.AsyncClient) -> None:
    assert (await _web_login(anon, "admin")).status_code == 303
    page = await anon.get("/admin/launch")
    assert page.status_code == 200, page.text
    scripts = re.findall(r"<script>(.*?)</script>", page.text, re.S)
    assert scripts, "the launch page has its inline script"
    allowed = _directive(page.headers["content-security-policy"], "script-src")
    for body in scripts:
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in allowed
    assert "<script src=" not in page.text and 'style="' not in page.text


async def test_a_route_that_sets_its_own_policy_keeps_it() -> None:
    async def own(_: Request) -> PlainTextResponse:
        return PlainTextResponse("x", headers={"Content-Security-Policy": "default-src 'none'"})

    inner = Starlette(routes=[Route("/own", own)])
    app = SecurityHeadersMiddleware(inner, csp="default-src 'self'", docs_csp=DOCS_CSP, docs_paths=["/docs"], hsts=True)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        response = await c.get("/own")
    assert response.headers["content-security-policy"] == "default-src 'none'"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["strict-transport-security"].startswith("max-age=")


async def test_hsts_only_when_the_site_says_it_is_https(demo_county: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUBAN_BASE_URL", "https://duban.example.gov.cn")
    get_settings.cache_clear()
    transport = httpx.ASGITransport(app=create_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="https://duban.example.gov.cn") as c:
        response = await c.get("/login")
    assert response.headers["strict-transport-security"] == "max-age=31536000"


# ---- request body limit -----------------------------------------------------------------------------------


def _counts(engine: Engine) -> tuple[int, int]:
    with Session(engine) as session:
        campaigns = session.exec(select(func.count()).select_from(Campaign)).one()
        events = session.exec(select(func.count()).select_from(AuditEvent)).one()
    return campaigns, events


async def test_oversized_bodies_are_refused_with_413_and_change_nothing(client: httpx.AsyncClient, demo_county: Engine) -> None:
    limit = get_settings().max_request_bytes
    assert limit == 12 * 1024 * 1024
    before = _counts(demo_county)
    padding = "x" * (limit + 1)
    body = f'{{"definition": "weak_village_rectification", "township": "QX01", "year": 2026, "note": "{padding}"}}'

    declared = await client.post("/api/v1/campaigns", content=body.encode(), headers={"Content-Type": "application/json"})
    assert declared.status_code == 413
    assert declared.headers["content-type"].startswith("application/problem+json")
    problem = declared.json()
    assert problem["status"] == 413 and problem["title"] == "请求体过大" and "12 MB" in problem["detail"]
    _assert_hardened(declared)

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the bytes are counted as they arrive
        data = body.encode()
        for start in range(0, len(data), 1024 * 1024):
            yield data[start:start + 1024 * 1024]

    streamed = await client.post("/api/v1/campaigns", content=chunks(), headers={"Content-Type": "application/json"})
    assert streamed.status_code == 413, streamed.text
    assert "content-length" not in streamed.request.headers
    assert streamed.json()["title"] == "请求体过大" and CJK.search(streamed.json()["detail"])

    # The same for a web form (multipart upload) and for anonymous callers.
    files = {"file": ("big.xlsx", b"\0" * (limit + 10), "application/octet-stream")}
    form = await client.post("/ledgers/org-units", files=files)
    assert form.status_code == 413
    assert (await client.post(TOKEN, content=chunks())).status_code == 413
    assert _counts(demo_county) == before

    # A body under the limit still reaches the handler.
    small = await client.post("/api/v1/campaigns", json={"definition": "no-such-definition", "township": "QX01", "year": 2026})
    assert small.status_code in (404, 422), small.text


# ---- sign-in lockout --------------------------------------------------------------------------------------


async def _token(client: httpx.AsyncClient, username: str, password: str = DEMO_PASSWORD) -> httpx.Response:
    return await client.post(TOKEN, json={"username": username, "password": password})


def _login_events(engine: Engine, username: str) -> list[AuditEvent]:
    with Session(engine) as session:
        return list(session.exec(select(AuditEvent).where(col(AuditEvent.actor) == username)
                                 .where(col(AuditEvent.action).in_((LOGIN_FAILED, LOCKED))).order_by(col(AuditEvent.seq))))


def _chain_ok(engine: Engine) -> None:
    with Session(engine) as session:
        result = verify_chain(session)
    assert result.ok, result


async def test_five_failures_lock_the_username_for_fifteen_minutes(anon: httpx.AsyncClient, demo_county: Engine,
                                                                   clock: FakeClock) -> None:
    for _ in range(5):
        failed = await _token(anon, "qx02-liaison", "wrong-password")
        assert failed.status_code == 401 and "用户名或密码错误" in failed.json()["detail"]
        clock.advance(dt.timedelta(seconds=30))

    locked = await _token(anon, "qx02-liaison")  # the right password, refused
    assert locked.status_code == 429 and locked.headers["content-type"].startswith("application/problem+json")
    body = locked.json()
    assert body["status"] == 429 and "分钟后" in body["detail"] and CJK.search(body["title"])
    # Locked at the fifth failure (two minutes ago), for fifteen minutes.
    assert locked.headers["retry-after"] == str(14 * 60 + 30) == str(body["retry_after"])
    _assert_hardened(locked)
    assert (await _token(anon, "qx02-secretary")).status_code == 200  # only that username is locked

    events = _login_events(demo_county, "qx02-liaison")
    assert [e.action for e in events] == [LOGIN_FAILED] * 5 + [LOCKED]
    for event in events:
        assert event.after is not None and event.after["username"] == "qx02-liaison" and event.after["channel"] == "api"
        assert DEMO_PASSWORD not in str(event.after) and "wrong-password" not in str(event.after)
    _chain_ok(demo_county)

    clock.advance(dt.timedelta(minutes=14, seconds=29))
    still = await _token(anon, "qx02-liaison")
    assert still.status_code == 429 and still.headers["retry-after"] == "1"
    clock.advance(dt.timedelta(seconds=1))
    assert (await _token(anon, "qx02-liaison")).status_code == 200
    # Refused attempts are not failures: the lock is not extended, and the count starts afresh.
    assert [e.action for e in _login_events(demo_county, "qx02-liaison")] == [LOGIN_FAILED] * 5 + [LOCKED]
    assert (await _token(anon, "qx02-liaison", "wrong-password")).status_code == 401
    assert (await _token(anon, "qx02-liaison")).status_code == 200
    _chain_ok(demo_county)


async def test_failures_older_than_the_window_do_not_count(anon: httpx.AsyncClient, clock: FakeClock) -> None:
    for _ in range(4):
        assert (await _token(anon, "qx01-secretary", "wrong-password")).status_code == 401
    clock.advance(dt.timedelta(minutes=15))
    for _ in range(4):
        assert (await _token(anon, "qx01-secretary", "wrong-password")).status_code == 401
    assert (await _token(anon, "qx01-secretary")).status_code == 200


async def test_the_web_login_form_is_limited_the_same_way(anon: httpx.AsyncClient, demo_county: Engine,
                                                          clock: FakeClock) -> None:
    for _ in range(3):
        page = await _web_login(anon, "qx03-secretary", "wrong-password")
        assert page.status_code == 401 and _session_cookie(page) is None
    for _ in range(2):  # failures through either door count together
        assert (await _token(anon, "qx03-secretary", "wrong-password")).status_code == 401

    page = await _web_login(anon, "qx03-secretary")
    assert page.status_code == 429 and page.headers["content-type"].startswith("text/html")
    assert page.headers["retry-after"] == "900"
    assert "登录失败次数过多" in page.text and "15 分钟后" in page.text
    assert _session_cookie(page) is None
    _assert_hardened(page)
    assert (await _token(anon, "qx03-secretary")).status_code == 429
    assert [e.after["channel"] for e in _login_events(demo_county, "qx03-secretary") if e.after] == \
        ["web"] * 3 + ["api"] * 2 + ["api"]

    clock.advance(dt.timedelta(minutes=15))
    signed_in = await _web_login(anon, "qx03-secretary")
    assert signed_in.status_code == 303 and _session_cookie(signed_in)
    _chain_ok(demo_county)


async def test_unknown_usernames_behave_like_known_ones(anon: httpx.AsyncClient, demo_county: Engine,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    verified: list[str] = []
    original = argon2.PasswordHasher.verify

    def counting_verify(self: argon2.PasswordHasher, hash: str | bytes, password: str | bytes) -> Any:
        verified.append("verify")
        return original(self, hash, password)

    monkeypatch.setattr(argon2.PasswordHasher, "verify", counting_verify)

    def normalised(response: httpx.Response) -> tuple[int, str | None, Any]:
        return response.status_code, response.headers.get("retry-after"), response.json()

    answers: dict[str, list[tuple[int, str | None, Any]]] = {}
    hashes_checked: dict[str, int] = {}
    for username in ("observer", "no-such-user"):
        verified.clear()
        answers[username] = [normalised(await _token(anon, username, "wrong-password")) for _ in range(5)]
        hashes_checked[username] = len(verified)
        answers[username].append(normalised(await _token(anon, username, DEMO_PASSWORD)))
        answers[username].append(normalised(await _token(anon, username, "wrong-password")))
        hashes_checked[username + " locked"] = len(verified) - hashes_checked[username]
    assert answers["observer"] == answers["no-such-user"]
    assert [a[0] for a in answers["observer"]] == [401] * 5 + [429] * 2
    # Every failure checks a password hash, known user or not; a locked username checks none.
    assert hashes_checked == {"observer": 5, "no-such-user": 5, "observer locked": 0, "no-such-user locked": 0}

    known, unknown = _login_events(demo_county, "observer"), _login_events(demo_county, "no-such-user")
    assert [(e.action, e.actor_id, e.subject_type, sorted(e.after or {})) for e in known] == \
        [(e.action, e.actor_id, e.subject_type, sorted(e.after or {})) for e in unknown]
    _chain_ok(demo_county)


# ---- sessions ---------------------------------------------------------------------------------------------


async def test_every_sign_in_issues_a_new_session_and_sign_out_ends_it(anon: httpx.AsyncClient) -> None:
    # A session id planted before signing in is not adopted (no session fixation).
    anon.cookies.set("duban_session", "planted-by-someone-else", domain="duban.test")
    first = await _web_login(anon, "qx01-liaison")
    first_id = _session_cookie(first)
    assert first.status_code == 303 and first_id and first_id != "planted-by-someone-else"

    second = await _web_login(anon, "qx01-liaison")  # signing in again while signed in
    second_id = _session_cookie(second)
    assert second_id and second_id != first_id

    anon.cookies.clear()
    home = await anon.get("/", headers={"Cookie": f"duban_session={second_id}"})
    assert home.status_code == 200
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', home.text)
    assert csrf
    out = await anon.post("/logout", data={"csrf_token": csrf.group(1)}, headers={"Cookie": f"duban_session={second_id}"})
    assert out.status_code == 303
    anon.cookies.clear()
    assert (await anon.get("/", headers={"Cookie": f"duban_session={second_id}"})).status_code == 303
    assert (await anon.get("/api/v1/me", headers={"Cookie": f"duban_session={second_id}"})).status_code == 401
