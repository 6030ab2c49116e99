"""Object-level authorisation (BOLA / IDOR) over HTTP: every route that names a township's object answers
404 to callers outside that township (never 403, 200 or 500), list endpoints leak nothing, and inside the
township each role may do only its own part of the review chain.

The route table below is checked against ``app.routes``: a new ``/api/v1`` route (or web page) with a path
parameter that is not in the table fails ``test_route_table_covers_every_api_route_with_a_path_parameter``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx
import pytest
from fastapi import routing
from fastapi.routing import APIRoute

from api.app import create_app
from api.routes import campaigns as campaigns_routes
from core.clock import CHINA_TZ, FakeClock
from core.db import get_engine
from tasks.launch import launch_one

PDF = b"%PDF-1.4 test"
QUARTERLY = {"basic_situation": "柳河乡共有后进薄弱村2个，已逐村落实整顿措施。", "results": "完成班子调整1个，新发展党员2名。",
             "main_problems": "个别村集体经济薄弱，带头人能力不足。", "next_steps": "下季度完成村级活动场所改造，加强培训。"}
NOT_FOUND_ID = 987654

Login = Callable[[httpx.AsyncClient, str], Awaitable[dict[str, str]]]


# ---- the route table ------------------------------------------------------------------------------------
#
# Every /api/v1 route (and web page) with a path parameter: what object of QX02 it is walked with, and the body that a
# caller inside QX02 with the right role could send. ``None`` as target means the route names no
# township's object (the reason says why), so there is nothing to hide.


@dataclass(frozen=True)
class Row:
    method: str
    path: str
    target: str | None  # key into World.ids
    body: str | None = None  # "version" | "patch" | "decision" | "veto" | "action" | "upload"
    reason: str = ""
    expect: int = 200  # what an outsider gets on a route with no township object (target None)


ROUTES: list[Row] = [
    Row("GET", "/api/v1/campaigns/{campaign_id}", "campaign"),
    Row("GET", "/api/v1/submissions/{submission_id}", "quarterly"),
    Row("PATCH", "/api/v1/submissions/{submission_id}", "draft", "patch"),
    Row("POST", "/api/v1/submissions/{submission_id}/submit", "draft", "version"),
    Row("POST", "/api/v1/submissions/{submission_id}/withdraw", "quarterly", "version"),
    Row("POST", "/api/v1/submissions/{submission_id}/decisions", "quarterly", "decision"),
    Row("POST", "/api/v1/submissions/{submission_id}/veto", "list", "veto"),
    Row("POST", "/api/v1/submissions/{submission_id}/attachments", "draft", "upload"),
    Row("GET", "/api/v1/attachments/{attachment_id}", "attachment"),
    Row("POST", "/api/v1/rectifications/{rectification_id}/actions", "rectification", "action"),
    Row("GET", "/api/v1/definitions/{key}", None, reason="campaign definitions are county-wide reference data"),
    Row("GET", "/api/v1/calendar/{year}", None, reason="the working-day calendar is public reference data"),
    Row("POST", "/api/v1/outbox/{outbox_id}/retry", None, reason="the county-wide mail queue is for administrators only",
        expect=403),
    Row("GET", "/api/v1/ledgers/{name}.xlsx", None,
        reason="names a kind of ledger, not an object; its rows are scoped to the caller (tests/api/test_ledgers.py)"),
    # The web pages name the same objects as the API.
    Row("GET", "/campaigns/{campaign_id}", "campaign"),
    Row("GET", "/submissions/{submission_id}", "quarterly"),
    Row("POST", "/submissions/{submission_id}/decide", "quarterly", "form"),
    Row("GET", "/submissions/{submission_id}/edit", "draft"),
    Row("POST", "/submissions/{submission_id}/edit", "draft", "form"),
    Row("GET", "/obligations/{obligation_id}/form", "obligation"),
    Row("POST", "/obligations/{obligation_id}/form", "obligation"),
    # Escalations (督办), their documents and accountability cases (问责).
    Row("POST", "/api/v1/submissions/{submission_id}/unverified", "quarterly", "unverified"),
    Row("GET", "/api/v1/escalations/{escalation_id}", "escalation"),
    Row("POST", "/api/v1/escalations/{escalation_id}/interview", "escalation", "interview"),
    Row("POST", "/api/v1/escalations/{escalation_id}/confirm", "escalation", "check"),
    Row("POST", "/api/v1/escalations/{escalation_id}/dismiss", "escalation", "check"),
    Row("GET", "/api/v1/documents/{document_id}", "document"),
    Row("GET", "/api/v1/documents/{document_id}/html", "document"),
    Row("GET", "/api/v1/documents/{document_id}/pdf", "document"),
    Row("GET", "/api/v1/cases/{case_id}", "case"),
    Row("POST", "/api/v1/cases/{case_id}/decision", "case", "case_decision"),
    Row("POST", "/api/v1/cases/{case_id}/close", "case", "check"),
    Row("GET", "/escalations/{escalation_id}", "escalation"),
    Row("POST", "/escalations/{escalation_id}/interview", "escalation", "form"),
    Row("POST", "/escalations/{escalation_id}/check", "escalation", "form"),
    Row("GET", "/cases/{case_id}", "case"),
    Row("POST", "/cases/{case_id}/decision", "case", "form"),
    Row("POST", "/cases/{case_id}/close", "case", "form"),
]

OUTSIDERS = ["qx01-liaison", "qx01-secretary", "qx03-liaison", "qx03-secretary"]


def _routes_with_path_parameters() -> set[tuple[str, str]]:
    """(method, path) of every FastAPI route (API and pages) with a path parameter, included routers too."""
    app = create_app()
    contexts = routing.iter_route_contexts(app.routes) if hasattr(routing, "iter_route_contexts") else app.routes
    found = set()
    for route in contexts:
        original = getattr(route, "original_route", route)
        if isinstance(original, APIRoute) and route.path and "{" in route.path:
            found |= {(method, route.path) for method in route.methods or ()}
    assert any(path.startswith("/api/v1/") for _, path in found), "the route walk found no API route"
    return found


def test_route_table_covers_every_api_route_with_a_path_parameter() -> None:
    table = {(r.method, r.path) for r in ROUTES}
    assert len(table) == len(ROUTES), "a route is listed twice"
    routes = _routes_with_path_parameters()
    assert routes - table == set(), "new routes with a path parameter: add them to ROUTES with a QX02 target"
    assert table - routes == set(), "ROUTES names routes that no longer exist"


# ---- the world: QX01 and QX02 campaigns, QX02 material in every state ------------------------------------


@dataclass
class World:
    client: httpx.AsyncClient
    login: Login
    clock: FakeClock
    ids: dict[str, int] = field(default_factory=dict)
    tokens: dict[str, dict[str, str]] = field(default_factory=dict)
    qx01_campaign: int = 0

    async def as_(self, username: str) -> dict[str, str]:
        if username not in self.tokens:
            self.tokens[username] = await self.login(self.client, username)
        return self.tokens[username]

    async def version(self, key: str) -> int:
        response = await self.client.get(f"/api/v1/submissions/{self.ids[key]}", headers=await self.as_("admin"))
        assert response.status_code == 200, response.text
        return int(response.json()["version"])

    async def snapshot(self) -> dict[str, Any]:
        """What an outsider must not be able to change: every QX02 object as the administrator sees it."""
        admin = await self.as_("admin")
        out: dict[str, Any] = {}
        for key in ("quarterly", "list", "draft"):
            body = (await self.client.get(f"/api/v1/submissions/{self.ids[key]}", headers=admin)).json()
            out[key] = {k: body[k] for k in ("status", "version", "data", "current_level", "round", "reviews", "attachments")}
        rows = (await self.client.get("/api/v1/rectifications", params={"campaign": self.ids["campaign"]}, headers=admin)).json()
        out["rectifications"] = rows["items"]
        return out


async def _ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, f"{response.request.method} {response.request.url}: {response.status_code} {response.text}"
    return dict(response.json())


async def _obligation(client: httpx.AsyncClient, headers: dict[str, str], campaign: int, kind: str, period: str | None = None) -> int:
    body = await _ok(await client.get(f"/api/v1/campaigns/{campaign}", headers=headers))
    return next(o["id"] for o in body["obligations"] if o["kind"] == kind and (period is None or o["period"] == period))


async def _launch_without_prefect(definition: str, township: str, year: int, now: dt.datetime | None = None,
                                  idempotency: tuple[str, str] | None = None) -> dict[str, Any]:
    """The launch flow's body without Prefect's orchestration (whose first start costs seconds); the
    API route, its role check and the writing of the campaign are the real ones."""
    outcome = await anyio.to_thread.run_sync(launch_one, get_engine(), definition, township, year, now, idempotency)
    return {"campaign_id": outcome.campaign_id, "status": outcome.status, "detail": outcome.detail}


@pytest.fixture
async def world(anon: httpx.AsyncClient, login: Login, clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> World:
    """QX01 and QX02 run the 2025 weak-village rectification; on 10 Dec 2025 QX02 has a submitted Q4
    quarterly report with a PDF attachment, a weak-village list in review (its minutes attached), and a
    一村一策 draft."""
    monkeypatch.setattr(campaigns_routes, "launch_campaign", _launch_without_prefect)
    w = World(anon, login, clock)
    admin = await w.as_("admin")
    for code in ("QX01", "QX02"):
        launched = await _ok(await anon.post("/api/v1/campaigns", headers=admin, json={
            "definition": "weak_village_rectification", "township": code, "year": 2025}), 201)
        if code == "QX01":
            w.qx01_campaign = launched["id"]
        else:
            w.ids["campaign"] = launched["id"]

    clock.set(dt.datetime(2025, 12, 10, 9, 0, tzinfo=CHINA_TZ))
    w.tokens.clear()  # the tokens of January have expired
    liaison = await w.as_("qx02-liaison")
    campaign = w.ids["campaign"]

    # The Q4 quarterly report: a draft, a PDF attached, then submitted.
    quarterly = await _ok(await anon.post("/api/v1/submissions", headers=liaison, json={
        "obligation_id": await _obligation(anon, liaison, campaign, "quarterly_report", "2025Q4"), "data": QUARTERLY}), 201)
    w.ids["quarterly"] = quarterly["id"]
    attachment = await _ok(await anon.post(f"/api/v1/submissions/{quarterly['id']}/attachments", headers=liaison,
                                           files={"file": ("附件.pdf", PDF, "application/pdf")}), 201)
    w.ids["attachment"] = attachment["id"]
    submitted = await _ok(await anon.post(f"/api/v1/submissions/{quarterly['id']}/submit", headers=liaison,
                                          json={"version": quarterly["version"]}))
    assert (submitted["status"], submitted["current_level"]) == ("in_review", 0)

    # The weak-village list, its committee minutes attached, in review at the county (role admin).
    listed = await _ok(await anon.post("/api/v1/submissions", headers=liaison, json={
        "obligation_id": await _obligation(anon, liaison, campaign, "list"),
        "data": {"villages": ["QX02001", "QX02002"], "investigation": "逐村过筛子，召开座谈会核实问题。",
                 "committee_meeting_date": "2025-10-09"}}), 201)
    w.ids["list"] = listed["id"]
    minutes = await _ok(await anon.post(f"/api/v1/submissions/{listed['id']}/attachments", headers=liaison,
                                        files={"file": ("党委会议纪要.pdf", PDF, "application/pdf")}), 201)
    patched = await _ok(await anon.patch(f"/api/v1/submissions/{listed['id']}", headers=liaison, json={
        "version": listed["version"], "data": listed["data"] | {"committee_minutes": [minutes["id"]]}}))
    submitted = await _ok(await anon.post(f"/api/v1/submissions/{listed['id']}/submit", headers=liaison,
                                          json={"version": patched["version"]}))
    assert submitted["status"] == "in_review" and [lv["role"] for lv in submitted["chain"]] == ["admin"]

    # An obligation nobody has answered yet (the 2026 Q1 report).
    w.ids["obligation"] = await _obligation(anon, liaison, campaign, "quarterly_report", "2026Q1")

    # The list did not confirm it was verified (an escalation); the county reviewer marks the report
    # unverified too, which the administrator confirms (an accountability case); and an urging notice.
    reviewer, admin = await w.as_("county-reviewer"), await w.as_("admin")
    flagged = (await _ok(await anon.get("/api/v1/escalations", headers=admin,
                                        params={"trigger": "unverified", "township": "QX02"})))["items"]
    assert [e["submission_id"] for e in flagged] == [listed["id"]]
    flagged = flagged[0]
    w.ids["escalation"] = flagged["id"]
    other = await _ok(await anon.post(f"/api/v1/submissions/{quarterly['id']}/unverified", headers=reviewer,
                                      json={"comment": "报告数据与实地不符"}), 201)
    case = await _ok(await anon.post(f"/api/v1/escalations/{other['id']}/confirm", headers=admin,
                                     json={"note": "核实属实", "version": other["version"]}), 201)
    w.ids["case"] = case["id"]
    w.ids["document"] = _issue_document(flagged["id"])

    # A 一村一策 draft, saved incomplete.
    draft = await _ok(await anon.post("/api/v1/submissions", headers=liaison, json={
        "obligation_id": await _obligation(anon, liaison, campaign, "plan"), "data": {"problems": "班子不团结"}}), 201)
    w.ids["draft"] = draft["id"]
    return w


def _issue_document(escalation_id: int) -> int:
    """An urging notice (催办通知) for a QX02 escalation, through the engine's own document writer."""
    from sqlmodel import Session

    from domain.definitions import EscalationLevel
    from models import Campaign, Escalation, OrgUnit
    from tasks.escalation import Step, issue_document

    with Session(get_engine()) as s:
        esc = s.get(Escalation, escalation_id)
        assert esc is not None
        campaign, township = s.get(Campaign, esc.campaign_id), s.get(OrgUnit, esc.township_id)
        assert campaign is not None and township is not None
        level = EscalationLevel(key="urge", name="催办", after_workdays=1, recipients=[{"role": "submitter"}],
                                document="urging_notice")
        step = Step(campaign=campaign, township=township, trigger=esc.trigger, level=1, key="doc", reason=esc.reason,
                    item_title="名单")
        now = dt.datetime(2025, 12, 10, 9, 0, tzinfo=CHINA_TZ)
        doc = issue_document(s, level, step, esc, now.date(), now)
        esc.document_id = doc.id
        s.add(esc)
        s.commit()
        return doc.id or 0


