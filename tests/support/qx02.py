"""柳河乡 (QX02) with material in every state, for the permission, CSRF and route-matrix tests: the world they walk
(``build_world``), the routes that name its objects (``ROUTES``) and the forms of the web UI (``FORMS``), each
with the request that a user allowed to use it would send.

QX01 and QX02 run the 2025 weak-village rectification; on 10 Dec 2025 QX02 has a submitted Q4 quarterly report
with a PDF attachment, a weak-village list in review (its minutes attached), an unanswered 2026 Q1 report, an
escalation with an urging notice, an accountability case and a draft of its 2026 Q2 report (the 一村一策 plans
are owed only once the list is approved: ``approve_list``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from api.routes import campaigns as campaigns_routes
from core.clock import FakeClock
from core.db import get_engine
from tests.support.clock import at
from tests.support.desk import desk_world
from tests.support.review_chain import judged
from tests.support.world import Login, SignedIn, launch_without_prefect

PDF = b"%PDF-1.4 test"
QUARTERLY = {"basic_situation": "柳河乡共有后进薄弱村2个，已逐村落实整顿措施。", "results": "完成班子调整1个，新发展党员2名。",
             "main_problems": "个别村集体经济薄弱，带头人能力不足。", "next_steps": "下季度完成村级活动场所改造，加强培训。"}


async def _stationing(w: World) -> None:
    """Programme 1's approved 2025 plan: QX02's own cadre in QX02001, with a diary and a drafted 工作鉴定, and a county
    unit's cadre in QX02002 (arrivals and departures)."""
    from core.db import get_engine
    from tests.support.stationing import approved_plan
    from tests.support.stationing_assessment import diary

    approved_plan(get_engine(), 2025, {"QX02001": ("QX02", ["QX02-C1"]), "QX02002": ("QXD01", ["QXD01-01"])},
                  arrived_on=dt.date(2025, 1, 6))
    diary(get_engine(), "QX02-C1", "QX02001", dt.date(2025, 1, 10))
    drafted = await w.client.put("/api/v1/cadre-assessments/QX02-C1/2025", headers=await w.as_("qx02-liaison"),
                                 json={"appraisal": "吃住在村，帮助理清发展思路", "grade": "competent"})
    assert drafted.status_code == 200, drafted.text
    w.codes["cadre"] = "QX02-C1"


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
    Row("GET", "/api/v1/campaigns/{campaign_id}/targets", "campaign"),
    Row("GET", "/api/v1/assessments/{township}/{year}", "township"),
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
    Row("GET", "/api/v1/definitions/{key}/versions", None, reason="county-wide reference data (2025 names no definition)",
        expect=404),
    Row("POST", "/api/v1/definitions/{key}/versions", None, "definition_publish",
        reason="only administrators publish definitions", expect=403),
    Row("POST", "/api/v1/definitions/{key}/retire", None, reason="only administrators retire definitions", expect=403),
    Row("GET", "/api/v1/definitions/{key}/diff", None, reason="county-wide reference data (2025 names no definition)",
        expect=404),
    Row("POST", "/api/v1/definitions/{key}/migrations", None, "definition_migration",
        reason="only administrators migrate campaigns", expect=403),
    Row("GET", "/api/v1/calendar/{year}", None, reason="the working-day calendar is public reference data"),
    Row("GET", "/api/v1/channels/users/{username}", None, reason="only administrators see other users' channels",
        expect=403),
    Row("PUT", "/api/v1/channels/users/{username}", None, "user_channels",
        reason="only administrators set other users' channels", expect=403),
    Row("GET", "/admin/definitions/{key}", None, reason="the definition's page is for administrators", expect=403),
    Row("POST", "/admin/definitions/{key}/publish", None, reason="only administrators publish definitions", expect=403),
    Row("POST", "/admin/definitions/{key}/preview", None, reason="only administrators preview drafts", expect=403),
    Row("POST", "/admin/definitions/{key}/migrate", None, reason="only administrators migrate campaigns", expect=403),
    Row("POST", "/api/v1/outbox/{outbox_id}/retry", None, reason="the county-wide mail queue is for administrators only",
        expect=403),
    Row("PUT", "/api/v1/teams/{village}/{year}/{month}", "village", "team_month"),
    Row("POST", "/api/v1/unit-reports/{report_id}/review", "unit_report", "unit_report_review"),
    # The stationing programme (003): county-wide programmes and yearly plans, a township's teams within them.
    Row("GET", "/api/v1/programmes/{programme_id}", None, reason="a programme is county-wide and names no township"),
    Row("GET", "/api/v1/programmes/{programme_id}/acceptance", None,
        reason="county-wide; a township sees only its own townships and villages in it (test_stationing_assessment.py)"),
    Row("POST", "/api/v1/programmes/{programme_id}/acceptances", None, "acceptance", expect=404,
        reason="the body names QX02's village: outsiders get 404 as for a village that does not exist"),
    Row("GET", "/api/v1/stationing/plans/{year}", None,
        reason="a year's plan is county-wide; a township sees only its villages' teams (test_stationing.py)"),
    Row("GET", "/api/v1/stationing/plans/{year}/rows", None, reason="the plan's ledger rows, scoped like the plan"),
    Row("PUT", "/api/v1/stationing/plans/{year}", None, "plan", expect=403, reason="the 基层办 drafts the plan"),
    Row("POST", "/api/v1/stationing/plans/{year}/submit", None, expect=403, reason="the 基层办 submits the plan"),
    Row("POST", "/api/v1/stationing/plans/{year}/decision", None, "plan_decision", expect=403,
        reason="the county reviews the plan"),
    Row("POST", "/api/v1/stationing/plans/{year}/arrivals", None, "arrival", expect=404,
        reason="the body names QX02's cadre: outsiders get 404 as for a cadre not in the plan"),
    Row("POST", "/api/v1/stationing/plans/{year}/departures", None, "departure", expect=404,
        reason="the body names QX02's cadre: outsiders get 404 as for a cadre not in the plan"),
    Row("GET", "/api/v1/cadres/{code}/record", "cadre"),
    Row("PUT", "/api/v1/cadre-assessments/{cadre}/{year}", "cadre", "appraisal"),
    Row("POST", "/api/v1/cadre-assessments/{cadre}/{year}/submit", "cadre", "appraisal_version"),
    Row("POST", "/api/v1/cadre-assessments/{cadre}/{year}/decision", "cadre", "appraisal_decision"),
    Row("PUT", "/api/v1/unit-assessments/{unit}/{year}", None, "unit_rating", expect=403,
        reason="a dispatching unit's rating is the county's, for administrators only"),
    Row("GET", "/stationing/{year}", None, reason="the plan's page, scoped like the plan"),
    Row("POST", "/stationing/{year}/submit", None, "plan_form", expect=403, reason="the 基层办 submits the plan"),
    Row("POST", "/stationing/{year}/decision", None, "plan_form", expect=403, reason="the county reviews the plan"),
    Row("POST", "/stationing/{year}/arrivals", None, "arrival_form", expect=403,
        reason="a form without the page's CSRF token is refused first; test_csrf.py sends it with one"),
    Row("GET", "/programmes/{programme_id}/acceptance", None, reason="the acceptance page, scoped like its API"),
    Row("GET", "/api/v1/ledgers/{name}.xlsx", None,
        reason="names a kind of ledger, not an object; its rows are scoped to the caller (tests/api/test_ledgers.py)"),
    # The web pages name the same objects as the API.
    Row("GET", "/campaigns/{campaign_id}", "campaign"),
    Row("GET", "/assessments/{township}/{year}", "township"),
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
    # The 督办 desk (tests/support/desk.py builds its objects).
    Row("GET", "/api/v1/desk/items/{item_id}", "desk_item"),
    Row("POST", "/api/v1/desk/items/{item_id}/attachment", "desk_item", "upload"),
    Row("GET", "/api/v1/desk/items/{item_id}/attachment", "desk_item"),
    Row("POST", "/api/v1/desk/recipients/{recipient_id}/acknowledge", "desk_recipient"),
    Row("POST", "/api/v1/desk/recipients/{recipient_id}/extensions", "desk_recipient", "desk_extension"),
    Row("POST", "/api/v1/desk/recipients/{recipient_id}/urges", "desk_recipient", "desk_urge"),
    Row("POST", "/api/v1/desk/extensions/{request_id}/decision", "desk_extension", "desk_decision"),
    Row("GET", "/api/v1/desk/bulletins/{bulletin_id}", "desk_bulletin"),
    Row("POST", "/api/v1/desk/bulletins/{bulletin_id}/publish", "desk_bulletin", "desk_publish"),
    Row("POST", "/desk/recipients/{recipient_id}/acknowledge", "desk_recipient"),
    Row("POST", "/desk/recipients/{recipient_id}/extensions", "desk_recipient"),
    Row("POST", "/desk/recipients/{recipient_id}/urges", "desk_recipient"),
    Row("POST", "/desk/extensions/{request_id}/decision", "desk_extension"),
    Row("POST", "/desk/bulletins/{bulletin_id}/publish", "desk_bulletin"),
    Row("POST", "/api/v1/desk/signing/{obligation_id}/acknowledge", "desk_ack"),
    Row("POST", "/desk/signing/{obligation_id}/acknowledge", "desk_ack"),
]

