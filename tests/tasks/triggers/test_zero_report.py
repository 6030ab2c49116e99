"""零上报 (000 §四(三): 对…零上报的乡(镇)，经县委组织部检查核实后，将对党委负责人及相关当事人进行问责处理):
an empty weak-village list of a township with known weak villages waits for the county's check. Nobody is
mailed 【问责】 before the county confirms it; the confirmation opens the case and mails it; a dismissal
ends it quietly. Through the API, on a virtual clock."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from core.clock import FakeClock
from models import OutboxMessage
from tests.support.clock import at
from tests.support.review_chain import API, EMAIL, Users, launch, move, submitted_list

EMPTY_LIST = {
    "villages": [], "investigation": "镇党委组织人员对各村进行了走访，各村党组织运行正常。",
    "committee_meeting_date": "2025-09-24", "verified": True,
    "zero_report_reason": "经调查，本镇没有软弱涣散村党组织。",
}


def _mails(engine: Engine) -> list[OutboxMessage]:
    with Session(engine) as s:
        return list(s.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))))


async def _zero_report(c: httpx.AsyncClient, users: Users, clock: FakeClock) -> dict[str, Any]:
    """QX01 lists no weak village although it has key-contact villages; the escalation the county sees."""
    campaign = await launch(c, users, "weak_village_rectification")
    await move(clock, users, at(dt.date(2025, 9, 26)))
    r = await submitted_list(c, users, campaign, EMPTY_LIST)
    assert r.status_code == 200, r.text
    listed = await c.get(f"{API}/escalations", params={"trigger": "zero_report"}, headers=await users("admin"))
    [esc] = listed.json()["items"]
    assert esc["submission_id"] == r.json()["id"]
    return dict(esc)


async def test_a_zero_report_is_mailed_to_the_county_to_check_and_to_nobody_as_accountability(
        anon: httpx.AsyncClient, users: Users, clock: FakeClock, demo_county: Engine) -> None:
    esc = await _zero_report(anon, users, clock)
    assert (esc["level_key"], esc["status"], esc["case_id"]) == ("accountability", "open", None)
    assert "本乡镇有已知的后进薄弱村" in esc["reason"]
    mails = [m for m in _mails(demo_county) if m.key.startswith("escalation:zero_report:")]
    # Only the county's administrators, who check it; not the township's secretary nor the county leaders.
    assert {m.to_addr for m in mails} == {EMAIL["admin"]}
    assert all(m.subject.startswith("【待核实】青石镇·零上报：") for m in mails)
    assert all("拟处理：问责（待县委组织部检查核实后决定）" in m.body_text for m in mails)
    assert not [m for m in _mails(demo_county) if "【问责】" in m.subject]


async def test_the_county_confirms_and_only_then_is_accountability_mailed(
        anon: httpx.AsyncClient, users: Users, clock: FakeClock, demo_county: Engine) -> None:
    c = anon
    esc = await _zero_report(c, users, clock)
    await move(clock, users, at(dt.date(2025, 10, 9)))
    body = {"note": "经县委组织部实地核查，石桥村班子长期不团结，该镇零上报不实。", "version": esc["version"]}
    r = await c.post(f"{API}/escalations/{esc['id']}/confirm", json=body, headers=await users("qx01-liaison"))
    assert r.status_code == 403 and r.json()["detail"] == "只有县委组织部管理员可以处理督办事项"
    assert not [m for m in _mails(demo_county) if "【问责】" in m.subject]
    r = await c.post(f"{API}/escalations/{esc['id']}/confirm", json=body, headers=await users("admin"))
    assert r.status_code == 201, r.text
    case = r.json()
    assert (case["trigger"], case["status"]) == ("zero_report", "open") and "零上报不实" in case["reason"]
    mails = [m for m in _mails(demo_county) if m.key.startswith("case:zero_report:")]
    # The roles the 问责 level names: the township's secretary, the administrators and the county leaders.
    assert {EMAIL["qx01-secretary"], EMAIL["admin"], EMAIL["county-reviewer"]} <= {m.to_addr for m in mails}
    assert EMAIL["qx01-liaison"] not in {m.to_addr for m in mails}
    assert all(m.subject.startswith("【问责】青石镇·零上报：") for m in mails)
    assert all("经县委组织部检查核实，已立案问责" in m.body_text for m in mails)
    listed = (await c.get(f"{API}/escalations/{esc['id']}", headers=await users("admin"))).json()
    assert (listed["status"], listed["case_id"]) == ("confirmed", case["id"])


async def test_a_dismissed_zero_report_mails_no_accountability(
        anon: httpx.AsyncClient, users: Users, clock: FakeClock, demo_county: Engine) -> None:
    c = anon
    esc = await _zero_report(c, users, clock)
    await move(clock, users, at(dt.date(2025, 10, 9)))
    r = await c.post(f"{API}/escalations/{esc['id']}/dismiss", json={"note": "   ", "version": esc["version"]},
                     headers=await users("admin"))
    assert r.status_code == 422 and r.json()["detail"] == "请说明撤销理由"
    r = await c.post(f"{API}/escalations/{esc['id']}/dismiss", headers=await users("admin"), json={
        "note": "经核查，两个重点联系村已于上年整顿销号，本镇确无后进薄弱村。", "version": esc["version"]})
    assert r.status_code == 200 and r.json()["status"] == "dismissed"
    assert (await c.get(f"{API}/cases", headers=await users("admin"))).json()["items"] == []
    assert not [m for m in _mails(demo_county) if "【问责】" in m.subject or m.key.startswith("case:")]


async def test_findings_quote_what_was_written_and_say_empty_only_for_an_empty_section(
        anon: httpx.AsyncClient, users: Users, clock: FakeClock, demo_county: Engine) -> None:
    c = anon
    campaign = await launch(c, users, "weak_village_rectification")
    await move(clock, users, at(dt.date(2025, 9, 26)))
    r = await submitted_list(c, users, campaign, {
        "villages": ["QX01001", "QX01003", "QX01010"],  # its key-contact villages listed: only the section is hollow
        "investigation": "——", "committee_meeting_date": "2025-09-24", "verified": True})
    assert r.status_code == 200, r.text
    [esc] = (await c.get(f"{API}/escalations", params={"trigger": "zero_report"}, headers=await users("admin"))).json()["items"]
    assert esc["evidence"]["findings"] == ["“调查摸底情况”只填写了“——”，没有实际内容"]
    assert "为空" not in esc["reason"]
