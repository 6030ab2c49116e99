"""The desk's other paths through the API: bad items refused in Chinese, bulk assignment, a deadline counted from
signing, 退办 then 办结销号, a refused extension, the 三色督办单, periodic feedback turning the light yellow, the
scores, and the containers that cannot be launched."""

from __future__ import annotations

import datetime as dt

import httpx
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from core.clock import FakeClock
from models import OfficialDocument, OutboxMessage, User
from tasks.accounts import principal_for
from tasks.reads.desk import light_counts
from tests.support.clock import at, days
from tests.support.desk import CLOSING, DESK, assign, item_now, recipient
from tests.support.review_chain import move
from tests.support.tick import tick_days
from tests.support.web import page_text, sign_in
from tests.support.workbooks import xlsx
from tests.support.world import SignedIn

MONDAY = dt.date(2025, 3, 3)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


async def test_a_bad_item_is_refused_in_chinese_and_writes_nothing(client: httpx.AsyncClient, users: SignedIn,
                                                                  clock: FakeClock) -> None:
    await move(clock, users, at(MONDAY))
    admin = await users("admin")
    base = {"title": "清理挂牌", "source": "meeting", "requirement": "全面清理", "townships": ["QX01"]}
    cases = [
        (base, "二选一"),
        (base | {"due_on": "2025-03-20", "due_workdays": 5}, "二选一"),
        (base | {"due_on": "2025-03-01"}, "须晚于今天"),
        (base | {"due_on": "2025-03-20", "townships": ["QX01", "QX02001"]}, "QX02001"),
    ]
    for body, words in cases:
        r = await client.post(f"{DESK}/items", json=body, headers=admin)
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith("application/problem+json") and words in r.json()["detail"]
    by_township = await client.post(f"{DESK}/items", json=base | {"due_on": "2025-03-20"},
                                    headers=await users("qx01-liaison"))
    assert by_township.status_code == 403
    assert (await client.get(f"{DESK}/items", headers=admin)).json()["total"] == 0
    launched = await client.post("/api/v1/campaigns", headers=admin,
                                 json={"definition": "supervision_desk", "township": "QX01", "year": 2025})
    assert launched.status_code == 422 and "不能作为督办活动启动" in launched.json()["detail"]


async def test_every_township_at_once_and_a_deadline_counted_from_signing(client: httpx.AsyncClient,
                                                                         users: SignedIn, clock: FakeClock) -> None:
    await move(clock, users, at(MONDAY))
    item = await assign(client, users, [], None, due_workdays=5, all_townships=True)
    assert len(item["recipients"]) == 12 and item["due_workdays"] == 5
    row = recipient(item, "QX01")
    assert row["due_on"] == "2025-03-11"  # signed on the last day (4 March): five working days from then
    await move(clock, users, at(dt.date(2025, 3, 4), 10))
    r = await client.post(f"{DESK}/recipients/{row['recipient_id']}/acknowledge", headers=await users("qx01-liaison"))
    assert r.json()["due_on"] == "2025-03-11" and r.json()["original_due_on"] == "2025-03-11"
    mine = (await client.get(f"{DESK}/items", headers=await users("qx01-liaison"))).json()
    assert mine["total"] == 1 and mine["items"][0]["recipients"] == 1


