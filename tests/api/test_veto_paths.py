"""A one-vote veto (一票否决, 001 六个不批(四): "并且在三年之内不得申报") bars the applicant on every path into a
new application — creating it, editing a draft prepared before the veto, submitting it, the draft the calendar
opens, the 一村一策 import — and each refusal names the veto, its date and the year the ban ends."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from core.clock import FakeClock
from models import AuditEvent, OutboxMessage, Submission
from tests.support.clock import at
from tests.support.review_chain import (
    API,
    APPLICATION,
    PLAN,
    Users,
    act,
    apply_for_model_site,
    approve_list,
    decide,
    launch,
    move,
    obligation,
    vetoed_application,
)
from tests.support.tick import tick
from tests.support.workbooks import xlsx

GATE = "党建示范点申报审批（六个不批）"
CHECK = "无党风廉政、社会稳定、计划生育、安全生产“四个一票否决”现象"
TOWNSHIP_BAN = (f"青石镇因一票否决不得申报“{GATE}”：2026年3月2日否决（审查项：{CHECK}；理由：发生安全生产责任事故），"
                "2028年（含）以前不得再次申报")


async def _campaign(c: httpx.AsyncClient, users: Users, campaign_id: int) -> dict[str, Any]:
    r = await c.get(f"{API}/campaigns/{campaign_id}", headers=await users("admin"))
    assert r.status_code == 200, r.text
    return dict(r.json())


async def test_a_draft_prepared_before_the_veto_can_be_neither_edited_nor_submitted(
        anon: httpx.AsyncClient, users: Users, clock: FakeClock) -> None:
    """The finding: the ban held when an application was created, not when a draft made earlier was edited
    or submitted."""
    c = anon
    later = await launch(c, users, "five_good_model_site", year=2026)
    r = await apply_for_model_site(c, users, later)  # drafts may be prepared early (January 2025)
    assert r.status_code == 201, r.text
    draft = r.json()
    await vetoed_application(c, users, clock)

    r = await c.patch(f"{API}/submissions/{draft['id']}", headers=await users("qx01-liaison"),
                      json={"version": draft["version"], "data": APPLICATION | {"summary": "补充创建工作总结"}})
    assert (r.status_code, r.json()["detail"]) == (403, TOWNSHIP_BAN)
    r = await act(c, users, "qx01-liaison", draft["id"], "submit", version=draft["version"])
    assert (r.status_code, r.json()["detail"]) == (403, TOWNSHIP_BAN)
    r = await c.get(f"{API}/submissions/{draft['id']}", headers=await users("qx01-liaison"))
    assert (r.json()["status"], r.json()["version"]) == ("draft", draft["version"])
    # the deadline the township may not meet is not applicable any more (neither reminded nor escalated)
    assert obligation(await _campaign(c, users, later["id"]), "application")["status"] == "waived"


async def test_the_calendar_opens_no_draft_for_a_barred_applicant(
        anon: httpx.AsyncClient, users: Users, clock: FakeClock, demo_county: Engine) -> None:
    """The tick opens the application window: a barred township gets neither a draft nor a request; the
    deadline is waived and says why in the audit trail. After the ban, the window opens as usual."""
    c = anon
    await vetoed_application(c, users, clock)
    barred = await launch(c, users, "five_good_model_site", year=2027)
    free = await launch(c, users, "five_good_model_site", year=2029)
    elsewhere = await launch(c, users, "five_good_model_site", year=2027, township="QX02")
    ids = {name: obligation(campaign, "application")["id"]
           for name, campaign in (("barred", barred), ("free", free), ("elsewhere", elsewhere))}
    for day, opened in ((dt.date(2027, 11, 1), ("barred", "elsewhere")), (dt.date(2029, 11, 1), ("free",))):
        tick(demo_county, at(day))
        for name in opened:
            campaign = await _campaign(c, users, {"barred": barred, "free": free, "elsewhere": elsewhere}[name]["id"])
            status = obligation(campaign, "application")["status"]
            assert status == ("waived" if name == "barred" else "open"), (name, status)
    with Session(demo_county) as s:
        drafts = {sub.obligation_id for sub in s.exec(select(Submission))}
        requests = {m.key.split(":")[1] for m in s.exec(select(OutboxMessage)) if m.key.startswith("request:")}
        [waived] = s.exec(select(AuditEvent).where(AuditEvent.action == "obligation.waived",
                                                   AuditEvent.subject_id == ids["barred"])).all()
    assert ids["barred"] not in drafts and {ids["free"], ids["elsewhere"]} <= drafts
    assert str(ids["barred"]) not in requests and {str(ids["free"]), str(ids["elsewhere"])} <= requests
    assert (waived.actor, waived.after["banned_until_year"]) == ("system", 2028)

    r = await apply_for_model_site(c, users, barred)
    assert (r.status_code, r.json()["detail"]) == (403, TOWNSHIP_BAN)


async def test_a_village_veto_bars_that_village_and_not_its_neighbours(
        anon: httpx.AsyncClient, users: Users, clock: FakeClock) -> None:
    """The applicant is the unit that applied: the village the vetoed application named. Its neighbours in the
    township may still apply; the village may not, whatever the campaign."""
    c = anon
    await vetoed_application(c, users, clock, subject="QX01001")
    later = await launch(c, users, "five_good_model_site", year=2026)
    r = await apply_for_model_site(c, users, later, subject="QX01001")
    assert (r.status_code, r.json()["detail"]) == (403, TOWNSHIP_BAN.replace("青石镇", "前何庄村"))
    r = await apply_for_model_site(c, users, later, subject="QX01002")
    assert r.status_code == 201, r.text
    r = await apply_for_model_site(c, users, later)  # the township's own application
    assert r.status_code == 201, r.text


async def test_the_plan_import_refuses_a_vetoed_village(
        anon: httpx.AsyncClient, users: Users, clock: FakeClock) -> None:
    """The 一村一策 import is a path into the plan gate too: a village whose plan the county vetoed this year is
    refused on its row, with the veto, and nothing is imported."""
    c = anon
    campaign = await approve_list(c, users, clock, await launch(c, users, "weak_village_rectification"))
    await move(clock, users, at(dt.date(2025, 10, 16)))
    r = await c.post(f"{API}/submissions", headers=await users("qx01-liaison"), json={
        "obligation_id": obligation(campaign, "village_plan:QX01003")["id"], "data": PLAN, "submit": True})
    assert r.status_code == 201, r.text
    sub = (await decide(c, users, "qx01-secretary", r.json(), "approve")).json()
    r = await act(c, users, "admin", sub["id"], "veto", check="villager_review", comment="村民代表会议记录系伪造",
                  version=sub["version"])
    assert r.status_code == 200, r.text

    rows = [["村编码", "存在问题", "整改措施", "整改责任人", "整改时限", "挂钩帮扶单位", "县级领导联系人",
             "乡（镇）党委会研究日期", "村民代表会议审议情况"],
            ["QX01003", "班子软弱涣散，书记长期外出", "治软：重新选配支部书记", "王书记", "2026-06-30", "县农业农村局",
             "李副县长", "2025-10-15", "村民代表会议重新审议通过"]]
    r = await c.post(f"{API}/ledgers/rectification-plans", params={"campaign_id": campaign["id"]},
                     headers=await users("qx01-liaison"),
                     files={"file": ("一村一策.xlsx", xlsx(rows), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")})
    assert r.status_code == 422, r.text
    assert r.json()["errors"] == [{"row": 2, "column": "村编码", "message": (
        "老陈山村因一票否决不得申报““一村一策”整顿方案审核”：2025年10月16日否决（审查项：经村民代表会议审议；"
        "理由：村民代表会议记录系伪造），2025年（含）以前不得再次申报")}]