async def _approve_list(w: World) -> None:
    """The administrator approves QX02's list: its two villages enter rectification."""
    approved = await _ok(await w.client.post(f"/api/v1/submissions/{w.ids['list']}/decisions", headers=await w.as_("admin"),
                                             json={"decision": "approve", "version": await w.version("list")}))
    assert approved["status"] == "approved"
    rows = await _ok(await w.client.get("/api/v1/rectifications", params={"campaign": w.ids["campaign"]}, headers=await w.as_("admin")))
    assert [r["village"] for r in rows["items"]] == ["QX02001", "QX02002"]
    w.ids["rectification"] = rows["items"][0]["id"]


async def _body_for(w: World, row: Row) -> dict[str, Any]:
    """The request a caller allowed to act on the object would send (valid, current version)."""
    if row.body is None:
        return {}
    if row.body == "upload":
        return {"files": {"file": ("证明.pdf", PDF, "application/pdf")}}
    if row.body == "action":
        return {"json": {"action": "apply", "version": 1}}
    if row.body == "form" and row.target in ("escalation", "case"):
        return {"data": {"version": "1", "csrf_token": "", "note": "核实", "outcome": "dismiss", "decision": "no_action",
                         "interview_on": "2025-12-10"}}
    if row.body == "form":
        return {"data": {"decision": "approve", "version": str(await w.version(row.target or "")), "csrf_token": ""}}
    extra = {
        "unverified": {"comment": "经核实存在随意上报"},
        "interview": {"interview_on": "2025-12-10", "outcome": "已约谈", "version": 1},
        "check": {"note": "经核实", "version": 1},
        "case_decision": {"decision": "admonishment", "note": "诫勉谈话", "version": 1},
    }
    if row.body in extra:
        return {"json": extra[row.body]}
    version = await w.version(row.target or "")
    payload: dict[str, Any] = {
        "version": {"version": version},
        "patch": {"version": version, "data": {"problems": "班子软弱", "measures": "调整充实班子"}},
        "decision": {"decision": "approve", "comment": "同意", "version": version},
        "veto": {"check": "verified", "comment": "经核实存在随意上报", "version": version},
    }[row.body]
    return {"json": payload}


