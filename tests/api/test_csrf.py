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
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import routing
from fastapi.routing import APIRoute
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

import flows.launch as launch_flows
from api.app import create_app
from core.db import get_engine
from tasks.accounts import DEMO_PASSWORD
from tests.api.test_permissions import PDF, World, _launch_without_prefect, world  # noqa: F401

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
# Routes whose CSRF protection is tested elsewhere, with the reason.
ELSEWHERE = {("POST", "/login"): "signing in has no session yet; its throttling and session renewal are in test_security.py"}
# The forms found on the day these tests were written; the list may grow, never shrink.
KNOWN_FORMS = 15
CALENDAR_YAML = b"year: 2031\nholidays: ['2031-01-01']\nmakeup_workdays: []\n"
DEFINITION_YAML = b"key: x\nname: x\n"


def app_routes() -> list[tuple[str, str, str]]:
    """(method, path, endpoint name) of every FastAPI route of the application, included routers too."""
    app = create_app()
    contexts = routing.iter_route_contexts(app.routes) if hasattr(routing, "iter_route_contexts") else app.routes
    found = []
    for route in contexts:
        original = getattr(route, "original_route", route)
        path, methods = getattr(route, "path", ""), getattr(route, "methods", None)
        if isinstance(original, APIRoute) and path:
            found += [(method, path, original.name) for method in sorted(methods or ())]
    assert found, "the route walk found nothing"
    return sorted(found)


def form_routes() -> set[tuple[str, str]]:
    """State-changing routes of the web UI: every unsafe method outside /api/v1."""
    return {(m, p) for m, p, _ in app_routes() if m in UNSAFE and not p.startswith("/api/")}


def db_snapshot(engine: Engine) -> dict[str, list[str]]:
    """Every row of every table of the schema, as text (sorted), to compare before and after."""
    with engine.connect() as conn:
        return {table.name: sorted(repr(tuple(row)) for row in conn.execute(table.select()))
                for table in SQLModel.metadata.sorted_tables}


def changed_tables(before: dict[str, list[str]], after: dict[str, list[str]]) -> list[str]:
    return [name for name in before if before[name] != after.get(name)]


@dataclass
class WebUser:
    """A browser signed in as ``username``: its session cookie and the CSRF token of its pages."""

    username: str
    cookie: str
    csrf: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Cookie": f"duban_session={self.cookie}", "Accept": "text/html"}


async def web_sign_in(client: httpx.AsyncClient, username: str) -> WebUser:
    client.cookies.clear()
    response = await client.post("/login", data={"username": username, "password": DEMO_PASSWORD, "next": "/"})
    assert response.status_code == 303, response.text
    cookie = next(h.partition("=")[2].partition(";")[0] for h in response.headers.get_list("set-cookie")
                  if h.startswith("duban_session="))
    client.cookies.clear()  # every request names its cookie explicitly
    home = await client.get("/", headers={"Cookie": f"duban_session={cookie}"})
    assert home.status_code == 200, home.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', home.text)
    assert token, "the home page carries no CSRF token"
    return WebUser(username, cookie, token.group(1))


# ---- the forms: who sends them and what -----------------------------------------------------------------


@dataclass(frozen=True)
class FormCase:
    username: str
    target: str | None  # key into World.ids for the path parameter
    fields: Callable[[World], Any]  # form fields (without the token); may be a coroutine function
    files: dict[str, tuple[str, bytes, str]] | None = None


async def _version(w: World, key: str) -> str:
    return str(await w.version(key))


async def _escalation_version(w: World) -> str:
    response = await w.client.get(f"/api/v1/escalations/{w.ids['escalation']}", headers=await w.as_("admin"))
    return str(response.json()["version"])


async def _case_version(w: World) -> str:
    response = await w.client.get(f"/api/v1/cases/{w.ids['case']}", headers=await w.as_("admin"))
    return str(response.json()["version"])


def _launch(_: World) -> dict[str, Any]:
    return {"definition": "five_good_model_site", "year": "2026", "townships": ["QX02"]}


async def _decide(w: World) -> dict[str, Any]:
    return {"decision": "approve", "version": await _version(w, "quarterly")}


async def _edit(w: World) -> dict[str, Any]:
    return {"action": "save", "version": await _version(w, "draft"), "f_problems": "班子软弱涣散", "f_measures": "调整班子"}


async def _interview(w: World) -> dict[str, Any]:
    return {"interview_on": "2025-12-11", "place": "县委组织部", "outcome": "已约谈", "version": await _escalation_version(w)}


async def _check(w: World) -> dict[str, Any]:
    return {"outcome": "dismiss", "note": "经核实已整改", "version": await _escalation_version(w)}


async def _case_decision(w: World) -> dict[str, Any]:
    return {"decision": "admonishment", "note": "诫勉谈话", "version": await _case_version(w)}


async def _case_close(w: World) -> dict[str, Any]:
    return {"note": "已整改到位", "version": await _case_version(w)}


def _new_user(_: World) -> dict[str, Any]:
    return {"username": "qx04-liaison", "display_name": "秀水乡联络员", "role": "submitter", "unit": "QX04",
            "password": "a-good-password"}


FORMS: dict[tuple[str, str], FormCase] = {
    ("POST", "/logout"): FormCase("qx02-liaison", None, lambda w: {}),
    ("POST", "/submissions/{submission_id}/decide"): FormCase("qx02-secretary", "quarterly", _decide),
    ("POST", "/obligations/{obligation_id}/form"): FormCase(
        "qx02-liaison", "obligation", lambda w: {"action": "save", "f_basic_situation": "基本情况"}),
    ("POST", "/submissions/{submission_id}/edit"): FormCase("qx02-liaison", "draft", _edit),
    ("POST", "/admin/launch/preview"): FormCase("admin", None, _launch),
    ("POST", "/admin/launch"): FormCase("admin", None, _launch),
    ("POST", "/admin/users"): FormCase("admin", None, _new_user),
    ("POST", "/admin/calendars"): FormCase("admin", None, lambda w: {},
                                           {"file": ("2031.yaml", CALENDAR_YAML, "application/x-yaml")}),
    ("POST", "/admin/definitions/validate"): FormCase("admin", None, lambda w: {},
                                                      {"file": ("x.yaml", DEFINITION_YAML, "application/x-yaml")}),
    ("POST", "/ledgers/org-units"): FormCase("admin", None, lambda w: {},
                                             {"file": ("组织.xlsx", b"PK\x03\x04 not a workbook", "application/octet-stream")}),
    ("POST", "/ledgers/rectification-plans"): FormCase(
        "qx02-liaison", None, lambda w: {"campaign_id": str(w.ids["campaign"])},
        {"file": ("方案.xlsx", b"PK\x03\x04 not a workbook", "application/octet-stream")}),
    ("POST", "/escalations/{escalation_id}/interview"): FormCase("admin", "escalation", _interview),
    ("POST", "/escalations/{escalation_id}/check"): FormCase("admin", "escalation", _check),
    ("POST", "/cases/{case_id}/decision"): FormCase("admin", "case", _case_decision),
    ("POST", "/cases/{case_id}/close"): FormCase("admin", "case", _case_close),
}


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
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    w = world
    monkeypatch.setattr(launch_flows, "launch_campaign", _launch_without_prefect)
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
