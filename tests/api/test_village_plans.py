"""一村一策 (000 §四(二), 004 §一.2): one plan per village on the approved list, naming that village, with real
problems, measures, a responsible person and a time limit inside concentrated rectification (the three no-passes,
三个不放过); stock phrases, a repeat of the column's name and text copied from another village's plan are refused
field by field; the planning stage passes only when every listed village's plan is approved."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from core.clock import FakeClock
from models import Submission
from tests.support.clock import at
from tests.support.review_chain import (
    API,
    LISTED,
    PLAN,
    Users,
    act,
    approve_list,
    decide,
    launch,
    move,
    obligation,
    plan_of,
    refreshed,
)
from tests.support.workbooks import XLSX, xlsx


async def _listed_campaign(c: httpx.AsyncClient, users: Users, clock: FakeClock) -> dict[str, Any]:
    """QX01's 2025 campaign with its list approved (``LISTED``), on 16 October 2025 (plans due on the 24th)."""
    campaign = await approve_list(c, users, clock, await launch(c, users, "weak_village_rectification"))
    await move(clock, users, at(dt.date(2025, 10, 16)))
    return campaign


async def _stages(c: httpx.AsyncClient, users: Users, campaign_id: int) -> dict[str, str]:
    r = await c.get(f"{API}/campaigns/{campaign_id}", headers=await users("admin"))
    return {s["key"]: s["status"] for s in r.json()["stages"]}


async def test_a_plan_for_several_villages_in_stock_phrases_is_refused_field_by_field(
        anon: httpx.AsyncClient, users: Users, clock: FakeClock, demo_county: Engine) -> None:
    """The finding: one plan naming every listed village, "无" in every field, passed both review levels and the
    planning stage. Now there is no township-wide plan to send, and the village's plan is refused with a message
    for each field; nothing is written."""
    c = anon
    campaign = await _listed_campaign(c, users, clock)
    assert [o["subject"] for o in campaign["obligations"] if o["kind"] == "plan"] == sorted(LISTED)  # one per village
    plan = obligation(campaign, "village_plan:QX01003")
    hollow = {"village": LISTED, "problems": "无", "measures": "暂无。", "responsible_person": "整改责任人",
              "time_limit": "2027-06-30", "helping_units": "见附件", "county_leader_contact": "见附件",
              "committee_meeting_date": "2025-10-15", "villager_review": "无"}
    r = await c.post(f"{API}/submissions", headers=await users("qx01-liaison"),
                     json={"obligation_id": plan["id"], "data": hollow, "submit": True})
    assert r.status_code == 422, r.text
    assert r.json()["errors"] == [
        {"field": "data.village", "message": "“整顿村”应为本方案所属的村：老陈山村（QX01003），一个方案只对应一个村"},
        {"field": "data.problems", "message": "“存在问题”只填写了“无”，请写明实际内容"},
        {"field": "data.measures", "message": "“整改措施”只填写了“暂无。”，请写明实际内容"},
        {"field": "data.responsible_person", "message": "“整改责任人”只重复了栏目名称，请写明实际内容"},
        {"field": "data.time_limit", "message": "“整改时限”应在集中整顿阶段内（2025年10月25日至2026年9月30日）"},
    ]
    assert r.json()["detail"].startswith("填报内容有误：“整顿村”应为本方案所属的村")
    with Session(demo_county) as s:
        assert s.exec(select(Submission).where(Submission.obligation_id == plan["id"])).all() == []

    # a draft may be incomplete: it names its village by itself; the complete plan goes in
    r = await c.post(f"{API}/submissions", headers=await users("qx01-liaison"),
                     json={"obligation_id": plan["id"], "data": {"problems": "班子软弱"}})
    assert (r.status_code, r.json()["data"]) == (201, {"village": ["QX01003"], "problems": "班子软弱"})
    r = await c.patch(f"{API}/submissions/{r.json()['id']}", headers=await users("qx01-liaison"),
                      json={"version": r.json()["version"], "data": PLAN})
    r = await act(c, users, "qx01-liaison", r.json()["id"], "submit", version=r.json()["version"])
    assert (r.status_code, r.json()["status"]) == (200, "in_review"), r.text


