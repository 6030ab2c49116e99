"""Every title of a deadline's material names its township, village and period in Chinese: the to-do list, the
review queue, the submission page, the form and the mail subjects."""

from __future__ import annotations

import datetime as dt
import logging

import httpx
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from core.clock import CHINA_TZ, FakeClock
from models import OutboxMessage
from tests.support.clock import at
from tests.support.review_chain import API, QUARTERLY_DONE, Users, launch, obligation
from tests.support.web import sign_in

HEADING = "青石镇 2025年第四季度 后进薄弱村党组织建设季度报告"


async def test_queue_form_page_and_mail_name_the_township_and_the_period(
        client: httpx.AsyncClient, users: Users, clock: FakeClock, engine: Engine) -> None:
    clock.set(at(dt.date(2025, 12, 8)))
    campaign = await launch(client, users, "weak_village_rectification")
    ob = obligation(campaign, "quarterly_report", "2025Q4")
    todos = (await client.get(f"{API}/todos", headers=await users("qx01-liaison"))).json()["items"]
    todo = next(t for t in todos if t["obligation_id"] == ob["id"])
    assert (todo["heading"], todo["period_label"]) == (HEADING, "2025年第四季度")
    r = await client.post(f"{API}/submissions", headers=await users("qx01-liaison"),
                          json={"obligation_id": ob["id"], "data": QUARTERLY_DONE, "submit": True})
    assert r.status_code == 201, r.text
    assert r.json()["heading"] == HEADING
    queue = (await client.get(f"{API}/reviews/queue", headers=await users("qx01-secretary"))).json()["items"]
    assert [s["heading"] for s in queue] == [HEADING]
    with Session(engine) as s:
        subjects = [m.subject for m in s.exec(select(OutboxMessage).order_by(col(OutboxMessage.id)))]
    assert "【待审核】青石镇·2025年第四季度·后进薄弱村党组织建设季度报告（乡（镇）党委审核）" in subjects


async def test_pages_show_the_heading(anon: httpx.AsyncClient, users: Users, clock: FakeClock) -> None:
    clock.set(dt.datetime(2025, 12, 8, 9, 0, tzinfo=CHINA_TZ))
    campaign = await launch(anon, users, "weak_village_rectification")
    ob = obligation(campaign, "quarterly_report", "2025Q4")
    await sign_in(anon, "qx01-liaison")
    todos = await anon.get("/todos")
    assert HEADING in todos.text and "2025年第四季度" in todos.text and "2025Q4" not in todos.text
    form = await anon.get(f"/obligations/{ob['id']}/form", follow_redirects=True)
    assert f"填报：{HEADING}" in form.text


async def test_a_report_is_not_submitted_before_its_window_opens(
        client: httpx.AsyncClient, users: Users, clock: FakeClock) -> None:
    clock.set(at(dt.date(2025, 12, 8)))
    campaign = await launch(client, users, "weak_village_rectification")
    early = obligation(campaign, "quarterly_report", "2026Q1")
    opens = dt.date.fromisoformat(early["opens_on"])
    liaison = await users("qx01-liaison")
    r = await client.post(f"{API}/submissions", headers=liaison,
                          json={"obligation_id": early["id"], "data": QUARTERLY_DONE, "submit": True})
    assert r.status_code == 409, r.text
    assert f"{opens.year}年{opens.month}月{opens.day}日起才能提交" in r.json()["detail"]
    assert "2026年第一季度" in r.json()["detail"]
    draft = await client.post(f"{API}/submissions", headers=liaison,
                              json={"obligation_id": early["id"], "data": QUARTERLY_DONE})
    assert draft.status_code == 201 and draft.json()["status"] == "draft"
    refused = await client.post(f"{API}/submissions/{draft.json()['id']}/submit", headers=liaison,
                                json={"version": draft.json()["version"]})
    assert refused.status_code == 409
    clock.set(at(opens))
    users.tokens.clear()
    sent = await client.post(f"{API}/submissions/{draft.json()['id']}/submit", headers=await users("qx01-liaison"),
                             json={"version": draft.json()["version"]})
    assert sent.status_code == 200 and sent.json()["status"] == "in_review", sent.text


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


