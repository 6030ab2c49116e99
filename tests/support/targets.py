"""Years of QX01 (青石镇) with the figures its targets read, over HTTP as the demo users: a weak-village rectification
whose list, 一村一策 plans and acceptance application pass their review chains, and a cadres-in-villages year with its
leader-visit reports and annual summary. The target, assessment and ledger tests share them."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx

from core.clock import FakeClock
from tests.support.clock import at
from tests.support.review_chain import (
    API,
    Users,
    decide,
    launch,
    move,
    obligation,
    refreshed,
    submitted_list,
    upload_pdf,
)
from tests.support.work_records import record_visits

LISTED = ("QX01003", "QX01007")
"""老陈山村 and 新何湾村, the weak villages of QX01's list."""

PLANS = {
    "QX01003": {"problems": "支部书记年龄偏大，组织生活不正常，集体经济空壳", "measures": "治软：调整支部书记；治穷：发展茶叶合作社",
                "responsible_person": "张建国", "helping_units": "县农业农村局、县供销社", "county_leader_contact": "李副县长"},
    "QX01007": {"problems": "两委不团结，村务公开不及时", "measures": "治散：恢复三会一课；治乱：规范村务公开栏",
                "responsible_person": "王明", "helping_units": "无", "county_leader_contact": "陈副县长"},
}
"""Each village's own 一村一策 plan (新何湾村's names no helping unit)."""


async def approve(c: httpx.AsyncClient, users: Users, sub: dict[str, Any], *chain: str) -> dict[str, Any]:
    """``sub`` approved by each reviewer of ``chain`` in turn; the approved submission."""
    for who in chain:
        r = await decide(c, users, who, sub, "approve")
        assert r.status_code == 200, r.text
        sub = r.json()
    assert sub["status"] == "approved", sub
    return sub


async def submitted(c: httpx.AsyncClient, users: Users, ob: dict[str, Any], data: dict[str, Any],
                    subject: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"obligation_id": ob["id"], "data": data, "submit": True}
    if subject:
        body["subject"] = subject
    r = await c.post(f"{API}/submissions", headers=await users("qx01-liaison"), json=body)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def submitted_with_file(c: httpx.AsyncClient, users: Users, ob: dict[str, Any], data: dict[str, Any],
                              file_field: str) -> dict[str, Any]:
    """A draft answering ``ob``, a PDF attached as ``file_field``, then ``data`` and the submission."""
    liaison = await users("qx01-liaison")
    r = await c.post(f"{API}/submissions", headers=liaison, json={"obligation_id": ob["id"], "data": {}})
    assert r.status_code == 201, r.text
    attachment = await upload_pdf(c, users, r.json()["id"], "材料.pdf")
    r = await c.patch(f"{API}/submissions/{r.json()['id']}", headers=liaison,
                      json={"version": r.json()["version"], "data": data | {file_field: [attachment]}})
    assert r.status_code == 200, r.text
    r = await c.post(f"{API}/submissions/{r.json()['id']}/submit", headers=liaison, json={"version": r.json()["version"]})
    assert r.status_code == 200, r.text
    return dict(r.json())


async def listed_and_planned(c: httpx.AsyncClient, users: Users, clock: FakeClock, year: int,
                             villages: tuple[str, ...] = LISTED) -> dict[str, Any]:
    """QX01's weak-village campaign of ``year``: the list names ``villages`` and is approved; each village's plan
    passes the township and the county. The campaign as the API shows it."""
    await move(clock, users, at(dt.date(year, 8, 20)))
    campaign = await launch(c, users, "weak_village_rectification", year=year)
    await move(clock, users, at(dt.date(year, 9, 26)))
    r = await submitted_list(c, users, campaign, {"villages": list(villages), "investigation": "逐村过筛子，找准问题病灶",
                                                  "committee_meeting_date": f"{year}-09-24", "verified": True})
    assert r.status_code == 200, r.text
    await approve(c, users, r.json(), "admin")
    await move(clock, users, at(dt.date(year, 10, 16)))
    campaign = await refreshed(c, users, campaign)  # the plans owed
    for code in villages:
        plan = PLANS[code] | {"village": code, "time_limit": f"{year + 1}-06-30", "committee_meeting_date": f"{year}-10-15",
                              "villager_review": f"{year}年10月14日村民代表会议审议通过"}
        sub = await submitted(c, users, obligation(campaign, f"village_plan:{code}"), plan, subject=code)
        await approve(c, users, sub, "qx01-secretary", "admin")
    return campaign


async def accepted(c: httpx.AsyncClient, users: Users, clock: FakeClock, campaign: dict[str, Any],
                   figures: dict[str, Any]) -> dict[str, Any]:
    """The campaign's acceptance application with ``figures`` (the per-village tables, the five-good villages),
    approved by the township and the county in November of the next year."""
    year = campaign["year"]
    await move(clock, users, at(dt.date(year + 1, 11, 20)))
    data = {"villages": list(LISTED), "rectification_summary": "两个村班子调整到位，组织生活恢复正常",
            "five_good_status": "对照五好标准逐项达标", "activists": 5, "new_members": 2,
            "consolidation_measures": "每季度回访，防止反复回潮"} | figures
    sub = await submitted(c, users, obligation(campaign, "acceptance_application"), data)
    return await approve(c, users, sub, "qx01-secretary", "admin")


async def launched(c: httpx.AsyncClient, users: Users, clock: FakeClock, definition: str, year: int) -> dict[str, Any]:
    """QX01's campaign of ``definition`` and ``year``, launched on 20 December of the year before."""
    await move(clock, users, at(dt.date(year - 1, 12, 20)))
    return await launch(c, users, definition, year=year)


async def cadres_year(c: httpx.AsyncClient, users: Users, clock: FakeClock, year: int, *, visits: tuple[int, int],
                      summary: dict[str, Any], campaign: dict[str, Any] | None = None) -> dict[str, Any]:
    """QX01's cadres-in-villages campaign of ``year`` (launched here unless ``campaign`` is given): its county
    leader's visits (``visits`` per half-year, recorded through the API) and the two half-year leader-visit
    reports, and the annual summary with ``summary``'s figures, approved by
    the county."""
    campaign = campaign or await launched(c, users, clock, "cadres_in_villages", year)
    for month, count in zip((6, 12), visits, strict=True):
        await move(clock, users, at(dt.date(year, month, 20)))
        # the visits themselves, which the target reads (003 §三(一)); the half-year report is still owed
        await record_visits(c, users, "QX01-L1", [dt.date(year, month, 1 + k) for k in range(count)])
        ob = obligation(campaign, "leader_visits", f"{year}-{month:02d}")
        sub = await submitted(c, users, ob, {"visits": count, "visit_record": f"{year}年{month}月前到点调研指导{count}次"})
        await approve(c, users, sub, "county-reviewer")
    await move(clock, users, at(dt.date(year, 12, 25)))
    sub = await submitted_with_file(c, users, obligation(campaign, "annual_summary"), {
        "summary": "全年驻村工作扎实推进", "cadre_assessment": "驻村干部考核均为称职以上", "dispatch_completed": True} | summary,
        "work_diaries")
    await approve(c, users, sub, "county-reviewer", "admin")
    return campaign


async def targets_of(c: httpx.AsyncClient, users: Users, campaign_id: int, who: str = "admin") -> dict[str, dict[str, Any]]:
    """The campaign's targets by key, as ``who`` reads them from the API."""
    r = await c.get(f"{API}/campaigns/{campaign_id}/targets", headers=await users(who))
    assert r.status_code == 200, r.text
    return {t["key"]: t for t in r.json()["targets"]}