async def test_a_plan_copied_from_another_village_is_refused(
        anon: httpx.AsyncClient, users: Users, clock: FakeClock) -> None:
    """Copied text is refused even with the village's name changed: 一村一策 means a strategy for each village."""
    c = anon
    campaign = await _listed_campaign(c, users, clock)
    liaison = await users("qx01-liaison")
    first = PLAN | {"problems": "老陈山村班子软弱，组织生活不正常"}
    r = await c.post(f"{API}/submissions", headers=liaison, json={
        "obligation_id": obligation(campaign, "village_plan:QX01003")["id"], "data": first, "submit": True})
    assert r.status_code == 201, r.text
    copied = plan_of("QX01007", 1) | {"problems": "新何湾村班子软弱，组织生活不正常。"}
    r = await c.post(f"{API}/submissions", headers=liaison, json={
        "obligation_id": obligation(campaign, "village_plan:QX01007")["id"], "data": copied, "submit": True})
    assert r.status_code == 422, r.text
    assert r.json()["errors"] == [
        {"field": "data.problems", "message": "“存在问题”与老陈山村的相同，请针对本村的实际情况填写"}]


async def test_the_planning_stage_waits_for_every_listed_village(
        anon: httpx.AsyncClient, users: Users, clock: FakeClock) -> None:
    """Each village's plan through both review levels meets that village's deadline; the stage passes with the
    last listed village's approval, not before."""
    c = anon
    campaign = await _listed_campaign(c, users, clock)
    for n, code in enumerate(LISTED):
        assert (await _stages(c, users, campaign["id"]))["planning"] != "passed", code
        r = await c.post(f"{API}/submissions", headers=await users("qx01-liaison"), json={
            "obligation_id": obligation(campaign, f"village_plan:{code}")["id"], "data": plan_of(code, n), "submit": True})
        assert r.status_code == 201, r.text
        sub = (await decide(c, users, "qx01-secretary", r.json(), "approve")).json()
        assert (await decide(c, users, "admin", sub, "approve")).json()["status"] == "approved"
        current = await refreshed(c, users, campaign)
        assert obligation(current, f"village_plan:{code}")["status"] == "met"
    assert (await _stages(c, users, campaign["id"]))["planning"] == "passed"


async def test_the_plan_import_refuses_copied_plans_and_time_limits_outside_rectification(
        anon: httpx.AsyncClient, users: Users, clock: FakeClock) -> None:
    """The same checks on the 一村一策 import, per row and column: nothing is imported."""
    c = anon
    campaign = await _listed_campaign(c, users, clock)
    header = ["村编码", "存在问题", "整改措施", "整改责任人", "整改时限", "挂钩帮扶单位", "县级领导联系人",
              "乡（镇）党委会研究日期", "村民代表会议审议情况"]
    tail = ["县农业农村局", "李副县长", "2025-10-15", "村民代表会议审议通过"]
    rows = [header,
            ["QX01001", "班子软弱涣散", "治软：调整支部书记", "张书记", "2026-06-30", *tail],
            ["QX01003", "班子软弱涣散", "治散：恢复三会一课", "李书记", "2026-06-30", *tail],
            ["QX01007", "集体经济薄弱", "治穷：发展合作社", "无", "2025-10-20", *tail]]
    r = await c.post(f"{API}/ledgers/rectification-plans", params={"campaign_id": campaign["id"]},
                     headers=await users("qx01-liaison"), files={"file": ("一村一策.xlsx", xlsx(rows), XLSX)})
    assert r.status_code == 422, r.text
    assert r.json()["errors"] == [
        {"row": 3, "column": "存在问题", "message": "“存在问题”与前何庄村的相同，请针对本村的实际情况填写"},
        {"row": 4, "column": "整改时限", "message": "“整改时限”应在集中整顿阶段内（2025年10月25日至2026年9月30日）"},
        {"row": 4, "column": "整改责任人", "message": "“整改责任人”只填写了“无”，请写明实际内容"},
    ]
