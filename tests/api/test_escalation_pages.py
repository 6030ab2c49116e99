"""The escalation ledger, escalation and case pages, signed in with a session cookie."""

from __future__ import annotations

import datetime as dt

import httpx
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from core.clock import FakeClock
from models import AccountabilityCase, Escalation
from tests.support.clock import at
from tests.support.tick import tick
from tests.support.web import sign_in, version_of
from tests.support.world import launch


async def test_escalation_and_case_pages(anon: httpx.AsyncClient, demo_county: Engine, clock: FakeClock) -> None:
    launch(demo_county, ["QX01"], at(dt.date(2025, 1, 2)))
    day = at(dt.date(2025, 10, 20))  # the list (due 10 Oct) is six working days late
    clock.set(day)
    tick(demo_county, day)
    with Session(demo_county) as s:
        top = s.exec(select(Escalation).where(Escalation.status == "open", Escalation.level_key == "supervise")).first()
        assert top is not None and top.document_id
    csrf = await sign_in(anon, "admin", "/escalations")
    ledger = (await anon.get("/escalations")).text
    assert "督办与问责台账" in ledger and "青石镇" in ledger and "清组督〔2025〕" in ledger
    page = await anon.get(f"/escalations/{top.id}")
    assert page.status_code == 200 and "督办单" in page.text and "下载PDF" in page.text and "县委组织部核实" in page.text
    forged = await anon.post(f"/escalations/{top.id}/check", data={"outcome": "confirm", "note": "属实", "csrf_token": "x",
                                                                   "version": version_of(page.text)})
    assert forged.status_code == 403
    empty = await anon.post(f"/escalations/{top.id}/check", data={"outcome": "confirm", "note": " ", "csrf_token": csrf,
                                                                  "version": version_of(page.text)})
    assert empty.status_code == 422 and "请填写核实情况" in empty.text
    confirmed = await anon.post(f"/escalations/{top.id}/check", data={
        "outcome": "confirm", "note": "经核实，青石镇未按期报送名单属实", "csrf_token": csrf, "version": version_of(page.text)})
    assert confirmed.status_code == 303 and confirmed.headers["location"].startswith("/cases/")
    case_page = await anon.get(confirmed.headers["location"])
    assert case_page.status_code == 200 and "已立案问责" in case_page.text and "作出处理决定" in case_page.text
    decided = await anon.post(confirmed.headers["location"] + "/decision", data={
        "decision": "suspension", "note": "歇职", "suspension_days": "", "csrf_token": csrf, "version": version_of(case_page.text)})
    assert decided.status_code == 422 and "歇职须写明天数" in decided.text
    decided = await anon.post(confirmed.headers["location"] + "/decision", data={
        "decision": "admonishment", "note": "对镇党委书记诫勉谈话", "csrf_token": csrf, "version": version_of(case_page.text)})
    assert decided.status_code == 303
    after = (await anon.get(confirmed.headers["location"])).text
    assert "问责决定已登记" in after and "诫勉谈话" in after and "结案" in after
    with Session(demo_county) as s:
        [case] = s.exec(select(AccountabilityCase).where(AccountabilityCase.escalation_id == top.id)).all()
        assert (case.status, case.decision) == ("decided", "admonishment")
    # A township's liaison sees its own escalations but no county forms; another township sees nothing.
    await sign_in(anon, "qx01-liaison", "/escalations")
    own = await anon.get(f"/escalations/{top.id}")
    assert own.status_code == 200 and "县委组织部核实" not in own.text
    await sign_in(anon, "qx02-liaison", "/escalations")
    other = await anon.get(f"/escalations/{top.id}", headers={"accept": "text/html"})
    assert other.status_code == 404 and "青石镇" not in other.text


async def test_an_interview_is_recorded_from_its_page(anon: httpx.AsyncClient, demo_county: Engine, clock: FakeClock) -> None:
    launch(demo_county, ["QX01"], at(dt.date(2025, 1, 2)))
    day = at(dt.date(2025, 10, 24))  # the list is at 约谈 (five working days after 督办)
    clock.set(day)
    tick(demo_county, day)
    with Session(demo_county) as s:
        interview = s.exec(select(Escalation).where(Escalation.status == "open", Escalation.level_key == "interview")).first()
        assert interview is not None
    csrf = await sign_in(anon, "admin", "/escalations")
    page = await anon.get(f"/escalations/{interview.id}")
    assert page.status_code == 200 and "登记约谈" in page.text and "约谈通知" in page.text
    bad = await anon.post(f"/escalations/{interview.id}/interview", data={
        "interview_on": "明天", "csrf_token": csrf, "version": version_of(page.text)})
    assert bad.status_code == 422 and "请填写约谈日期" in bad.text
    done = await anon.post(f"/escalations/{interview.id}/interview", data={
        "interview_on": "2025-10-24", "place": "县委组织部会议室", "outcome": "镇党委书记说明情况，承诺一周内报送名单",
        "csrf_token": csrf, "version": version_of(page.text)})
    assert done.status_code == 303
    shown = (await anon.get(f"/escalations/{interview.id}")).text
    assert "约谈情况已登记" in shown and "承诺一周内报送名单" in shown and "2025年10月24日" in shown
