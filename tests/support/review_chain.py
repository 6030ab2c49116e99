"""The review chains over HTTP as the demo users (QX01 and the county): launching, moving the clock, drafting,
submitting and deciding. Tests of review chains, vocabulary and stale versions share it; the ``users``
fixture (``tests/conftest.py``) gives the signed-in headers."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from core.clock import CHINA_TZ, FakeClock, get_clock
from core.db import get_engine
from models import OutboxMessage
from tasks.launch import launch_one
from tests.support.clock import at
from tests.support.world import SignedIn

API = "/api/v1"


QUARTERLY_DONE = {"basic_situation": "全镇5个后进村整顿有序推进", "results": "新发展党员3名",
                  "main_problems": "个别村班子仍不团结", "next_steps": "下季度完成换届调整"}


PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


EMAIL = {
    "admin": "zzb@qingxi.example",
    "county-reviewer": "shenhe@qingxi.example",
    "qx01-liaison": "qx01-liaison@qingxi.example",
    "qx01-secretary": "qx01-secretary@qingxi.example",
}


Users = SignedIn
"""``await users(username)``: the demo user's bearer header, re-issued after the clock moves far."""


async def launch(c: httpx.AsyncClient, users: Users, definition: str, year: int = 2025, township: str = "QX01",
                 via_api: bool = False) -> dict[str, Any]:
    """Launch a campaign: through POST /campaigns (the Prefect flow), or straight through the task the flow runs,
    which is 20 times faster; the campaign is read back over HTTP either way."""
    admin = await users("admin")
    if via_api:
        r = await c.post(f"{API}/campaigns", json={"definition": definition, "township": township, "year": year},
                         headers=admin)
        assert r.status_code == 201, r.text
        return r.json()
    outcome = launch_one(get_engine(), definition, township, year, get_clock().now())
    assert outcome.status == "created", outcome
    r = await c.get(f"{API}/campaigns/{outcome.campaign_id}", headers=admin)
    assert r.status_code == 200, r.text
    return r.json()


def obligation(campaign: dict[str, Any], key: str, period: str | None = None) -> dict[str, Any]:
    found = [o for o in campaign["obligations"] if o["key"].startswith(key) and (period is None or o["period"] == period)]
    assert len(found) == 1, [(o["key"], o["period"]) for o in campaign["obligations"]]
    return found[0]


async def move(clock: FakeClock, users: Users, when: dt.datetime) -> None:
    clock.set(when)
    users.tokens.clear()  # tokens last 30 days


async def act(c: httpx.AsyncClient, users: Users, who: str, sid: int, verb: str, **body: Any) -> httpx.Response:
    return await c.post(f"{API}/submissions/{sid}/{verb}", json=body, headers=await users(who))


async def refreshed(c: httpx.AsyncClient, users: Users, campaign: dict[str, Any]) -> dict[str, Any]:
    """``campaign`` as the county's administrator sees it now: its stages and the obligations opened since (a
    list's approval opens the plans and weekly reports of its villages)."""
    r = await c.get(f"{API}/campaigns/{campaign['id']}", headers=await users("admin"))
    assert r.status_code == 200, r.text
    return dict(r.json())


async def decide(c: httpx.AsyncClient, users: Users, who: str, sub: dict[str, Any], decision: str,
                 comment: str | None = None, version: int | None = None,
                 checks: dict[str, dict[str, Any]] | None = None, **extra: Any) -> httpx.Response:
    """``who`` decides ``sub``. An approval without ``checks`` judges every check that waits for ``who``'s
    judgement as met, with a note, as a reviewer who went through the checklist would; ``checks={}`` judges
    nothing."""
    body: dict[str, Any] = {"decision": decision, "version": sub["version"] if version is None else version} | extra
    if comment is not None:
        body["comment"] = comment
    if checks is None and decision == "approve":
        checks = await judged(c, users, who, sub["id"])
    if checks:
        body["checks"] = checks
    return await act(c, users, who, sub["id"], "decisions", **body)


async def judged(c: httpx.AsyncClient, users: Users, who: str, sid: int) -> dict[str, dict[str, Any]]:
    """Every check of submission ``sid`` that waits for the judgement of ``who``, judged met with a note."""
    r = await c.get(f"{API}/submissions/{sid}", headers=await users(who))
    checks = r.json().get("checks", []) if r.status_code == 200 else []
    return {x["key"]: {"confirmed": True, "note": f"已核实：{x['name']}"} for x in checks if x["status"] == "needs_judgement"}