async def _call(w: World, row: Row, object_id: int | str, headers: dict[str, str]) -> httpx.Response:
    path = re.sub(r"\{[^}]+\}", str(object_id), row.path)
    return await w.client.request(row.method, path, headers=headers, **await _body_for(w, row))


def _same_shape(detail: str, object_id: int | str) -> str:
    return detail.replace(str(object_id), "<id>")


async def test_outsiders_get_404_on_every_route_naming_a_qx02_object(world: World) -> None:
    w = world
    await _approve_list(w)
    admin = await w.as_("admin")
    # Control: every target exists and the county administrator sees it.
    for key, path in (("campaign", "/api/v1/campaigns/{}"), ("quarterly", "/api/v1/submissions/{}"),
                      ("list", "/api/v1/submissions/{}"), ("draft", "/api/v1/submissions/{}"),
                      ("attachment", "/api/v1/attachments/{}")):
        assert (await w.client.get(path.format(w.ids[key]), headers=admin)).status_code == 200, key
    before = await w.snapshot()

    failures: list[str] = []
    for username in OUTSIDERS:
        headers = await w.as_(username)
        for row in ROUTES:
            if row.target is None:  # reference data, the same for everyone
                sample = {"/api/v1/definitions/{key}": "weak_village_rectification", "/api/v1/calendar/{year}": 2025,
                          "/api/v1/outbox/{outbox_id}/retry": 1, "/api/v1/ledgers/{name}.xlsx": "campaigns"}[row.path]
                response = await _call(w, row, sample, headers)
                if response.status_code != row.expect:
                    failures.append(f"{username}: {row.method} {row.path} → {response.status_code}, "
                                    f"expected {row.expect} ({row.reason})")
                continue
            object_id = w.ids[row.target]
            response = await _call(w, row, object_id, headers)
            where = f"{username}: {row.method} {row.path} ({row.target} {object_id})"
            if response.status_code != 404:
                failures.append(f"{where} → {response.status_code} {response.text[:200]}")
                continue
            if not response.headers["content-type"].startswith("application/problem+json"):
                failures.append(f"{where} → 404 but {response.headers['content-type']}")
                continue
            # Indistinguishable from an object that does not exist at all.
            missing = await _call(w, row, NOT_FOUND_ID, headers)
            seen, unseen = response.json(), missing.json()
            if (missing.status_code, unseen["title"], _same_shape(unseen["detail"], NOT_FOUND_ID)) != (
                    404, seen["title"], _same_shape(seen["detail"], object_id)):
                failures.append(f"{where} → 404 {seen} differs from a missing object's {missing.status_code} {unseen}")
        # The request body may name a QX02 object too: answering QX02's obligation.
        answers = [await w.client.post("/api/v1/submissions", headers=headers,
                                       json={"obligation_id": obligation, "data": QUARTERLY, "submit": True})
                   for obligation in (w.ids["obligation"], NOT_FOUND_ID)]
        if [a.status_code for a in answers] != [404, 404] or _same_shape(answers[0].json()["detail"], w.ids["obligation"]) \
                != _same_shape(answers[1].json()["detail"], NOT_FOUND_ID):
            failures.append(f"{username}: POST /api/v1/submissions (QX02 obligation) → {answers[0].status_code} {answers[0].text[:200]}")
        parent = await w.client.get("/api/v1/org-units", params={"parent": "QX02"}, headers=headers)
        nowhere = await w.client.get("/api/v1/org-units", params={"parent": "QX99"}, headers=headers)
        if parent.status_code != 404 or _same_shape(parent.json()["detail"], "QX02") != _same_shape(nowhere.json()["detail"], "QX99"):
            failures.append(f"{username}: GET /api/v1/org-units?parent=QX02 → {parent.status_code} {parent.text[:200]}")
    assert failures == [], "\n".join(failures)
    assert await w.snapshot() == before, "a refused request changed a QX02 object"