async def test_a_refused_launch_leaves_no_traceback_in_the_log(client: httpx.AsyncClient) -> None:
    seen = _Records()
    loggers = [logging.getLogger(name) for name in ("prefect.flow_runs", "prefect.task_runs")]
    for logger in loggers:
        logger.addHandler(seen)
    try:
        r = await client.post(f"{API}/campaigns", json={"definition": "weak_village_rectification", "township": "QX99",
                                                        "year": 2026})
    finally:
        for logger in loggers:
            logger.removeHandler(seen)
    assert r.status_code == 422 and "QX99" in r.json()["detail"]
    assert [rec.getMessage() for rec in seen.records if rec.levelno >= logging.ERROR] == []


async def test_the_escalation_page_links_the_report_and_quotes_what_was_written(
        anon: httpx.AsyncClient, users: Users, clock: FakeClock) -> None:
    clock.set(at(dt.date(2025, 12, 8)))
    campaign = await launch(anon, users, "weak_village_rectification")
    ob = obligation(campaign, "quarterly_report", "2025Q4")
    hollow = {"basic_situation": "……", "results": "暂无", "main_problems": "无", "next_steps": "……"}
    r = await anon.post(f"{API}/submissions", headers=await users("qx01-liaison"),
                        json={"obligation_id": ob["id"], "data": hollow, "submit": True})
    assert r.status_code == 201 and r.json()["status"] == "returned", r.text
    sid = r.json()["id"]
    found = (await anon.get(f"{API}/escalations", headers=await users("admin"))).json()["items"]
    (esc,) = [e for e in found if e["submission_id"] == sid]
    await sign_in(anon, "admin")
    page = (await anon.get(f"/escalations/{esc['id']}")).text
    assert f'href="/submissions/{sid}"' in page and f'href="/campaigns/{campaign["id"]}"' in page
    assert "只填写了“……”" in page and "为空" not in page
    history = (await anon.get(f"/submissions/{sid}")).text
    assert "系统退回（内容空泛）" in history and "submission.send_back" not in history


async def test_the_dashboard_counts_only_the_selected_campaigns_escalations(
        anon: httpx.AsyncClient, users: Users, clock: FakeClock, engine: Engine) -> None:
    from tasks.reads import dashboard
    from tests.support.world import as_user

    clock.set(at(dt.date(2025, 12, 8)))
    campaign = await launch(anon, users, "weak_village_rectification")
    await launch(anon, users, "five_good_model_site", year=2026)
    ob = obligation(campaign, "quarterly_report", "2025Q4")
    hollow = {"basic_situation": "……", "results": "暂无", "main_problems": "无", "next_steps": "……"}
    r = await anon.post(f"{API}/submissions", headers=await users("qx01-liaison"),
                        json={"obligation_id": ob["id"], "data": hollow, "submit": True})
    assert r.status_code == 201, r.text

    def escalations(definition: str, year: int) -> int:
        with Session(engine) as s:
            view = dashboard.dashboard(s, as_user(s, "admin"), dt.date(2025, 12, 8), definition=definition, year=year)
        return next(row["escalations"] for row in view["rows"] if row["township"].code == "QX01")

    assert escalations("weak_village_rectification", 2025) == 1
    assert escalations("five_good_model_site", 2026) == 0


async def test_the_escalations_page_offers_townships_by_name(anon: httpx.AsyncClient) -> None:
    await sign_in(anon, "admin")
    page = (await anon.get("/escalations", params={"township": "QX04"})).text
    assert '<select id="township" name="township">' in page
    assert '<option value="QX04" selected>云岭乡</option>' in page and "乡镇编码" not in page
