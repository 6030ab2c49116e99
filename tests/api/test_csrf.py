"""CSRF on every state-changing request that a session cookie can authenticate.

The forms are taken from the application's route table: every POST/PUT/PATCH/DELETE route outside
``/api/v1`` (those are authenticated by the ``duban_session`` cookie). For each, a signed-in user of a role
that may use the form sends it without the CSRF token, with a wrong one and with the token of another
user's session: the answer is 403 and not one row of the database changes. The same request with the
page's own token gets past the check, so the refusal is the token's doing. A new form route without an
entry in ``FORMS`` fails the test, and so does a route that forgets to check the token.

The API accepts the session cookie too (the web pages call it from scripts); there every unsafe method
needs the ``X-CSRF-Token`` header, checked here for every unsafe ``/api/v1`` route.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

import flows.launch as launch_flows
from core.clock import FakeClock
from core.db import get_engine
from tests.support.databases import changed_tables, db_snapshot
from tests.support.qx02 import FORMS, PDF, FormCase, Login, World, build_world
from tests.support.web import WebUser, app_routes, web_sign_in
from tests.support.world import launch_without_prefect

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
# Routes whose CSRF protection is tested elsewhere, with the reason.
ELSEWHERE = {("POST", "/login"): "signing in has no session yet; its throttling and session renewal are in test_security.py"}
# The forms found on the day these tests were written; the list may grow, never shrink.
KNOWN_FORMS = 15


def form_routes() -> set[tuple[str, str]]:
    """State-changing routes of the web UI: every unsafe method outside /api/v1."""
    return {(m, p) for m, p, _ in app_routes() if m in UNSAFE and not p.startswith("/api/")}


@pytest.fixture
async def world(anon: httpx.AsyncClient, login: Login, clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> World:
    return await build_world(anon, login, clock, monkeypatch)


def test_every_form_route_is_listed() -> None:
    routes = form_routes()
    assert routes, "no state-changing web route found: the route walk is broken"
    missing = routes - set(FORMS) - set(ELSEWHERE)
    assert missing == set(), f"new form routes: add them to FORMS (who sends them, with which fields): {sorted(missing)}"
    assert set(FORMS) - routes == set(), "FORMS names routes that no longer exist"
    assert len(routes - set(ELSEWHERE)) >= KNOWN_FORMS


async def _send(w: World, key: tuple[str, str], case: FormCase, user: WebUser, token: str | None) -> httpx.Response:
    method, path = key
    if case.target is not None:
        path = re.sub(r"\{[^}]+\}", str(w.ids[case.target]), path)
    fields = case.fields(w)
    if hasattr(fields, "__await__"):
        fields = await fields
    data = dict(fields) | ({"csrf_token": token} if token is not None else {})
    w.client.cookies.clear()
    return await w.client.request(method, path, data=data, files=case.files, headers=user.headers)


def _refused(response: httpx.Response) -> str | None:
    """Why the answer is not a CSRF refusal, or None if it is one."""
    if response.status_code != 403:
        return f"{response.status_code} {response.text[:200]}"
    if "CSRF" not in response.text:
        return f"403 without naming CSRF: {response.text[:200]}"
    return None


async def test_every_form_refuses_a_missing_or_wrong_csrf_token_and_changes_nothing(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    w = world
    monkeypatch.setattr(launch_flows, "launch_campaign", launch_without_prefect)
    users = {name: await web_sign_in(w.client, name) for name in sorted({c.username for c in FORMS.values()})}
    stranger = await web_sign_in(w.client, "qx01-liaison")  # a valid token, of someone else's session
    engine = get_engine()
    before = db_snapshot(engine)

    failures: list[str] = []
    for key, case in FORMS.items():
        user = users[case.username]
        for label, token in (("no token", None), ("empty token", ""), ("wrong token", "forged-" + user.csrf[:8]),
                             ("another session's token", stranger.csrf), ("non-ASCII token", "令牌" + user.csrf)):
            response = await _send(w, key, case, user, token)
            if key == ("POST", "/logout"):
                # The documented refusal: back to the login page, but the session is not ended.
                still = await w.client.get("/", headers=user.headers)
                if response.status_code != 303 or still.status_code != 200:
                    failures.append(f"{key} with {label}: {response.status_code}, session afterwards {still.status_code}")
                continue
            if (why := _refused(response)) is not None:
                failures.append(f"{key} as {case.username} with {label}: {why}")
        changed = changed_tables(before, db_snapshot(engine))
        if changed:
            failures.append(f"{key}: refused requests changed {changed}")
            before = db_snapshot(engine)
    assert failures == [], "\n".join(failures)

    # Control: the page's own token gets every form past the check (and most of them change something).
    for key, case in FORMS.items():
        if key == ("POST", "/logout"):
            continue
        response = await _send(w, key, case, users[case.username], users[case.username].csrf)
        assert response.status_code < 500 and _refused(response) is not None, (key, response.status_code, response.text[:300])
    out = await _send(w, ("POST", "/logout"), FORMS[("POST", "/logout")], users["qx02-liaison"], users["qx02-liaison"].csrf)
    assert out.status_code == 303
    w.client.cookies.clear()
    assert (await w.client.get("/", headers=users["qx02-liaison"].headers)).status_code == 303  # signed out
    assert changed_tables(before, db_snapshot(engine)), "the control requests changed nothing"


# ---- the API with a session cookie -----------------------------------------------------------------------

PATH_IDS = {"submission_id": "quarterly", "campaign_id": "campaign", "escalation_id": "escalation", "case_id": "case",
            "attachment_id": "attachment", "document_id": "document"}


def _api_path(w: World, path: str) -> str:
    def fill(match: re.Match[str]) -> str:
        key = PATH_IDS.get(match.group(1))
        return str(w.ids[key]) if key else "1"

    return re.sub(r"\{([^}]+)\}", fill, path)


async def test_api_mutations_with_only_a_session_cookie_need_the_csrf_header(world: World) -> None:  # noqa: F811
    w = world
    routes = [(m, p) for m, p, _ in app_routes() if m in UNSAFE and p.startswith("/api/v1/") and p != "/api/v1/auth/token"]
    assert len(routes) >= 19, routes
    admin = await web_sign_in(w.client, "admin")
    engine = get_engine()
    before = db_snapshot(engine)

    failures: list[str] = []
    for method, path in routes:
        url = _api_path(w, path)
        kwargs: dict[str, Any] = ({"files": {"file": ("x.pdf", PDF, "application/pdf")}} if path.endswith("/attachments")
                                  or "/ledgers/" in path else {"json": {"version": 1, "decision": "approve", "note": "x"}})
        extras: list[tuple[str, dict[str, Any]]] = [
            ("no header", {}), ("wrong header", {"X-CSRF-Token": "forged"}), ("empty header", {"X-CSRF-Token": ""}),
            ("non-ASCII header", {"X-CSRF-Token": ("令牌" + admin.csrf).encode()}), ("token in a form field only", {})]
        for label, extra in extras:
            w.client.cookies.clear()
            headers = {"Cookie": f"duban_session={admin.cookie}"} | extra
            if label == "token in a form field only":
                response = await w.client.request(method, url, headers=headers, data={"csrf_token": admin.csrf})
            else:
                response = await w.client.request(method, url, headers=headers, **kwargs)
            body = response.json() if response.headers.get("content-type", "").startswith("application/") else {}
            if response.status_code != 403 or "CSRF" not in str(body.get("detail", "")):
                failures.append(f"{method} {url} with {label}: {response.status_code} {response.text[:160]}")
    assert failures == [], "\n".join(failures)
    assert changed_tables(before, db_snapshot(engine)) == []

    # A bearer token is not a cookie: it needs no CSRF header, and a session cookie next to it changes nothing.
    token = await w.as_("qx02-liaison")
    w.client.cookies.clear()
    me = await w.client.get("/api/v1/me", headers=token | {"Cookie": f"duban_session={admin.cookie}"})
    assert me.json()["username"] == "qx02-liaison"
    refused = await w.client.post("/api/v1/campaigns", headers=token | {"Cookie": f"duban_session={admin.cookie}"},
                                  json={"definition": "five_good_model_site", "township": "QX02", "year": 2026})
    assert refused.status_code == 403 and "CSRF" not in refused.text  # the liaison's role, not the admin's cookie
    # With the header the cookie works as the page's scripts use it.
    allowed = await w.client.post(f"/api/v1/submissions/{w.ids['quarterly']}/withdraw", json={"version": 1},
                                  headers={"Cookie": f"duban_session={admin.cookie}", "X-CSRF-Token": admin.csrf})
    assert allowed.status_code != 403 or "CSRF" not in allowed.text, allowed.text