async def test_list_endpoints_do_not_leak_other_townships(world: World) -> None:
    w = world
    await _approve_list(w)
    qx02 = set(w.ids.values())
    headers = await w.as_("qx01-liaison")

    campaigns = await _ok(await w.client.get("/api/v1/campaigns", headers=headers))
    assert [(c["id"], c["township"]) for c in campaigns["items"]] == [(w.qx01_campaign, "QX01")]
    assert campaigns["total"] == 1
    filtered = await _ok(await w.client.get("/api/v1/campaigns", params={"township": "QX02"}, headers=headers))
    assert (filtered["items"], filtered["total"]) == ([], 0)

    submissions = await _ok(await w.client.get("/api/v1/submissions", headers=headers))
    assert submissions["items"] == []
    by_campaign = await _ok(await w.client.get("/api/v1/submissions", params={"campaign": w.ids["campaign"]}, headers=headers))
    assert by_campaign["items"] == []

    villages = await _ok(await w.client.get("/api/v1/org-units", params={"kind": "village", "limit": 1000}, headers=headers))
    codes = [v["code"] for v in villages["items"]]
    assert len(codes) == 10 and villages["total"] == 10
    assert all(c.startswith("QX01") and v["parent"] == "QX01" for c, v in zip(codes, villages["items"], strict=True))

    rectifications = await _ok(await w.client.get("/api/v1/rectifications", headers=headers))
    assert rectifications["items"] == []
    by_campaign = await _ok(await w.client.get("/api/v1/rectifications", params={"campaign": w.ids["campaign"]}, headers=headers))
    assert by_campaign["items"] == []
    for username in ("qx01-secretary", "qx03-secretary"):
        queue = await _ok(await w.client.get("/api/v1/reviews/queue", headers=await w.as_(username)))
        assert queue["items"] == [], username
    todos = await _ok(await w.client.get("/api/v1/todos", headers=headers))
    assert todos["items"] and not {t["campaign_id"] for t in todos["items"]} & {w.ids["campaign"]}
    assert not {t["submission_id"] for t in todos["items"]} & qx02

    # The observer, whose contact townships are QX01 and QX02, sees both and nothing else.
    observer = await w.as_("observer")
    seen = await _ok(await w.client.get("/api/v1/campaigns", headers=observer))
    assert sorted(c["township"] for c in seen["items"]) == ["QX01", "QX02"]
    townships = await _ok(await w.client.get("/api/v1/org-units", params={"kind": "township"}, headers=observer))
    assert [t["code"] for t in townships["items"]] == ["QX01", "QX02"]
    assert (await w.client.get("/api/v1/org-units", params={"parent": "QX03"}, headers=observer)).status_code == 404