@dataclass
class World(SignedIn):
    """QX02's objects by name (``ids``), and the QX01 campaign."""

    clock: FakeClock
    ids: dict[str, int] = field(default_factory=dict)
    codes: dict[str, str] = field(default_factory=lambda: {"township": "QX02"})  # objects named by code in a path
    qx01_campaign: int = 0

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


async def ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, f"{response.request.method} {response.request.url}: {response.status_code} {response.text}"
    return dict(response.json())


async def obligation_id(client: httpx.AsyncClient, headers: dict[str, str], campaign: int, kind: str, period: str | None = None) -> int:
    body = await ok(await client.get(f"/api/v1/campaigns/{campaign}", headers=headers))
    return next(o["id"] for o in body["obligations"] if o["kind"] == kind and (period is None or o["period"] == period))


async def build_world(anon: httpx.AsyncClient, login: Login, clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> World:
    """QX01 and QX02 run the 2025 weak-village rectification; on 10 Dec 2025 QX02 has a submitted Q4
    quarterly report with a PDF attachment, a weak-village list in review (its minutes attached), and a
    draft of the 2026 Q2 report."""
    monkeypatch.setattr(campaigns_routes, "launch_campaign", launch_without_prefect)
    w = World(anon, login, clock)
    admin = await w.as_("admin")
    for code in ("QX01", "QX02"):
        launched = await ok(await anon.post("/api/v1/campaigns", headers=admin, json={
            "definition": "weak_village_rectification", "township": code, "year": 2025}), 201)
        if code == "QX01":
            w.qx01_campaign = launched["id"]
        else:
            w.ids["campaign"] = launched["id"]

    clock.set(at(dt.date(2025, 12, 10)))
    w.tokens.clear()  # the tokens of January have expired
    liaison = await w.as_("qx02-liaison")
    campaign = w.ids["campaign"]

    # The Q4 quarterly report: a draft, a PDF attached, then submitted.
    quarterly = await ok(await anon.post("/api/v1/submissions", headers=liaison, json={
        "obligation_id": await obligation_id(anon, liaison, campaign, "quarterly_report", "2025Q4"), "data": QUARTERLY}), 201)
    w.ids["quarterly"] = quarterly["id"]
    attachment = await ok(await anon.post(f"/api/v1/submissions/{quarterly['id']}/attachments", headers=liaison,
                                          files={"file": ("附件.pdf", PDF, "application/pdf")}), 201)
    w.ids["attachment"] = attachment["id"]
    submitted = await ok(await anon.post(f"/api/v1/submissions/{quarterly['id']}/submit", headers=liaison,
                                         json={"version": quarterly["version"]}))
    assert (submitted["status"], submitted["current_level"]) == ("in_review", 0)

    # The weak-village list, its committee minutes attached, in review at the county (role admin).
    listed = await ok(await anon.post("/api/v1/submissions", headers=liaison, json={
        "obligation_id": await obligation_id(anon, liaison, campaign, "list"),
        "data": {"villages": ["QX02001", "QX02002"], "investigation": "逐村过筛子，召开座谈会核实问题。",
                 "committee_meeting_date": "2025-10-09"}}), 201)
    w.ids["list"] = listed["id"]
    minutes = await ok(await anon.post(f"/api/v1/submissions/{listed['id']}/attachments", headers=liaison,
                                       files={"file": ("党委会议纪要.pdf", PDF, "application/pdf")}), 201)
    patched = await ok(await anon.patch(f"/api/v1/submissions/{listed['id']}", headers=liaison, json={
        "version": listed["version"], "data": listed["data"] | {"committee_minutes": [minutes["id"]]}}))
    submitted = await ok(await anon.post(f"/api/v1/submissions/{listed['id']}/submit", headers=liaison,
                                         json={"version": patched["version"]}))
    assert submitted["status"] == "in_review" and [lv["role"] for lv in submitted["chain"]] == ["admin"]

    # An obligation nobody has answered yet (the 2026 Q1 report).
    w.ids["obligation"] = await obligation_id(anon, liaison, campaign, "quarterly_report", "2026Q1")

    # The list did not confirm it was verified (an escalation); the county reviewer marks the report
    # unverified too, which the administrator confirms (an accountability case); and an urging notice.
    reviewer, admin = await w.as_("county-reviewer"), await w.as_("admin")
    flagged = (await ok(await anon.get("/api/v1/escalations", headers=admin,
                                        params={"trigger": "unverified", "township": "QX02"})))["items"]
    assert [e["submission_id"] for e in flagged] == [listed["id"]]
    flagged = flagged[0]
    w.ids["escalation"] = flagged["id"]
    other = await ok(await anon.post(f"/api/v1/submissions/{quarterly['id']}/unverified", headers=reviewer,
                                     json={"comment": "报告数据与实地不符"}), 201)
    case = await ok(await anon.post(f"/api/v1/escalations/{other['id']}/confirm", headers=admin,
                                    json={"note": "核实属实", "version": other["version"]}), 201)
    w.ids["case"] = case["id"]
    w.ids["document"] = issue_document_for(flagged["id"])

    # A draft of the 2026 Q2 report, saved incomplete.
    draft = await ok(await anon.post("/api/v1/submissions", headers=liaison, json={
        "obligation_id": await obligation_id(anon, liaison, campaign, "quarterly_report", "2026Q2"),
        "data": {"basic_situation": "两个后进村班子调整已启动"}}), 201)
    w.ids["draft"] = draft["id"]

    # QX02's quarterly written report to the 基层办 (003 四(六)), submitted and awaiting review.
    from tests.support.work_records import submitted_report

    w.ids["unit_report"] = await submitted_report(anon, w.as_, "QX02", 2025, 4)
    w.codes["village"] = "QX02001"
    w.ids["plan_year"] = 2025  # the stationing plan forms of a year
    await _stationing(w)
    # The 督办 desk: an item assigned to QX02, its extension request, a draft bulletin (ids desk_*).
    await desk_world(anon, w, w.ids)
    return w


def issue_document_for(escalation_id: int) -> int:
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
        now = at(dt.date(2025, 12, 10))
        doc = issue_document(s, level, step, esc, now.date(), now)
        esc.document_id = doc.id
        s.add(esc)
        s.commit()
        return doc.id or 0


async def approve_list(w: World) -> None:
    """The administrator approves QX02's list: its two villages enter rectification."""
    approved = await ok(await w.client.post(f"/api/v1/submissions/{w.ids['list']}/decisions", headers=await w.as_("admin"),
                                            json={"decision": "approve", "version": await w.version("list"),
                                                  "checks": await judged(w.client, w, "admin", w.ids["list"])}))
    assert approved["status"] == "approved"
    rows = await ok(await w.client.get("/api/v1/rectifications", params={"campaign": w.ids["campaign"]}, headers=await w.as_("admin")))
    assert [r["village"] for r in rows["items"]] == ["QX02001", "QX02002"]
    w.ids["rectification"] = rows["items"][0]["id"]


async def body_for(w: World, row: Row) -> dict[str, Any]:
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
    extra: dict[str, dict[str, Any]] = {
        "unverified": {"comment": "经核实存在随意上报"},
        "interview": {"interview_on": "2025-12-10", "outcome": "已约谈", "version": 1},
        "check": {"note": "经核实", "version": 1},
        "case_decision": {"decision": "admonishment", "note": "诫勉谈话", "version": 1},
        "team_month": {"work": "组织党员学习"},
        "unit_report_review": {"decision": "accept", "version": 1},
        "acceptance": {"subject": "QX02001", "passed": True},
        "plan": {"teams": []},
        "plan_decision": {"decision": "approve"},
        "arrival": {"cadre": "QX02-C1", "arrived_on": "2025-01-06"},
        "departure": {"cadre": "QX02-C1", "left_on": "2025-06-30", "reason": "调回原单位"},
        "appraisal": {"appraisal": "吃住在村，帮助理清发展思路", "grade": "competent", "version": 1},
        "appraisal_version": {"version": 1},
        "appraisal_decision": {"decision": "approve", "version": 2},
        "unit_rating": {"proposed_rating": "good"},
        "desk_extension": {"reason": "年底事务集中", "progress": "已完成一半", "proposed_on": "2026-01-09"},
        "desk_urge": {"colour": "blue", "note": "临近期限"},
        "definition_publish": {"source": "key: weak_village_rectification", "note": "矩阵"},
        "definition_migration": {"to_version": 1, "year": 2025},
        "desk_decision": {"decision": "approve", "version": 1},
        "desk_publish": {"version": 1},
        "user_channels": {"phone": "13800000002", "channels": ["email", "sms"]},
    }
    if row.body == "plan_form":
        return {"data": {"decision": "approve", "csrf_token": ""}}
    if row.body == "arrival_form":
        return {"data": {"cadre": "QX02-C1", "arrived_on": "2025-01-06", "csrf_token": ""}}
    if row.body in extra:
        return {"json": extra[row.body]}
    version = await w.version(row.target or "")
    payloads: dict[str, dict[str, Any]] = {
        "version": {"version": version},
        "patch": {"version": version, "data": {"basic_situation": "班子软弱", "results": "调整充实班子"}},
        "decision": {"decision": "approve", "comment": "同意", "version": version},
        "veto": {"check": "verified", "comment": "经核实存在随意上报", "version": version},
    }
    return {"json": payloads[row.body]}


# ---- the forms of the web UI: who sends them and what ------------------------------------------------------------

CALENDAR_YAML = b"year: 2031\nholidays: ['2031-01-01']\nmakeup_workdays: []\n"
DEFINITION_YAML = b"key: x\nname: x\n"


@dataclass(frozen=True)
class FormCase:
    username: str
    target: str | None  # key into World.ids for the path parameter
    fields: Callable[[World], Any]  # form fields (without the token); may be a coroutine function
    files: dict[str, tuple[str, bytes, str]] | None = None


async def _form_version(w: World, key: str) -> str:
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
    return {"decision": "approve", "version": await _form_version(w, "quarterly")}


async def _edit(w: World) -> dict[str, Any]:
    return {"action": "save", "version": await _form_version(w, "draft"), "f_basic_situation": "班子软弱涣散",
            "f_results": "调整班子"}


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
    ("POST", "/admin/definitions/{key}/publish"): FormCase("admin", None, lambda w: {"source": "key: x", "note": "x"}),
    ("POST", "/admin/definitions/{key}/preview"): FormCase(
        "admin", None, lambda w: {"source": "key: x", "year": "2025", "township": "QX02"}),
    ("POST", "/admin/definitions/{key}/migrate"): FormCase("admin", None, lambda w: {"to_version": "1"}),
    ("POST", "/admin/definitions/validate"): FormCase("admin", None, lambda w: {},
                                                      {"file": ("x.yaml", DEFINITION_YAML, "application/x-yaml")}),
    ("POST", "/ledgers/org-units"): FormCase("admin", None, lambda w: {},
                                             {"file": ("组织.xlsx", b"PK\x03\x04 not a workbook", "application/octet-stream")}),
    ("POST", "/cadres/import"): FormCase("admin", None, lambda w: {"what": "leader"},
                                         {"file": ("领导.xlsx", b"PK\x03\x04 not a workbook", "application/octet-stream")}),
    ("POST", "/stationing/{year}/submit"): FormCase("admin", "plan_year", lambda w: {}),
    ("POST", "/stationing/{year}/decision"): FormCase("county-reviewer", "plan_year", lambda w: {"decision": "approve"}),
    ("POST", "/stationing/{year}/arrivals"): FormCase("qx02-liaison", "plan_year", lambda w: {
        "cadre": "QX02-C1", "arrived_on": "2025-01-06"}),
    ("POST", "/channels/me"): FormCase("qx02-liaison", None, lambda w: {
        "phone": "13800000002", "channels": "email", "quiet_start": "22:00", "quiet_end": "07:00"}),
    ("POST", "/admin/channels/robots"): FormCase("admin", None, lambda w: {
        "org_unit_id": "1", "channel": "wecom", "name": "县委组织部工作群",
        "webhook": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=0123456789abcdef", "active": "on"}),
    ("POST", "/diaries"): FormCase("qx02-liaison", None, lambda w: {
        "cadre": "QX02-C1", "entry_date": "2025-12-09", "place": "村委会", "work": "走访党员"}),
    ("POST", "/ledgers/rectification-plans"): FormCase(
        "qx02-liaison", None, lambda w: {"campaign_id": str(w.ids["campaign"])},
        {"file": ("方案.xlsx", b"PK\x03\x04 not a workbook", "application/octet-stream")}),
    ("POST", "/escalations/{escalation_id}/interview"): FormCase("admin", "escalation", _interview),
    ("POST", "/escalations/{escalation_id}/check"): FormCase("admin", "escalation", _check),
    ("POST", "/cases/{case_id}/decision"): FormCase("admin", "case", _case_decision),
    ("POST", "/cases/{case_id}/close"): FormCase("admin", "case", _case_close),
    # the 督办 desk
    ("POST", "/desk/items"): FormCase("admin", None, lambda w: {
        "title": "核查党员信息", "source": "meeting", "requirement": "逐一核对", "due_on": "2025-12-30",
        "townships": ["QX03"]}),
    ("POST", "/desk/recipients/{recipient_id}/acknowledge"): FormCase("qx02-liaison", "desk_recipient", lambda w: {}),
    ("POST", "/desk/recipients/{recipient_id}/extensions"): FormCase("qx02-liaison", "desk_recipient", lambda w: {
        "reason": "年底事务集中", "progress": "已完成一半", "proposed_on": "2026-01-09"}),
    ("POST", "/desk/recipients/{recipient_id}/urges"): FormCase("admin", "desk_recipient", lambda w: {
        "colour": "yellow", "note": "进度滞后"}),
    ("POST", "/desk/extensions/{request_id}/decision"): FormCase("qx02-secretary", "desk_extension", lambda w: {
        "decision": "approve", "version": "1"}),
    ("POST", "/desk/bulletins"): FormCase("admin", None, lambda w: {"month": "2025-09"}),
    ("POST", "/desk/signing/{obligation_id}/acknowledge"): FormCase("qx02-liaison", "desk_ack", lambda w: {}),
    ("POST", "/desk/bulletins/{bulletin_id}/publish"): FormCase("admin", "desk_bulletin", lambda w: {
        "version": "1", "worst": "柳河乡"}),
}