async def test_a_return_then_closing_and_a_refused_extension(client: httpx.AsyncClient, users: SignedIn,
                                                            clock: FakeClock, engine: Engine) -> None:
    await move(clock, users, at(MONDAY))
    item = await assign(client, users, ["QX01"], dt.date(2025, 3, 14), review="county")
    row = recipient(item, "QX01")
    r = await client.post(f"{DESK}/recipients/{row['recipient_id']}/extensions", headers=await users("qx01-liaison"),
                          json={"reason": "需要协调", "progress": "已启动", "proposed_on": "2025-03-28"})
    request = r.json()
    r = await client.post(f"{DESK}/extensions/{request['id']}/decision", headers=await users("qx01-secretary"),
                          json={"decision": "approve", "version": request["version"]})
    no_reason = await client.post(f"{DESK}/extensions/{request['id']}/decision", headers=await users("admin"),
                                  json={"decision": "refuse", "version": r.json()["version"]})
    assert no_reason.status_code == 422 and "理由" in no_reason.json()["detail"]
    refused = await client.post(f"{DESK}/extensions/{request['id']}/decision", headers=await users("admin"),
                                json={"decision": "refuse", "version": r.json()["version"], "comment": "时间充足"})
    assert refused.json()["status"] == "refused"
    assert recipient(await item_now(client, users, item["id"]), "QX01")["due_on"] == "2025-03-14"
    sub = (await client.post("/api/v1/submissions", headers=await users("qx01-liaison"),
                             json={"obligation_id": row["obligation_id"], "data": CLOSING, "submit": True})).json()
    returned = await client.post(f"/api/v1/submissions/{sub['id']}/decisions", headers=await users("admin"),
                                 json={"decision": "return", "version": sub["version"], "comment": "请补充佐证材料"})
    assert returned.json()["status"] == "returned"  # 退办
    resent = await client.post(f"/api/v1/submissions/{sub['id']}/submit", headers=await users("qx01-liaison"),
                               json={"version": returned.json()["version"]})
    closed = await client.post(f"/api/v1/submissions/{sub['id']}/decisions", headers=await users("admin"),
                               json={"decision": "approve", "version": resent.json()["version"]})
    assert closed.json()["status"] == "approved"  # 办结销号
    done = recipient(await item_now(client, users, item["id"]), "QX01")
    assert (done["status"], done["closed_on"], done["days_late"], done["light"]) == ("closed", "2025-03-03", 0, None)
    urged = await client.post(f"{DESK}/recipients/{row['recipient_id']}/urges", json={"colour": "red", "note": "逾期"},
                              headers=await users("admin"))
    assert urged.status_code == 409 and "已办结" in urged.json()["detail"]


async def test_the_three_colour_urge_is_numbered_and_mailed_with_its_pdf(client: httpx.AsyncClient, users: SignedIn,
                                                                        clock: FakeClock, engine: Engine) -> None:
    await move(clock, users, at(MONDAY))
    item = await assign(client, users, ["QX02"], dt.date(2025, 3, 6))
    row = recipient(item, "QX02")
    r = await client.post(f"{DESK}/recipients/{row['recipient_id']}/urges", headers=await users("admin"),
                          json={"colour": "blue", "note": "临近办理期限，请抓紧办结"})
    assert r.status_code == 201, r.text
    pdf = await client.get(r.json()["pdf"], headers=await users("admin"))
    assert pdf.content.startswith(b"%PDF")
    with Session(engine) as s:
        doc = s.exec(select(OfficialDocument).where(OfficialDocument.id == r.json()["document_id"])).one()
        mails = s.exec(select(OutboxMessage).where(OutboxMessage.document_id == doc.id)).all()
    assert doc.doc_number == "清组督〔2025〕1号" and doc.title == "蓝色督办单（清理村级组织挂牌）"
    assert {m.to_addr.split("@")[0] for m in mails} == {"qx02-liaison", "qx02-secretary"}
    refused = await client.post(f"{DESK}/recipients/{row['recipient_id']}/urges", headers=await users("qx02-secretary"),
                                json={"colour": "blue", "note": "x"})
    assert refused.status_code == 403