async def test_roles_inside_the_township(world: World) -> None:
    w = world
    c = w.client
    ids = w.ids
    liaison, secretary = await w.as_("qx02-liaison"), await w.as_("qx02-secretary")
    observer, county = await w.as_("observer"), await w.as_("county-reviewer")
    launch = {"definition": "five_good_model_site", "township": "QX02", "year": 2026}

    def refused(response: httpx.Response) -> None:
        assert response.status_code == 403, f"{response.request.method} {response.request.url}: {response.status_code} {response.text}"
        assert response.headers["content-type"].startswith("application/problem+json")
        assert re.search(r"[\u4e00-\u9fff]", response.json()["detail"])

    # The liaison may neither approve its own report nor launch campaigns.
    refused(await c.post(f"/api/v1/submissions/{ids['quarterly']}/decisions", headers=liaison,
                         json={"decision": "approve", "version": await w.version("quarterly")}))
    refused(await c.post("/api/v1/campaigns", headers=liaison, json=launch))
    refused(await c.post("/api/v1/campaigns/batch", headers=liaison, json={"definition": "five_good_model_site", "year": 2026}))

    # The observer reads QX02's objects but changes nothing.
    for path in (f"/api/v1/campaigns/{ids['campaign']}", f"/api/v1/submissions/{ids['quarterly']}",
                 f"/api/v1/attachments/{ids['attachment']}"):
        assert (await c.get(path, headers=observer)).status_code == 200, path
    download = await c.get(f"/api/v1/attachments/{ids['attachment']}", headers=observer)
    assert (download.content, download.headers["content-type"]) == (PDF, "application/pdf")
    draft_version, quarterly_version = await w.version("draft"), await w.version("quarterly")
    refused(await c.patch(f"/api/v1/submissions/{ids['draft']}", headers=observer,
                          json={"version": draft_version, "data": {"problems": "观察员改的"}}))
    refused(await c.post(f"/api/v1/submissions/{ids['draft']}/submit", headers=observer, json={"version": draft_version}))
    refused(await c.post(f"/api/v1/submissions/{ids['draft']}/attachments", headers=observer,
                         files={"file": ("x.pdf", PDF, "application/pdf")}))
    refused(await c.post(f"/api/v1/submissions/{ids['quarterly']}/withdraw", headers=observer,
                         json={"version": await w.version("quarterly")}))
    refused(await c.post(f"/api/v1/submissions/{ids['quarterly']}/decisions", headers=observer,
                         json={"decision": "approve", "version": await w.version("quarterly")}))
    refused(await c.post(f"/api/v1/submissions/{ids['list']}/veto", headers=observer,
                         json={"check": "verified", "comment": "不同意", "version": await w.version("list")}))
    refused(await c.post("/api/v1/campaigns", headers=observer, json=launch))
    assert (await w.version("draft"), await w.version("quarterly")) == (draft_version, quarterly_version)

    # The county reviewer may not decide on the weak-village list: its chain level's role is admin.
    refused(await c.post(f"/api/v1/submissions/{ids['list']}/decisions", headers=county,
                         json={"decision": "approve", "version": await w.version("list")}))
    refused(await c.post(f"/api/v1/submissions/{ids['list']}/decisions", headers=county,
                         json={"decision": "return", "comment": "名单不全", "version": await w.version("list")}))
    # Nor on a township level: the quarterly report waits for QX02's secretary first.
    refused(await c.post(f"/api/v1/submissions/{ids['quarterly']}/decisions", headers=county,
                         json={"decision": "approve", "version": await w.version("quarterly")}))

    # The township secretary approves at the township level, then may not decide at the county level.
    first = await _ok(await c.post(f"/api/v1/submissions/{ids['quarterly']}/decisions", headers=secretary,
                                   json={"decision": "approve", "version": await w.version("quarterly")}))
    assert (first["status"], first["current_level"]) == ("in_review", 1)
    refused(await c.post(f"/api/v1/submissions/{ids['quarterly']}/decisions", headers=secretary,
                         json={"decision": "approve", "version": first["version"]}))
    # ...and the liaison may no longer withdraw it once a level has approved (409, a state rule, not a 403).
    late = await c.post(f"/api/v1/submissions/{ids['quarterly']}/withdraw", headers=liaison, json={"version": first["version"]})
    assert late.status_code == 409
    final = await _ok(await c.post(f"/api/v1/submissions/{ids['quarterly']}/decisions", headers=county,
                                   json={"decision": "approve", "version": first["version"]}))
    assert final["status"] == "approved"
    assert [(r["level_name"], r["decision"]) for r in final["reviews"]] == [("乡（镇）党委审核", "approve"), ("县委组织部审核", "approve")]

    # Only the administrator vetoes and acts on rectifications as the county; the township applies.
    await _approve_list(w)
    refused(await c.post(f"/api/v1/submissions/{ids['list']}/veto", headers=county,
                         json={"check": "verified", "comment": "随意上报", "version": await w.version("list")}))
    refused(await c.post(f"/api/v1/rectifications/{ids['rectification']}/actions", headers=observer,
                         json={"action": "apply", "version": 1}))
    refused(await c.post(f"/api/v1/rectifications/{ids['rectification']}/actions", headers=secretary,
                         json={"action": "apply", "version": 1}))
    refused(await c.post(f"/api/v1/rectifications/{ids['rectification']}/actions", headers=liaison,
                         json={"action": "accept", "version": 1}))
    applied = await _ok(await c.post(f"/api/v1/rectifications/{ids['rectification']}/actions", headers=liaison,
                                     json={"action": "apply", "version": 1}))
    assert applied["version"] == 2


async def test_org_units_parent_outside_scope_reads_like_an_unknown_code(anon: httpx.AsyncClient, login: Login) -> None:
    headers = await login(anon, "qx01-liaison")
    village = await anon.get("/api/v1/org-units", params={"parent": "QX02001"}, headers=headers)
    unknown = await anon.get("/api/v1/org-units", params={"parent": "QX02999"}, headers=headers)
    assert unknown.status_code == 404
    assert village.status_code == 404, village.text
    assert _same_shape(village.json()["detail"], "QX02001") == _same_shape(unknown.json()["detail"], "QX02999")
