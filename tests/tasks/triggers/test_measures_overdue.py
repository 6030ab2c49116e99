"""整改措施逾期 (004 §一.3: 对于工作进展缓慢、整顿措施不力的，直接约谈乡镇党委主要负责同志): a village still
rectifying after its 一村一策 plan's time limit goes straight to an interview of the township's main leader,
through the API as the county and the township see it, on a virtual clock."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from core.clock import FakeClock
from models import OutboxMessage
from tests.support.clock import at
from tests.support.review_chain import (
    API,
    EMAIL,
    PLAN,
    Users,
    decide,
    launch,
    move,
    obligation,
    refreshed,
    submitted_list,
)
from tests.support.tick import tick

VILLAGE = "QX01003"


async def _village_with_an_approved_plan(c: httpx.AsyncClient, users: Users, clock: FakeClock,
                                         time_limit: str) -> dict[str, Any]:
    """QX01 lists one weak village, the county approves the list, then its 一村一策 plan passes both levels;
    the village's rectification record as the API shows it."""
    campaign = await launch(c, users, "weak_village_rectification")
    await move(clock, users, at(dt.date(2025, 9, 26)))
    listed = await submitted_list(c, users, campaign, {
        "villages": [VILLAGE], "investigation": "镇党委班子成员分片包村，逐村召开党员大会和群众座谈会，找准问题病灶",
        "committee_meeting_date": "2025-09-24", "verified": True})
    assert listed.status_code == 200, listed.text
    assert (await decide(c, users, "admin", listed.json(), "approve")).json()["status"] == "approved"
    await move(clock, users, at(dt.date(2025, 10, 16)))
    campaign = await refreshed(c, users, campaign)  # the plans owed
    r = await c.post(f"{API}/submissions", headers=await users("qx01-liaison"), json={
        "obligation_id": obligation(campaign, f"village_plan:{VILLAGE}")["id"], "subject": VILLAGE,
        "data": PLAN | {"village": [VILLAGE], "time_limit": time_limit}, "submit": True})
    assert r.status_code == 201, r.text
    plan = (await decide(c, users, "qx01-secretary", r.json(), "approve")).json()
    assert (await decide(c, users, "admin", plan, "approve")).json()["status"] == "approved"
    rects = (await c.get(f"{API}/rectifications", params={"campaign": campaign["id"]}, headers=await users("admin"))).json()
    [rect] = [x for x in rects["items"] if x["village"] == VILLAGE]
    assert rect["status"] == "rectifying"
    return dict(rect)


async def _steps(c: httpx.AsyncClient, users: Users) -> list[dict[str, Any]]:
    r = await c.get(f"{API}/escalations", params={"trigger": "measures_overdue"}, headers=await users("admin"))
    assert r.status_code == 200, r.text
    return sorted(r.json()["items"], key=lambda e: e["level"])


async def test_slow_measures_go_straight_to_an_interview_of_the_townships_main_leader(
        anon: httpx.AsyncClient, users: Users, clock: FakeClock, demo_county: Engine) -> None:
    c = anon
    rect = await _village_with_an_approved_plan(c, users, clock, "2026-03-31")  # a Tuesday
    tick(demo_county, at(dt.date(2026, 3, 31)))
    await move(clock, users, at(dt.date(2026, 3, 31), 10))
    assert await _steps(c, users) == []  # the time limit is the last day to finish
    tick(demo_county, at(dt.date(2026, 4, 1)))
    await move(clock, users, at(dt.date(2026, 4, 1), 10))
    [step] = await _steps(c, users)
    # No 催办 or 督办 first: the first step is the interview (004 §一.3 直接约谈), with its notice.
    assert (step["level"], step["level_key"], step["level_name"]) == (3, "interview", "约谈乡镇党委主要负责同志")
    assert (step["rectification_id"], step["subject"], step["status"]) == (rect["id"], VILLAGE, "open")
    assert "整改时限为2026年3月31日" in step["reason"] and "工作进展缓慢、整顿措施不力" in step["reason"]
    assert step["document"]["kind"] == "interview_notice"
    with Session(demo_county) as s:
        mails = s.exec(select(OutboxMessage).where(
            col(OutboxMessage.key).startswith(f"escalation:measures_overdue:{rect['id']}:"))).all()
    assert {m.to_addr for m in mails} == {EMAIL["qx01-secretary"], EMAIL["admin"]}  # the interview level's recipients
    assert all(m.subject.startswith("【约谈乡镇党委主要负责同志】") for m in mails)
    assert all(m.key.split(":")[3] == "3" for m in mails)
    # The township's liaison sees it too; it is recorded once however often the tick runs.
    tick(demo_county, at(dt.date(2026, 4, 1), 15))
    mine = (await c.get(f"{API}/escalations", params={"trigger": "measures_overdue"},
                        headers=await users("qx01-liaison"))).json()["items"]
    assert [e["level_key"] for e in mine] == ["interview"]


async def test_after_the_interview_the_ladder_goes_on_until_the_village_applies(
        anon: httpx.AsyncClient, users: Users, clock: FakeClock, demo_county: Engine) -> None:
    c = anon
    rect = await _village_with_an_approved_plan(c, users, clock, "2026-03-31")
    tick(demo_county, at(dt.date(2026, 4, 1)))
    # 通报 five working days after the interview, across Qingming (4–6 April off): Thursday 9 April.
    tick(demo_county, at(dt.date(2026, 4, 8)))
    await move(clock, users, at(dt.date(2026, 4, 8), 10))
    assert [e["level_key"] for e in await _steps(c, users)] == ["interview"]
    tick(demo_county, at(dt.date(2026, 4, 9)))
    await move(clock, users, at(dt.date(2026, 4, 9), 10))
    steps = await _steps(c, users)
    assert [(e["level_key"], e["status"]) for e in steps] == [("interview", "escalated"), ("notice", "open")]
    r = await c.post(f"{API}/rectifications/{rect['id']}/actions", json={"action": "apply", "version": rect["version"]},
                     headers=await users("qx01-liaison"))
    assert r.status_code == 200, r.text
    tick(demo_county, at(dt.date(2026, 6, 1)))
    await move(clock, users, at(dt.date(2026, 6, 1), 10))
    steps = await _steps(c, users)
    assert [(e["level_key"], e["status"]) for e in steps] == [("interview", "resolved"), ("notice", "resolved")]
    assert steps[1]["resolution"] == "已于2026年4月9日申请验收，超过期限9天"
