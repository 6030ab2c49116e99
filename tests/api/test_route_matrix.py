"""Every route × every role and scope (BOLA / IDOR), API and web, all methods.

The routes come from the application's route table; each needs an entry in ``RULES`` (who may use it), so
a new route without one fails. Path parameters are filled with real objects of 柳河乡 (QX02), built by the
``world`` of tests/support/qx02.py (as in test_permissions.py); 青石镇 (QX01)'s liaison and secretary are the outsiders.
API routes are called with bearer tokens, web routes with a session cookie and its CSRF token (so the
CSRF check never hides the permission check). Asserted for every call:

- anonymous: 401 problem+json on the API, a 303 to /login on the web (public routes excepted);
- outsiders: 404 on every route naming a QX02 object, never 200 and never a 403 that would confirm it exists;
- nobody gets a 5xx;
- a role that may not use a route is refused (403/404; a web form may instead redirect back with an error
  message, its documented refusal) and the refused request changes no row of the database;
- a role that may use it is not refused (reads answer 200);
- an allowed request that changes rows writes an audit event with them (``unaudited``: sessions, tokens and
  outgoing mail are the bookkeeping of a change, not one).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest

import flows.launch as launch_flows
from api.routes import campaigns as campaigns_routes
from core.clock import FakeClock
from core.db import get_engine
from tests.support.audit_walk import unaudited_change
from tests.support.databases import changed_tables, db_fingerprint, db_snapshot
from tests.support.qx02 import FORMS, QUARTERLY, ROUTES, Login, World, approve_list, body_for, build_world
from tests.support.web import WebUser, app_routes, web_sign_in
from tests.support.world import launch_many_without_prefect, launch_without_prefect

ANON = "anonymous"
HOME = ("qx02-liaison", "qx02-secretary")
OUTSIDERS = ("qx01-liaison", "qx01-secretary")
COUNTY = ("admin", "county-reviewer", "observer")
ROLES = (ANON, *COUNTY, *HOME, *OUTSIDERS)
SIGNED_IN = frozenset(ROLES) - {ANON}
IN_SCOPE = frozenset({*COUNTY, *HOME})  # may see QX02's objects
ADMIN = frozenset({"admin"})
LIAISON = frozenset({"qx02-liaison"})
REVIEWERS = frozenset({"admin", "county-reviewer", "qx02-secretary", "qx01-secretary"})


@dataclass(frozen=True)
class Rule:
    """Who may use a route: ``allowed`` roles; everyone else is refused.

    ``target`` is the QX02 object in the path or body (outsiders must get 404), ``None`` if the route names
    none; ``public`` routes need no sign-in.
    """

    allowed: frozenset[str]
    target: str | None = None
    public: bool = False


def R(allowed: frozenset[str], target: str | None = None) -> Rule:  # noqa: N802 - a table constructor
    # A route naming a QX02 object is never open to outsiders, whatever their role.
    return Rule(allowed - set(OUTSIDERS) if target else allowed, target)


PUBLIC = Rule(frozenset(ROLES), public=True)

RULES: dict[str, Rule] = {
    # the 督办 desk (assigned items, issue 18)
    "POST /api/v1/desk/items": R(ADMIN),
    "POST /api/v1/desk/items/import": R(ADMIN),
    "GET /api/v1/desk/items": R(SIGNED_IN),
    "GET /api/v1/desk/items/{item_id}": R(IN_SCOPE, "desk_item"),
    "POST /api/v1/desk/items/{item_id}/attachment": R(ADMIN, "desk_item"),
    "GET /api/v1/desk/items/{item_id}/attachment": R(IN_SCOPE, "desk_item"),
    "GET /api/v1/desk/recipients": R(SIGNED_IN),
    "POST /api/v1/desk/recipients/{recipient_id}/acknowledge": R(LIAISON, "desk_recipient"),
    "POST /api/v1/desk/recipients/{recipient_id}/extensions": R(LIAISON, "desk_recipient"),
    "GET /api/v1/desk/extensions": R(SIGNED_IN),
    "POST /api/v1/desk/extensions/{request_id}/decision": R(frozenset({"qx02-secretary"}), "desk_extension"),
    "POST /api/v1/desk/recipients/{recipient_id}/urges": R(ADMIN, "desk_recipient"),
    "GET /api/v1/desk/bulletins": R(SIGNED_IN),
    "POST /api/v1/desk/bulletins": R(ADMIN),
    "GET /api/v1/desk/bulletins/{bulletin_id}": R(frozenset({"admin", "county-reviewer"}), "desk_bulletin"),  # a draft: county-wide roles only
    "POST /api/v1/desk/bulletins/{bulletin_id}/publish": R(ADMIN, "desk_bulletin"),
    "GET /api/v1/desk/scores": R(SIGNED_IN),
    "GET /api/v1/desk/signing": R(SIGNED_IN),
    "POST /api/v1/desk/signing/{obligation_id}/acknowledge": R(LIAISON, "desk_ack"),
    "POST /desk/signing/{obligation_id}/acknowledge": R(LIAISON, "desk_ack"),
    "GET /desk": R(SIGNED_IN),
    "POST /desk/items": R(ADMIN),
    "POST /desk/recipients/{recipient_id}/acknowledge": R(LIAISON, "desk_recipient"),
    "POST /desk/recipients/{recipient_id}/extensions": R(LIAISON, "desk_recipient"),
    "POST /desk/extensions/{request_id}/decision": R(frozenset({"qx02-secretary"}), "desk_extension"),
    "POST /desk/recipients/{recipient_id}/urges": R(ADMIN, "desk_recipient"),
    "POST /desk/bulletins": R(ADMIN),
    "POST /desk/bulletins/{bulletin_id}/publish": R(ADMIN, "desk_bulletin"),
    # sign-in and reference data
    "POST /api/v1/auth/token": PUBLIC,
    "GET /api/v1/me": R(SIGNED_IN),
    "GET /api/v1/definitions": R(SIGNED_IN),
    "GET /api/v1/definitions/{key}": R(SIGNED_IN),
    "GET /api/v1/definitions/schema": R(SIGNED_IN),
    "GET /api/v1/definitions/{key}/versions": R(SIGNED_IN),
    "POST /api/v1/definitions/{key}/versions": R(ADMIN),
    "POST /api/v1/definitions/{key}/retire": R(ADMIN),
    "GET /api/v1/definitions/{key}/diff": R(SIGNED_IN),
    "POST /api/v1/definitions/{key}/migrations": R(ADMIN),
    "POST /api/v1/definitions/preview": R(ADMIN),
    "GET /api/v1/org-units": R(SIGNED_IN),
    "GET /api/v1/calendar/{year}": R(SIGNED_IN),
    # campaigns
    "POST /api/v1/campaigns": R(ADMIN),
    "POST /api/v1/campaigns/batch": R(ADMIN),
    "GET /api/v1/campaigns": R(SIGNED_IN),
    "GET /api/v1/campaigns/{campaign_id}": R(IN_SCOPE, "campaign"),
    "GET /api/v1/campaigns/{campaign_id}/targets": R(IN_SCOPE, "campaign"),
    # submissions and the review chain
    "POST /api/v1/submissions": R(LIAISON, "obligation"),
    "GET /api/v1/submissions": R(SIGNED_IN),
    "GET /api/v1/submissions/{submission_id}": R(IN_SCOPE, "quarterly"),
    "PATCH /api/v1/submissions/{submission_id}": R(LIAISON, "draft"),
    "POST /api/v1/submissions/{submission_id}/submit": R(LIAISON, "draft"),
    "POST /api/v1/submissions/{submission_id}/withdraw": R(LIAISON, "quarterly"),
    "POST /api/v1/submissions/{submission_id}/decisions": R(frozenset({"qx02-secretary"}), "quarterly"),
    "POST /api/v1/submissions/{submission_id}/veto": R(ADMIN, "list"),
    "POST /api/v1/submissions/{submission_id}/attachments": R(LIAISON, "draft"),
    "GET /api/v1/attachments/{attachment_id}": R(IN_SCOPE, "attachment"),
    "GET /api/v1/todos": R(frozenset({"qx02-liaison", "qx01-liaison"})),  # a township's to-do list
    "GET /api/v1/reviews/queue": R(REVIEWERS),
    "GET /api/v1/rectifications": R(SIGNED_IN),
    "POST /api/v1/rectifications": R(ADMIN, "campaign"),  # the county adds a village to a township's list
    "POST /api/v1/rectifications/{rectification_id}/actions": R(LIAISON, "rectification"),
    # county-wide administration
    "GET /api/v1/audit": R(ADMIN),
    "GET /api/v1/audit/verify": R(ADMIN),
    "GET /api/v1/outbox": R(ADMIN),
    # channels: group robots (administrators) and each user's own phone, channels and quiet hours
    "GET /api/v1/channels/robots": R(ADMIN),
    "POST /api/v1/channels/robots": R(ADMIN),
    "GET /api/v1/channels/me": R(SIGNED_IN),
    "PUT /api/v1/channels/me": R(SIGNED_IN),
    "GET /api/v1/channels/users/{username}": R(ADMIN),
    "PUT /api/v1/channels/users/{username}": R(ADMIN),
    "GET /channels": R(SIGNED_IN),
    "POST /channels/me": R(SIGNED_IN),
    "POST /admin/channels/robots": R(ADMIN),
    "POST /api/v1/outbox/{outbox_id}/retry": R(ADMIN),
    "GET /api/v1/ledgers/{name}.xlsx": R(SIGNED_IN),
    "POST /api/v1/ledgers/org-units": R(ADMIN),
    "POST /api/v1/ledgers/cadres": R(ADMIN),
    "POST /api/v1/ledgers/leaders": R(ADMIN),
    # cadres stationed in villages (干部驻村): cadres and leaders
    "GET /api/v1/cadres": R(SIGNED_IN),
    "POST /api/v1/cadres": R(ADMIN),
    "GET /api/v1/leaders": R(SIGNED_IN),
    "POST /api/v1/leaders": R(ADMIN),
    # work records of the stationing programme (003 三(一), 四(三)(六))
    "POST /api/v1/diaries": R(frozenset({"admin", "qx02-liaison"})),  # the liaison of the cadre's village
    "GET /api/v1/diaries": R(SIGNED_IN),
    "PUT /api/v1/teams/{village}/{year}/{month}": R(frozenset({"admin", "qx02-liaison"}), "village"),
    "GET /api/v1/teams/monthly": R(SIGNED_IN),
    "POST /api/v1/leader-visits": R(frozenset({"admin", "qx02-liaison"})),
    "GET /api/v1/leader-visits": R(SIGNED_IN),
    "POST /api/v1/unit-reports": R(frozenset({"admin", "qx02-liaison"})),
    "GET /api/v1/unit-reports": R(SIGNED_IN),
    "POST /api/v1/unit-reports/{report_id}/review": R(frozenset({"admin", "county-reviewer"}), "unit_report"),
    "POST /api/v1/ledgers/rectification-plans": R(frozenset({"admin", "qx02-liaison"}), "campaign"),
    # the stationing programme (驻村周期、选派安排表): county-wide plans, teams scoped to the township
    "POST /api/v1/programmes": R(ADMIN),
    "GET /api/v1/programmes": R(SIGNED_IN),
    "GET /api/v1/programmes/{programme_id}": R(SIGNED_IN),
    "PUT /api/v1/stationing/plans/{year}": R(ADMIN),
    "GET /api/v1/stationing/plans/{year}": R(SIGNED_IN),
    "GET /api/v1/stationing/plans/{year}/rows": R(SIGNED_IN),
    "POST /api/v1/stationing/plans/{year}/submit": R(ADMIN),
    "POST /api/v1/stationing/plans/{year}/decision": R(frozenset({"admin", "county-reviewer"})),
    "POST /api/v1/stationing/plans/{year}/arrivals": R(frozenset({"admin", "qx02-liaison"})),
    "POST /api/v1/stationing/plans/{year}/departures": R(frozenset({"admin", "qx02-liaison"})),
    # escalations (督办), documents and accountability cases (问责)
    "GET /api/v1/escalations": R(SIGNED_IN),
    "GET /api/v1/escalations/ledger": R(SIGNED_IN),
    "GET /api/v1/escalations/{escalation_id}": R(IN_SCOPE, "escalation"),
    "POST /api/v1/escalations/{escalation_id}/interview": R(ADMIN, "escalation"),
    "POST /api/v1/escalations/{escalation_id}/confirm": R(ADMIN, "escalation"),
    "POST /api/v1/escalations/{escalation_id}/dismiss": R(ADMIN, "escalation"),
    "POST /api/v1/submissions/{submission_id}/unverified": R(frozenset({"admin", "county-reviewer"}), "quarterly"),
    "GET /api/v1/documents": R(SIGNED_IN),
    "GET /api/v1/documents/{document_id}": R(IN_SCOPE, "document"),
    "GET /api/v1/documents/{document_id}/html": R(IN_SCOPE, "document"),
    "GET /api/v1/documents/{document_id}/pdf": R(IN_SCOPE, "document"),
    "GET /api/v1/cases": R(SIGNED_IN),
    "GET /api/v1/cases/{case_id}": R(IN_SCOPE, "case"),
    "POST /api/v1/cases/{case_id}/decision": R(ADMIN, "case"),
    "POST /api/v1/cases/{case_id}/close": R(ADMIN, "case"),
    "GET /api/v1/ratings/consequences": R(SIGNED_IN),
    # targets and the year-end assessment (年度考核)
    "GET /api/v1/assessments": R(SIGNED_IN),
    "GET /api/v1/assessments/{township}/{year}": R(IN_SCOPE, "township"),
    # the stationing programme's assessment (工作鉴定, 派出单位考核) and graded acceptance (验收)
    "GET /api/v1/cadre-assessments": R(SIGNED_IN),
    "PUT /api/v1/cadre-assessments/{cadre}/{year}": R(frozenset(HOME), "cadre"),
    "POST /api/v1/cadre-assessments/{cadre}/{year}/submit": R(frozenset(HOME), "cadre"),
    "POST /api/v1/cadre-assessments/{cadre}/{year}/decision": R(ADMIN, "cadre"),
    "GET /api/v1/cadres/{code}/record": R(IN_SCOPE, "cadre"),
    "GET /api/v1/unit-assessments": R(SIGNED_IN),
    "PUT /api/v1/unit-assessments/{unit}/{year}": R(ADMIN),
    "POST /api/v1/programmes/{programme_id}/acceptances": R(frozenset({"admin", "county-reviewer", "qx02-secretary"}),
                                                            "programme"),
    "GET /api/v1/programmes/{programme_id}/acceptance": R(SIGNED_IN),
    # web pages
    "GET /healthz": PUBLIC,
    "GET /docs": PUBLIC,  # the API docs, served offline (fastapi-offline)
    "GET /docs/oauth2-redirect": PUBLIC,
    "GET /redoc": PUBLIC,
    "GET /readyz": PUBLIC,
    "GET /metrics": PUBLIC,  # from loopback (the test client); a token otherwise: tests/api/test_ops.py
    "GET /login": PUBLIC,
    "POST /login": PUBLIC,
    "POST /logout": PUBLIC,
    "GET /": R(SIGNED_IN),
    "GET /campaigns/{campaign_id}": R(IN_SCOPE, "campaign"),
    "GET /admin/mail": R(ADMIN),
    "GET /todos": R(SIGNED_IN),
    "GET /submissions/{submission_id}": R(IN_SCOPE, "quarterly"),
    "POST /submissions/{submission_id}/decide": R(frozenset({"qx02-secretary"}), "quarterly"),
    "GET /obligations/{obligation_id}/form": R(LIAISON, "obligation"),
    "POST /obligations/{obligation_id}/form": R(LIAISON, "obligation"),
    "GET /submissions/{submission_id}/edit": R(LIAISON, "draft"),
    "POST /submissions/{submission_id}/edit": R(LIAISON, "draft"),
    "GET /reviews": R(REVIEWERS),
    "GET /admin/launch": R(ADMIN),
    "POST /admin/launch/preview": R(ADMIN),
    "POST /admin/launch": R(ADMIN),
    "GET /admin/org-units": R(ADMIN),
    "GET /admin/users": R(ADMIN),
    "POST /admin/users": R(ADMIN),
    "GET /admin/calendars": R(ADMIN),
    "POST /admin/calendars": R(ADMIN),
    "GET /admin/definitions": R(ADMIN),
    "POST /admin/definitions/validate": R(ADMIN),
    "GET /admin/definitions/{key}": R(ADMIN),
    "POST /admin/definitions/{key}/publish": R(ADMIN),
    "POST /admin/definitions/{key}/preview": R(ADMIN),
    "POST /admin/definitions/{key}/migrate": R(ADMIN),
    "GET /dashboard": R(frozenset({"admin", "county-reviewer", "observer"})),
    "GET /ledgers": R(SIGNED_IN),
    "POST /ledgers/org-units": R(ADMIN),
    "GET /cadres": R(SIGNED_IN),
    "POST /cadres/import": R(ADMIN),
    "GET /diaries": R(SIGNED_IN),
    "POST /diaries": R(frozenset({"admin", "qx02-liaison"})),
    "GET /leader-visits": R(SIGNED_IN),
    "GET /unit-reports": R(SIGNED_IN),
    "POST /ledgers/rectification-plans": R(frozenset({"admin", "qx02-liaison"}), "campaign"),
    "GET /escalations": R(SIGNED_IN),
    "GET /escalations/{escalation_id}": R(IN_SCOPE, "escalation"),
    "POST /escalations/{escalation_id}/interview": R(ADMIN, "escalation"),
    "POST /escalations/{escalation_id}/check": R(ADMIN, "escalation"),
    "GET /cases/{case_id}": R(IN_SCOPE, "case"),
    "POST /cases/{case_id}/decision": R(ADMIN, "case"),
    "POST /cases/{case_id}/close": R(ADMIN, "case"),
    "GET /assessments": R(SIGNED_IN),
    "GET /assessments/{township}/{year}": R(IN_SCOPE, "township"),
    "GET /stationing": R(SIGNED_IN),
    "GET /stationing/{year}": R(SIGNED_IN),
    "POST /stationing/{year}/submit": R(ADMIN),
    "POST /stationing/{year}/decision": R(frozenset({"admin", "county-reviewer"})),
    "POST /stationing/{year}/arrivals": R(frozenset({"admin", "qx02-liaison"})),  # the form names QX02's cadre
    "GET /cadre-assessments": R(SIGNED_IN),
    "GET /programmes/{programme_id}/acceptance": R(SIGNED_IN),
}
# The routes found on the day these tests were written; the list may grow, never shrink.
KNOWN_ROUTES = 83


def test_every_route_has_a_rule() -> None:
    routes = {f"{method} {path}" for method, path, _ in app_routes()}
    assert len(routes) >= KNOWN_ROUTES
    assert routes - set(RULES) == set(), "new routes: say in RULES who may use them"
    assert set(RULES) - routes == set(), "RULES names routes that no longer exist"
    # The path-parameter routes walked with outsiders in test_permissions.py name the same objects here.
    for row in ROUTES:
        rule = RULES[f"{row.method} {row.path}"]
        if row.target is not None and row.path.startswith("/api/"):
            assert rule.target == row.target, (row.path, rule.target, row.target)


# ---- calling a route as someone ---------------------------------------------------------------------------

SHIPPED_YAML = (Path(__file__).resolve().parents[2] / "definitions" / "weak_village_rectification.yaml").read_text(
    encoding="utf-8")
SAMPLES = {"key": "weak_village_rectification", "year": "2025", "name": "campaigns", "outbox_id": "1", "township": "QX02",
           "cadre": "QX02-C1", "code": "QX02-C1", "unit": "QXD01", "programme_id": "1",
           "village": "QX02001", "month": "3", "username": "qx02-liaison"}


def _path(w: World, path: str, target: str | None) -> str:
    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        return SAMPLES[name] if name in SAMPLES else str(w.ids[target or ""])

    return re.sub(r"\{([^}]+)\}", fill, path)


async def _request(w: World, method: str, path: str, rule: Rule) -> dict[str, Any]:
    """The request body a user allowed to use the route would send."""
    if path.startswith("/api/"):
        row = next((r for r in ROUTES if (r.method, r.path) == (method, path)), None)
        if row is not None:
            return await body_for(w, row)
        bodies: dict[str, dict[str, Any]] = {
            "POST /api/v1/auth/token": {"json": {"username": "nobody-here", "password": "wrong-password"}},
            "POST /api/v1/definitions/preview": {"json": {"source": SHIPPED_YAML, "year": 2025, "township": "QX02",
                                                          "simulate": False}},
            "POST /api/v1/campaigns": {"json": {"definition": "five_good_model_site", "township": "QX02", "year": 2026}},
            "POST /api/v1/campaigns/batch": {"json": {"definition": "five_good_model_site", "year": 2026,
                                                      "townships": ["QX03"]}},
            "POST /api/v1/submissions": {"json": {"obligation_id": w.ids["obligation"], "data": QUARTERLY}},
            "POST /api/v1/rectifications": {"json": {"campaign_id": w.ids["campaign"], "village": "QX02003",
                                                     "comment": "经县委组织部核实，补入名单"}},
            "GET /api/v1/ratings/consequences": {"params": {"year": 2025}},
            "GET /api/v1/assessments": {"params": {"year": 2025}},
            "PUT /api/v1/cadre-assessments/{cadre}/{year}": {"json": {"appraisal": "吃住在村", "grade": "competent",
                                                                      "version": 1}},
            "POST /api/v1/cadre-assessments/{cadre}/{year}/submit": {"json": {"version": 1}},
            "POST /api/v1/cadre-assessments/{cadre}/{year}/decision": {"json": {"decision": "approve", "version": 1}},
            "PUT /api/v1/unit-assessments/{unit}/{year}": {"json": {"proposed_rating": "good"}},
            "POST /api/v1/programmes/{programme_id}/acceptances": {"json": {"subject": "QX02001", "passed": True}},
            "POST /api/v1/ledgers/org-units": {"files": {"file": ("组织.xlsx", b"PK\x03\x04 no", "application/octet-stream")}},
            "POST /api/v1/ledgers/cadres": {"files": {"file": ("干部.xlsx", b"PK\x03\x04 no", "application/octet-stream")}},
            "POST /api/v1/ledgers/leaders": {"files": {"file": ("领导.xlsx", b"PK\x03\x04 no", "application/octet-stream")}},
            "POST /api/v1/cadres": {"json": {"code": "M-1", "name": "测试干部", "unit": "QXD01", "post": "科员"}},
            "POST /api/v1/leaders": {"json": {"code": "M-2", "name": "测试领导", "level": "county", "post": "县委常委",
                                              "village": "QX02003"}},
            "POST /api/v1/programmes": {"json": {"name": "矩阵周期", "start_year": 2040}},
            "PUT /api/v1/stationing/plans/{year}": {"json": {"teams": []}},
            "POST /api/v1/stationing/plans/{year}/decision": {"json": {"decision": "approve"}},
            "POST /api/v1/stationing/plans/{year}/arrivals": {"json": {"cadre": "QXD01-01", "arrived_on": "2025-01-02"}},
            "POST /api/v1/stationing/plans/{year}/departures": {"json": {"cadre": "QXD01-01", "left_on": "2025-01-02",
                                                                          "reason": "调回原单位"}},
            "POST /api/v1/diaries": {"json": {"cadre": "QX02-C1", "entry_date": "2025-03-02", "place": "村委会",
                                              "work": "走访党员"}},
            "POST /api/v1/leader-visits": {"json": {"leader": "QX02-L1", "visited_on": "2025-03-02", "purpose": "调研"}},
            "POST /api/v1/unit-reports": {"json": {"unit": "QX02", "year": 2025, "quarter": 1, "progress": "有序推进"}},
            "POST /api/v1/desk/items": {"json": {"title": "核查党员信息", "source": "meeting", "requirement": "逐一核对",
                                                 "townships": ["QX03"], "due_on": "2025-12-30"}},
            "POST /api/v1/desk/bulletins": {"json": {"year": 2025, "month": 10}},
            "POST /api/v1/channels/robots": {"json": {"org_unit_id": 1, "channel": "wecom", "name": "矩阵群",
                                                      "webhook": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k"}},
            "PUT /api/v1/channels/me": {"json": {"channels": ["email"]}},
            "PUT /api/v1/channels/users/{username}": {"json": {"phone": "13800000001", "channels": ["email", "sms"]}},
            "POST /api/v1/desk/items/import": {"files": {"file": ("交办.xlsx", b"PK\x03\x04 no", "application/octet-stream")}},
            "POST /api/v1/ledgers/rectification-plans": {
                "params": {"campaign_id": w.ids["campaign"]},
                "files": {"file": ("方案.xlsx", b"PK\x03\x04 no", "application/octet-stream")}},
        }
        return bodies.get(f"{method} {path}", {})
    if (method, path) == ("POST", "/login"):
        return {"data": {"username": "nobody-here", "password": "wrong-password"}}
    if (method, path) in FORMS:
        case = FORMS[(method, path)]
        fields = case.fields(w)
        if hasattr(fields, "__await__"):
            fields = await fields
        return {"data": dict(fields), "files": case.files}
    return {}


@dataclass
class Caller:
    role: str
    token: dict[str, str]
    web: WebUser | None


async def _call(w: World, caller: Caller, method: str, path: str, rule: Rule) -> httpx.Response:
    url = _path(w, path, rule.target)
    kwargs = await _request(w, method, path, rule)
    headers: dict[str, str] = {}
    if path.startswith("/api/"):
        headers = dict(caller.token)
    elif caller.web is not None:
        headers = {"Cookie": f"duban_session={caller.web.cookie}"}
        if method != "GET":
            kwargs["data"] = dict(kwargs.get("data") or {}) | {"csrf_token": caller.web.csrf}
    w.client.cookies.clear()
    return await w.client.request(method, url, headers=headers, **kwargs)


def _flash(response: httpx.Response) -> str:
    for header in response.headers.get_list("set-cookie"):
        if header.startswith("duban_flash="):
            return unquote(header.partition("=")[2].partition(";")[0])
    return ""


def _outcome(response: httpx.Response, web: bool) -> str:
    """What the answer means: 'ok', 'login', 'refused' (403/404/error redirect), '5xx' or the status."""
    status = response.status_code
    if status >= 500:
        return "5xx"
    if web and status == 303 and response.headers["location"].startswith("/login"):
        return "login"
    if not web and status == 401:
        return "login"
    if status in (403, 404) or (web and status == 303 and _flash(response).startswith("error:")):
        return "refused"
    if status < 400 or status in (409, 422):  # reached the handler: a state or content rule spoke
        return "ok"
    return str(status)


def _judge(role: str, method: str, path: str, rule: Rule, response: httpx.Response, first_write: bool = True) -> str | None:
    web = not path.startswith("/api/")
    outcome = _outcome(response, web)
    where = f"{role}: {method} {path} → {response.status_code} {response.text[:160]!r}"
    if outcome == "5xx":
        return where
    if rule.public:
        return None if outcome != "5xx" else where
    if role == ANON:
        if outcome != "login":
            return f"{where} (anonymous must be sent to sign in)"
        if not web and not response.headers["content-type"].startswith("application/problem+json"):
            return f"{where} (not problem+json)"
        return None
    if role in OUTSIDERS and rule.target is not None:
        return None if response.status_code == 404 else f"{where} (outsiders must get 404 for QX02's {rule.target})"
    if role in rule.allowed:
        if method == "GET" and response.status_code != 200:
            return f"{where} (may read)"
        if not first_write:  # an earlier write moved the object on; its new state may rule this one out
            return None if response.status_code not in (401, 404) else f"{where} (may use it)"
        return None if outcome == "ok" else f"{where} (may use it)"
    return None if outcome == "refused" else f"{where} (must be refused)"


@pytest.fixture
async def world(anon: httpx.AsyncClient, login: Login, clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> World:
    return await build_world(anon, login, clock, monkeypatch)  # with programme 1's approved 2025 plan


async def test_every_route_for_every_role_and_scope(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    w = world
    monkeypatch.setattr(launch_flows, "launch_campaign", launch_without_prefect)
    monkeypatch.setattr(campaigns_routes, "launch_for_townships", launch_many_without_prefect)
    await approve_list(w)  # QX02's villages enter rectification: a rectification to act on
    callers = {ANON: Caller(ANON, {}, None)}
    for role in ROLES[1:]:
        callers[role] = Caller(role, await w.as_(role), await web_sign_in(w.client, role))
    routes = [(method, path) for method, path, _ in app_routes()]
    engine = get_engine()
    failures: list[str] = []
    written: set[str | None] = set()  # objects an allowed write has already changed
    before = db_snapshot(engine)
    fingerprint = db_fingerprint(engine)  # of ``before``: a refused write compares this first (far cheaper)

    # Reads first (they change nothing), then every refused write on the world as built, then the writes.
    def refused_first(item: tuple[str, str, str]) -> int:
        method, path, role = item
        rule = RULES[f"{method} {path}"]
        allowed = role in rule.allowed or rule.public
        # Allowed writes: the web forms first, whose state errors read like refusals (a redirect with a
        # message); the API answers them with 409, which tells them apart.
        return 0 if method == "GET" else 1 if not allowed else 2 if not path.startswith("/api/") else 3

    order = sorted(((m, p, r) for m, p in routes for r in ROLES), key=refused_first)
    for method, path, role in order:
        rule = RULES[f"{method} {path}"]
        if (method, path) in (("POST", "/logout"), ("POST", "/login")) and role != ANON:
            continue  # would end or renew the caller's session; both are covered in test_auth.py
        response = await _call(w, callers[role], method, path, rule)
        first = method == "GET" or rule.target not in written
        if method != "GET" and role in rule.allowed and rule.target:
            written.add(rule.target)
        if (problem := _judge(role, method, path, rule, response, first)) is not None:
            failures.append(problem)
        if rule.public:
            before = db_snapshot(engine)  # a failed sign-in is recorded in the audit trail
            fingerprint = db_fingerprint(engine)
        elif method != "GET" and role in rule.allowed:
            after = db_snapshot(engine)
            if (unaudited := unaudited_change(before, after)) is not None:
                failures.append(f"{role}: {method} {path} → {response.status_code} {unaudited}")
            before = after
            fingerprint = db_fingerprint(engine)
        elif refused_first((method, path, role)) < 2 and db_fingerprint(engine) != fingerprint:
            changed = changed_tables(before, db_snapshot(engine))
            failures.append(f"{role}: {method} {path} → {response.status_code} changed {changed}")
            before = db_snapshot(engine)
            fingerprint = db_fingerprint(engine)
    assert failures == [], f"{len(failures)} problems:\n" + "\n".join(failures)