async def draft_list(c: httpx.AsyncClient, users: Users, listing: dict[str, Any]) -> dict[str, Any]:
    """QX01's liaison drafts the weak-village list naming QX01003 and QX01007 (minutes not attached yet)."""
    r = await c.post(f"{API}/submissions", headers=await users("qx01-liaison"), json={"obligation_id": listing["id"], "data": {
        "villages": ["QX01003", "QX01007"], "investigation": "逐村过筛子，找准问题病灶",
        "committee_meeting_date": "2025-09-24"}})
    assert r.status_code == 201, r.text
    return dict(r.json())


async def upload_pdf(c: httpx.AsyncClient, users: Users, sid: int, name: str = "纪要.pdf") -> int:
    r = await c.post(f"{API}/submissions/{sid}/attachments", files={"file": (name, PDF, "application/pdf")},
                     headers=await users("qx01-liaison"))
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def outbox(engine: Engine, sid: int) -> list[tuple[str, str]]:
    """(cause, recipient) of every mail about submission ``sid``, in order."""
    with Session(engine) as s:
        rows = s.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))).all()
    out = []
    for m in rows:
        parts = m.key.split(":")
        if parts[0] in SUBMISSION_MAILS and parts[1] == str(sid):
            out.append((":".join(parts[:-1]), m.to_addr))
    return out


SUBMISSION_MAILS = {"submitted", "return", "approve", "reject", "veto", "returns_exceeded"}


PLAN = {
    "village": "QX01003", "problems": "班子软弱，组织生活不正常", "measures": "治软：调整支部书记；治散：恢复三会一课",
    "responsible_person": "张书记", "time_limit": "2026-06-30", "helping_units": "县农业农村局",
    "county_leader_contact": "李副县长", "committee_meeting_date": "2025-10-15", "villager_review": "村民代表会议审议通过",
}


APPLICATION = {
    "summary": "创建工作总结", "self_check_score": 92, "public_notice_from": "2026-02-02",
    "public_notice_to": "2026-02-09", "satisfaction_rate": 93.5, "no_veto_events": True,
    "village_appearance": "四栏三室二牌一基地齐全", "responsibility_systems": "责任制健全",
    "township_inspection": "听取汇报、看资料、实地查看、座谈走访，同意申报",
}


async def submitted_list(c: httpx.AsyncClient, users: Users, campaign: dict[str, Any], data: dict[str, Any]) -> httpx.Response:
    """Create the weak-village list with ``data`` plus the committee minutes, then submit it."""
    liaison = await users("qx01-liaison")
    r = await c.post(f"{API}/submissions", headers=liaison,
                     json={"obligation_id": obligation(campaign, "weak_village_list")["id"], "data": {}})
    assert r.status_code == 201, r.text
    sub = r.json()
    minutes = await upload_pdf(c, users, sub["id"])
    r = await c.patch(f"{API}/submissions/{sub['id']}", headers=liaison,
                      json={"version": sub["version"], "data": data | {"committee_minutes": [minutes]}})
    assert r.status_code == 200, r.text
    return await act(c, users, "qx01-liaison", sub["id"], "submit", version=r.json()["version"])


# ---- a five-good model-site application that meets 001's six no-approvals ------------------------------------

IMPLEMENTATION_PLAN = {
    "village": ["QX01003"], "goals": "按“五好”标准创建党建示范点", "content": "领导班子好、党员队伍好、制度建设好、工作业绩好、群众反映好",
    "steps": "宣传动员、组织实施、检查提高三个阶段", "safeguards": "成立创建工作领导小组，落实经费",
    "mobilization_meeting_date": "2025-03-05",
}


SELF_CHECK = {"score": 92, "summary": "对照《评分表》逐项自查，得92分", "problems_and_fixes": "党员活动记录不全，3月底前补齐",
              "archives_filed": True}


async def answered(c: httpx.AsyncClient, users: Users, campaign: dict[str, Any], key: str, data: dict[str, Any],
                   file_field: str | None, *, subject: str | None = None) -> dict[str, Any]:
    """QX01's liaison answers the obligation ``key`` with ``data`` (and a PDF in ``file_field``; about the village
    ``subject`` when given) and submits it."""
    liaison = await users("qx01-liaison")
    body: dict[str, Any] = {"obligation_id": obligation(campaign, key)["id"], "data": data}
    if subject:
        body["subject"] = subject
    r = await c.post(f"{API}/submissions", headers=liaison, json=body)
    assert r.status_code == 201, r.text
    sub = r.json()
    if file_field:
        pdf = await upload_pdf(c, users, sub["id"], "材料.pdf")
        r = await c.patch(f"{API}/submissions/{sub['id']}", headers=liaison,
                          json={"version": sub["version"], "data": data | {file_field: [pdf]}})
        assert r.status_code == 200, r.text
        sub = r.json()
    r = await act(c, users, "qx01-liaison", sub["id"], "submit", version=sub["version"])
    assert r.status_code == 200, r.text
    return dict(r.json())