async def test_periodic_feedback_behind_turns_the_light_yellow(client: httpx.AsyncClient, users: SignedIn,
                                                              clock: FakeClock, engine: Engine) -> None:
    await move(clock, users, at(MONDAY))
    item = await assign(client, users, ["QX03"], dt.date(2025, 4, 30), feedback="weekly")
    campaigns = (await client.get("/api/v1/campaigns", params={"township": "QX03"},
                                  headers=await users("admin"))).json()["items"]
    assert {c["definition"] for c in campaigns} == {"supervision_desk", "supervision_desk_signing"}
    tick_days(engine, days(MONDAY, dt.date(2025, 3, 10)))
    await move(clock, users, at(dt.date(2025, 3, 10), 10))
    row = recipient(await item_now(client, users, item["id"]), "QX03")
    assert row["light"] == "yellow"  # the first Friday's feedback is missing, the deadline far off
    with Session(engine) as s:  # the dashboard's counts of the lights agree
        admin = principal_for(s, s.exec(select(User).where(User.username == "admin")).one())
        assert [(c["township"], c["green"], c["yellow"], c["red"])
                for c in light_counts(s, admin, dt.date(2025, 3, 10))] == [("QX03", 0, 1, 0)]
    yellow = (await client.get(f"{DESK}/recipients", params={"light": "yellow"}, headers=await users("admin"))).json()
    assert [r["township"] for r in yellow["items"]] == ["QX03"]
    todos = (await client.get("/api/v1/todos", params={"light": "red"}, headers=await users("qx03-liaison"))).json()
    assert {t["title"] for t in todos["items"]} >= {"签收：清理村级组织挂牌", "进展反馈：清理村级组织挂牌"}
    scores = (await client.get(f"{DESK}/scores", params={"year": 2025}, headers=await users("admin"))).json()
    qx03 = next(s for s in scores["items"] if s["township"] == "QX03")
    assert qx03["assigned"] == 1 and "按期办结率" in scores["rule"]


async def test_a_list_of_items_from_excel_all_rows_or_none(client: httpx.AsyncClient, users: SignedIn,
                                                          clock: FakeClock) -> None:
    await move(clock, users, at(MONDAY))
    admin = await users("admin")
    header = ["事项名称", "来源", "文号", "办理要求", "承办乡镇", "办理期限", "反馈方式"]
    good = ["规范村级组织挂牌", "领导批示", "清组〔2025〕3号", "全面清理牌子", "QX01、QX02", dt.date(2025, 3, 20), "每月反馈"]
    bad = [["核查党员信息", "会议议定", "", "逐一核对", "QX99", "2025-03-20", ""],
           ["整改问题台账", "听说", "", "建立台账", "全部", "2025-02-01", ""]]
    refused = await client.post(f"{DESK}/items/import", headers=admin,
                                files={"file": ("交办.xlsx", xlsx([header, good, *bad]), XLSX)})
    assert refused.status_code == 422, refused.text
    detail = refused.json()["detail"]
    assert detail.startswith("交办事项导入失败，未导入任何数据")
    assert "第3行“承办乡镇”" in detail and "QX99" in detail and "第4行“来源”" in detail
    assert (await client.get(f"{DESK}/items", headers=admin)).json()["total"] == 0
    done = await client.post(f"{DESK}/items/import", headers=admin,
                             files={"file": ("交办.xlsx", xlsx([header, good, ["整改问题台账", "检查发现", "", "建立台账",
                                                                                "全部", "2025-03-28", ""]]), XLSX)})
    assert done.status_code == 201, done.text
    listed = (await client.get(f"{DESK}/items", headers=admin)).json()["items"]
    assert [(i["title"], i["recipients"], i["feedback"]) for i in listed] == [
        ("整改问题台账", 12, "once"), ("规范村级组织挂牌", 2, "monthly")]


async def test_the_desk_page_dashboard_and_to_do_list_show_the_lights(anon: httpx.AsyncClient, users: SignedIn,
                                                                      clock: FakeClock) -> None:
    await move(clock, users, at(MONDAY))
    await assign(anon, users, ["QX01"], dt.date(2025, 3, 5))  # two working days away: yellow
    await sign_in(anon, "admin")
    desk = await page_text(anon, "/desk")
    assert "清理村级组织挂牌" in desk and "light-yellow" in desk and "新建交办事项" in desk
    assert "没有符合条件的交办事项" in await page_text(anon, "/desk", light="red")
    dashboard = await page_text(anon, "/dashboard")
    assert "督办台：各乡镇交办事项督办灯" in dashboard and "青石镇" in dashboard
    await sign_in(anon, "qx01-liaison")
    todos = await page_text(anon, "/todos")
    assert "签收：清理村级组织挂牌" in todos and "light-yellow" in todos
    mine = await page_text(anon, "/desk")
    assert ">签收</button>" in mine and "新建交办事项" not in mine


