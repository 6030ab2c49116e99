"""内容空泛 (000 §四(二)(三)): a quarterly report with a section left empty, "无", a dash or its own heading is sent
back to the township for completion with the sections named and quoted - a reminder ladder (催办, then one level
higher each hollow round), not 问责; 问责 follows the county's confirmation only and nobody is mailed 【问责】
before it. Through the API as the township and the county see it, on a virtual clock."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from core.clock import FakeClock
from models import OutboxMessage
from tests.support.clock import at
from tests.support.review_chain import API, EMAIL, QUARTERLY_DONE, Users, act, launch, move, obligation

HOLLOW = {
    "basic_situation": "全镇3个后进村整顿工作有序推进，班子调整到位。",
    "results": "无",
    "main_problems": "——",
    "next_steps": "下步打算：",
}
FINDINGS = [
    "“取得的成效”只填写了“无”，没有实际内容",
    "“存在的主要问题”只填写了“——”，没有实际内容",  # text was written: quoted, not called empty
    "“下步打算”只填写了“下步打算：”，没有实际内容",
]


def _mails(engine: Engine, prefix: str = "") -> list[OutboxMessage]:
    with Session(engine) as s:
        return [m for m in s.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))) if m.key.startswith(prefix)]


async def _hollow_q4(c: httpx.AsyncClient, users: Users, clock: FakeClock, when: dt.date) -> dict[str, Any]:
    campaign = await launch(c, users, "weak_village_rectification")
    await move(clock, users, at(when))
    r = await c.post(f"{API}/submissions", headers=await users("qx01-liaison"), json={
        "obligation_id": obligation(campaign, "quarterly_report", "2025Q4")["id"], "data": HOLLOW, "submit": True})
    assert r.status_code == 201, r.text
    return dict(r.json())


async def _steps(c: httpx.AsyncClient, users: Users) -> list[dict[str, Any]]:
    r = await c.get(f"{API}/escalations", params={"trigger": "hollow_report"}, headers=await users("admin"))
    assert r.status_code == 200, r.text
    return sorted(r.json()["items"], key=lambda e: e["id"])


async def _resubmit(c: httpx.AsyncClient, users: Users, sub: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    r = await c.patch(f"{API}/submissions/{sub['id']}", headers=await users("qx01-liaison"),
                      json={"version": sub["version"], "data": data})
    assert r.status_code == 200, r.text
    r = await act(c, users, "qx01-liaison", sub["id"], "submit", version=r.json()["version"])
    assert r.status_code == 200, r.text
    return dict(r.json())


async def test_a_hollow_quarterly_report_is_sent_back_for_completion_not_to_accountability(
        anon: httpx.AsyncClient, users: Users, clock: FakeClock, demo_county: Engine) -> None:
    c = anon
    sub = await _hollow_q4(c, users, clock, dt.date(2025, 12, 10))
    # Sent back at once: nobody reviews a report that says nothing, and nobody is asked to.
    assert (sub["status"], sub["round"], sub["returns"]) == ("returned", 1, 0)
    queue = (await c.get(f"{API}/reviews/queue", headers=await users("qx01-secretary"))).json()["items"]
    assert sub["id"] not in [x["id"] for x in queue]
    detail = (await c.get(f"{API}/submissions/{sub['id']}", headers=await users("qx01-liaison"))).json()
    [back] = detail["reviews"]
    assert (back["decision"], back["level_name"], back["reviewer"]) == ("return", "督办系统内容核查", "督办系统")
    assert back["comment"] == "以下内容空泛，请补充完善后重新报送：" + "；".join(FINDINGS) + "（请于2025年12月19日前重新报送）"
    # One step at 催办, the first rung of the ladder, with the sections quoted.
    [step] = await _steps(c, users)
    assert (step["level"], step["level_key"], step["trigger_label"], step["status"]) == (1, "urge", "内容空泛", "open")
    assert step["evidence"]["findings"] == FINDINGS and step["new_due_on"] == "2025-12-19"
    assert step["reason"] == f"“{sub['title']}”（第1轮）内容空泛，已退回补充完善：{'；'.join(FINDINGS)}，限于2025年12月19日前办结"
    assert step["document"]["kind"] == "urging_notice"
    mails = _mails(demo_county, "escalation:hollow_report:")
    assert {m.to_addr for m in mails} == {EMAIL["qx01-liaison"]}  # 催办 goes to the township's liaison
    assert all(m.subject.startswith("【催办】青石镇·内容空泛：") for m in mails)
    assert all(finding in mails[0].body_text for finding in FINDINGS) and "为空" not in mails[0].body_text
    # Not 零上报, not 问责, nothing to the county leaders.
    assert (await c.get(f"{API}/escalations", params={"trigger": "zero_report"},
                        headers=await users("admin"))).json()["items"] == []
    assert not [m for m in _mails(demo_county) if "【问责】" in m.subject]
    assert not [m for m in _mails(demo_county) if m.to_addr in (EMAIL["county-reviewer"], "lingdao@qingxi.example")]
    assert not _mails(demo_county, "submitted:")


async def test_each_hollow_round_climbs_one_rung_and_a_complete_report_ends_the_ladder(
        anon: httpx.AsyncClient, users: Users, clock: FakeClock, demo_county: Engine) -> None:
    c = anon
    sub = await _hollow_q4(c, users, clock, dt.date(2025, 12, 10))
    await move(clock, users, at(dt.date(2025, 12, 11)))
    sub = await _resubmit(c, users, sub, HOLLOW | {"results": "暂无。"})
    assert (sub["status"], sub["round"]) == ("returned", 2)
    steps = await _steps(c, users)
    assert [(e["level_key"], e["status"]) for e in steps] == [("urge", "escalated"), ("supervise", "open")]
    assert "“取得的成效”只填写了“暂无。”，没有实际内容" in steps[1]["evidence"]["findings"]
    supervise = _mails(demo_county, f"escalation:hollow_report:{sub['id']}:2:")
    assert {m.to_addr for m in supervise} == {EMAIL["qx01-liaison"], EMAIL["qx01-secretary"]}
    await move(clock, users, at(dt.date(2025, 12, 12)))
    sub = await _resubmit(c, users, sub, QUARTERLY_DONE)
    assert (sub["status"], sub["round"], sub["current_level_name"]) == ("in_review", 3, "乡（镇）党委审核")
    steps = await _steps(c, users)
    assert [e["status"] for e in steps] == ["resolved", "resolved"]
    assert steps[1]["resolution"] == "已于2025年12月12日补充完善后重新报送"
    queue = (await c.get(f"{API}/reviews/queue", headers=await users("qx01-secretary"))).json()["items"]
    assert sub["id"] in [x["id"] for x in queue]


async def test_accountability_for_hollow_reports_follows_the_countys_confirmation_only(
        anon: httpx.AsyncClient, users: Users, clock: FakeClock, demo_county: Engine) -> None:
    c = anon
    sub = await _hollow_q4(c, users, clock, dt.date(2025, 12, 8))
    for day in (9, 10, 11, 12):
        await move(clock, users, at(dt.date(2025, 12, day)))
        sub = await _resubmit(c, users, sub, HOLLOW)
    steps = await _steps(c, users)
    assert [e["level_key"] for e in steps] == ["urge", "supervise", "interview", "notice", "accountability"]
    top = steps[-1]
    assert (top["status"], top["case_id"]) == ("open", None)
    # The fifth hollow round reaches 问责's rung, but only the county's administrators hear of it, to check it.
    assert {m.to_addr for m in _mails(demo_county, f"escalation:hollow_report:{sub['id']}:5:")} == {EMAIL["admin"]}
    assert not [m for m in _mails(demo_county) if "【问责】" in m.subject]
    assert (await c.get(f"{API}/cases", headers=await users("admin"))).json()["items"] == []
    r = await c.post(f"{API}/escalations/{top['id']}/confirm", headers=await users("admin"), json={
        "note": "经核查，该镇连续五次报送空泛报告，敷衍塞责属实。", "version": top["version"]})
    assert r.status_code == 201, r.text
    accountability = [m for m in _mails(demo_county) if "【问责】" in m.subject]
    assert accountability and all(m.key.startswith(f"case:hollow_report:{sub['id']}:5:") for m in accountability)
    assert EMAIL["qx01-secretary"] in {m.to_addr for m in accountability}


async def test_a_hollow_report_near_its_deadline_gets_time_to_complete_then_the_overdue_ladder_applies(
        anon: httpx.AsyncClient, users: Users, clock: FakeClock, demo_county: Engine) -> None:
    from tests.support.tick import tick

    c = anon
    sub = await _hollow_q4(c, users, clock, dt.date(2025, 12, 18))  # the day before the deadline
    [step] = await _steps(c, users)
    assert step["new_due_on"] == "2025-12-25"  # five working days to complete it, as for any return

    async def overdue() -> list[str]:
        r = await c.get(f"{API}/escalations", params={"trigger": "overdue"}, headers=await users("admin"))
        return [e["level_key"] for e in r.json()["items"] if e["obligation_id"] == sub["obligation_id"]]

    tick(demo_county, at(dt.date(2025, 12, 25)))
    await move(clock, users, at(dt.date(2025, 12, 25), 10))
    assert await overdue() == []
    tick(demo_county, at(dt.date(2025, 12, 26)))
    await move(clock, users, at(dt.date(2025, 12, 26), 10))
    assert await overdue() == ["urge"]  # not completed in time: the report is late, like one never sent