async def approved_by_township(c: httpx.AsyncClient, users: Users, sub: dict[str, Any]) -> dict[str, Any]:
    r = await decide(c, users, "qx01-secretary", sub, "approve")
    assert (r.status_code, r.json()["status"]) == (200, "approved"), r.text
    return dict(r.json())


async def model_site_application(c: httpx.AsyncClient, users: Users, clock: FakeClock, campaign: dict[str, Any], *,
                                 plan: bool = True, self_check: dict[str, Any] | None = SELF_CHECK,
                                 data: dict[str, Any] = APPLICATION, subject: str | None = None) -> dict[str, Any]:
    """QX01's 2025 model-site application submitted on 2 March 2026 with ``data``: after its implementation plan
    passed the township (March 2025, unless ``plan`` is False) and its ``self_check`` summary was approved by the
    township (12 January 2026; None: no self-check)."""
    if plan:
        await move(clock, users, dt.datetime(2025, 3, 10, 9, tzinfo=CHINA_TZ))
        await approved_by_township(c, users, await answered(c, users, campaign, "implementation_plan",
                                                            IMPLEMENTATION_PLAN, "plan_document"))
    if self_check is not None:
        await move(clock, users, dt.datetime(2026, 1, 12, 9, tzinfo=CHINA_TZ))
        await approved_by_township(c, users, await answered(c, users, campaign, "self_check_summary", self_check,
                                                            "score_sheet"))
    await move(clock, users, dt.datetime(2026, 3, 2, 9, tzinfo=CHINA_TZ))
    return await answered(c, users, campaign, "application", data, "attachments", subject=subject)


async def apply_for_model_site(c: httpx.AsyncClient, users: Users, campaign: dict[str, Any],
                               subject: str | None = None) -> httpx.Response:
    """QX01's liaison starts the model-site application of ``campaign`` (for the village ``subject``, or the
    township)."""
    application = obligation(campaign, "application")
    body: dict[str, Any] = {"obligation_id": application["id"], "data": APPLICATION}
    if subject:
        body["subject"] = subject
    return await c.post(f"{API}/submissions", headers=await users("qx01-liaison"), json=body)


async def vetoed_application(c: httpx.AsyncClient, users: Users, clock: FakeClock,
                             subject: str | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """A 2025 model-site campaign of QX01 whose application (for the village ``subject``, or the township) the
    admin vetoed at the county level on 2 March 2026 ("发生安全生产责任事故")."""
    campaign = await launch(c, users, "five_good_model_site")
    sub = await model_site_application(c, users, clock, campaign, subject=subject)
    sub = (await decide(c, users, "qx01-secretary", sub, "approve")).json()
    r = await act(c, users, "admin", sub["id"], "veto", check="veto", comment="发生安全生产责任事故", version=sub["version"])
    assert (r.status_code, r.json()["status"]) == (200, "rejected")
    return campaign, r.json()


LISTED = ["QX01001", "QX01003", "QX01007", "QX01010"]
"""QX01's weak villages as the township lists them: its two key-contact villages (前何庄村 B, 朱孙冲村 C) and
老陈山村, 新何湾村."""


async def approve_list(c: httpx.AsyncClient, users: Users, clock: FakeClock, campaign: dict[str, Any],
                       villages: list[str] | None = None) -> dict[str, Any]:
    """On 26 September of the campaign's year QX01 submits its weak-village list (``LISTED`` unless told) and the
    county approves it; the campaign as it then stands (with the plans and weekly reports the list owes)."""
    await move(clock, users, at(dt.date(campaign["year"], 9, 26)))
    r = await submitted_list(c, users, campaign, {
        "villages": LISTED if villages is None else villages, "investigation": "逐村过筛子，找准问题病灶",
        "committee_meeting_date": "2025-09-24"})
    assert r.status_code == 200, r.text
    r = await decide(c, users, "admin", r.json(), "approve")
    assert (r.status_code, r.json()["status"]) == (200, "approved"), r.text
    return await refreshed(c, users, campaign)


def plan_of(code: str, n: int = 0) -> dict[str, Any]:
    """A 一村一策 plan of the village ``code``, in words of its own (variant ``n``)."""
    problems = ["班子软弱，组织生活不正常", "村党组织书记长期外出，三会一课不落实", "集体经济空壳，党员老化",
                "村两委不团结，矛盾纠纷多"][n % 4]
    measures = ["治软：调整支部书记；治散：恢复三会一课", "治懒：选派第一书记驻村；治散：建立坐班制度",
                "治穷：成立合作社发展特色种植；发展年轻党员", "治乱：化解积案；召开两委联席会议"][n % 4]
    return PLAN | {"village": code, "problems": problems, "measures": measures}