async def test_the_office_drafts_and_publishes_a_bulletin_on_the_page(anon: httpx.AsyncClient, users: SignedIn,
                                                                     clock: FakeClock, engine: Engine) -> None:
    await move(clock, users, at(MONDAY))
    await assign(anon, users, ["QX01", "QX02"], dt.date(2025, 3, 5))
    await move(clock, users, at(dt.date(2025, 4, 1)))
    csrf = await sign_in(anon, "admin", "/desk")
    drafted = await anon.post("/desk/bulletins", data={"csrf_token": csrf, "month": "2025-03"})
    assert drafted.status_code == 303, drafted.text
    page = await page_text(anon, "/desk")
    assert "关于2025年3月督办工作情况的通报（草稿）" in page and "印发通报" in page
    bulletin = (await anon.get(f"{DESK}/bulletins", headers=await users("admin"))).json()["items"][0]
    assert {r["township"] for r in bulletin["rows"] if r["overdue"]} == {"QX01", "QX02"}
    published = await anon.post(f"/desk/bulletins/{bulletin['id']}/publish", data={
        "csrf_token": csrf, "version": str(bulletin["version"]), "intro": "现将3月份督办情况通报如下。", "worst": "青石镇、柳河乡"})
    assert published.status_code == 303, published.text
    shown = (await anon.get(f"{DESK}/bulletins/{bulletin['id']}", headers=await users("qx01-liaison"))).json()
    assert shown["status"] == "published" and shown["worst"] == ["青石镇", "柳河乡"]
    with Session(engine) as s:
        sent = s.exec(select(OutboxMessage).where(OutboxMessage.document_id == shown["document_id"])).all()
    assert {m.to_addr.split("@")[0] for m in sent} == {f"qx0{n}-secretary" for n in (1, 2, 3)}


async def test_the_source_document_is_attached_and_read_within_scope(client: httpx.AsyncClient, users: SignedIn,
                                                                    clock: FakeClock) -> None:
    await move(clock, users, at(MONDAY))
    item = await assign(client, users, ["QX01"], dt.date(2025, 3, 20))
    url = f"{DESK}/items/{item['id']}/attachment"
    wrong = await client.post(url, headers=await users("admin"), files={"file": ("批示.pdf", b"GIF89a", "application/pdf")})
    assert wrong.status_code == 415 and "PDF" in wrong.json()["detail"]
    r = await client.post(url, headers=await users("admin"), files={"file": ("批示.pdf", b"%PDF-1.4 x", "application/pdf")})
    assert r.status_code == 200, r.text
    assert (await client.get(url, headers=await users("qx01-liaison"))).content == b"%PDF-1.4 x"
    assert (await client.get(url, headers=await users("qx02-liaison"))).status_code == 404
    assert (await item_now(client, users, item["id"]))["attachment"] == "批示.pdf"


async def test_the_demo_county_gets_one_assigned_item_once(client: httpx.AsyncClient, users: SignedIn,
                                                          clock: FakeClock, engine: Engine) -> None:
    from core.db import session_scope
    from tasks.desk.demo import seed_demo_desk

    await move(clock, users, at(MONDAY))
    for expected in (1, 0):
        with session_scope(engine) as session:
            assert seed_demo_desk(session, at(MONDAY)) == expected
    listed = (await client.get(f"{DESK}/items", headers=await users("admin"))).json()["items"]
    assert [(i["title"], i["recipients"]) for i in listed] == [("全面清理规范村级组织挂牌", 3)]
    rows = (await client.get(f"{DESK}/recipients", headers=await users("admin"))).json()["items"]
    assert {r["township"]: r["status"] for r in rows} == {"QX01": "signed", "QX02": "unsigned", "QX03": "unsigned"}
