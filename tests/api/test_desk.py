"""The 督办 desk through the public API on a virtual clock: an item assigned to three townships — one signs and
closes on time, one asks for an extension that is approved and closes before the new date (no escalation), one
never signs and climbs both ladders; the month's bulletin lists them; the ledger shows the extension."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
from sqlalchemy.engine import Engine

from core.clock import FakeClock
from tests.support.clock import at, days
from tests.support.desk import DESK, assign, close_report, desk_escalations, item_now, recipient
from tests.support.review_chain import move
from tests.support.tick import tick, tick_days
from tests.support.workbooks import sheet_rows
from tests.support.world import SignedIn

MONDAY = dt.date(2025, 3, 3)
DUE = dt.date(2025, 3, 14)
EXTENDED = dt.date(2025, 3, 21)


async def _extension(c: httpx.AsyncClient, users: SignedIn, row: dict[str, Any]) -> dict[str, Any]:
    """QX02 asks for a week more; its secretary passes it on, the office approves."""
    r = await c.post(f"{DESK}/recipients/{row['recipient_id']}/extensions", headers=await users("qx02-liaison"), json={
        "reason": "涉及村多，需逐村核对", "progress": "已完成8个村", "proposed_on": EXTENDED.isoformat()})
    assert r.status_code == 201, r.text
    request = r.json()
    assert request["status"] == "pending_township" and request["original_due_on"] == DUE.isoformat()
    self_decided = await c.post(f"{DESK}/extensions/{request['id']}/decision", headers=await users("admin"),
                                json={"decision": "approve", "version": request["version"]})
    assert self_decided.status_code == 403  # the township's reviewer decides first
    r = await c.post(f"{DESK}/extensions/{request['id']}/decision", headers=await users("qx02-secretary"),
                     json={"decision": "approve", "version": request["version"]})
    assert r.status_code == 200, r.text
    waiting = (await c.get(f"{DESK}/extensions", headers=await users("admin"))).json()["items"]
    assert [w["township"] for w in waiting] == ["QX02"]
    r = await c.post(f"{DESK}/extensions/{request['id']}/decision", headers=await users("admin"),
                     json={"decision": "approve", "version": r.json()["version"], "comment": "同意延期一周"})
    assert r.status_code == 200, r.text
    return dict(r.json())


async def test_an_item_for_three_townships_runs_to_its_bulletin_and_ledger(
        client: httpx.AsyncClient, users: SignedIn, clock: FakeClock, engine: Engine) -> None:
    await move(clock, users, at(MONDAY))
    item = await assign(client, users, ["QX01", "QX02", "QX03"], DUE)
    assert item["number"] == "督交〔2025〕1号" and len(item["recipients"]) == 3
    assert {r["status"] for r in item["recipients"]} == {"unsigned"}
    for code in ("QX01", "QX02"):
        r = await client.post(f"{DESK}/recipients/{recipient(item, code)['recipient_id']}/acknowledge",
                              headers=await users(f"{code.lower()}-liaison"))
        assert r.status_code == 200, r.text
        assert r.json()["acknowledged_at"] and r.json()["status"] == "signed"
    again = await client.post(f"{DESK}/recipients/{recipient(item, 'QX01')['recipient_id']}/acknowledge",
                              headers=await users("qx01-liaison"))
    assert again.status_code == 409
    other = await client.post(f"{DESK}/recipients/{recipient(item, 'QX03')['recipient_id']}/acknowledge",
                              headers=await users("qx01-liaison"))
    assert other.status_code == 404  # another township's item answers like a missing one

    tick_days(engine, days(MONDAY, dt.date(2025, 3, 7)))
    await move(clock, users, at(dt.date(2025, 3, 7), 10))
    await close_report(client, users, "QX01", recipient(item, "QX01"))

    tick_days(engine, days(dt.date(2025, 3, 8), dt.date(2025, 3, 12)))
    await move(clock, users, at(dt.date(2025, 3, 12), 10))
    approved = await _extension(client, users, recipient(item, "QX02"))
    assert approved["status"] == "approved" and approved["proposed_on"] == EXTENDED.isoformat()

    tick_days(engine, days(dt.date(2025, 3, 13), dt.date(2025, 3, 17)))
    await move(clock, users, at(dt.date(2025, 3, 17), 10))
    late = await client.post(f"{DESK}/recipients/{recipient(item, 'QX03')['recipient_id']}/extensions",
                             headers=await users("qx03-liaison"),
                             json={"reason": "人手不足", "progress": "尚未开始", "proposed_on": "2025-03-28"})
    assert late.status_code == 422 and "已过" in late.json()["detail"]
    red = (await client.get(f"{DESK}/recipients", params={"light": "red"}, headers=await users("admin"))).json()["items"]
    assert [r["township"] for r in red] == ["QX03"]

    tick_days(engine, days(dt.date(2025, 3, 18), dt.date(2025, 3, 19)))
    await move(clock, users, at(dt.date(2025, 3, 19), 10))
    await close_report(client, users, "QX02", recipient(item, "QX02"))
    tick_days(engine, days(dt.date(2025, 3, 20), dt.date(2025, 3, 21)))

    now = await item_now(client, users, item["id"])
    qx01, qx02, qx03 = (recipient(now, code) for code in ("QX01", "QX02", "QX03"))
    assert (qx01["status"], qx01["days_late"], qx01["light"]) == ("closed", 0, None)
    assert (qx02["status"], qx02["due_on"], qx02["original_due_on"], qx02["extensions"]) == (
        "closed", EXTENDED.isoformat(), DUE.isoformat(), 1)
    assert (qx03["status"], qx03["light"], qx03["acknowledged_at"]) == ("overdue", "red", None)
    assert desk_escalations(engine, "QX01") == desk_escalations(engine, "QX02") == []
    assert desk_escalations(engine, "QX03") == [
        ("overdue", 1, "催签收"), ("overdue", 2, "督促签收"), ("overdue", 1, "催办"), ("overdue", 2, "督办")]

    await _bulletin_and_ledger(client, users, clock, engine)


async def _bulletin_and_ledger(client: httpx.AsyncClient, users: SignedIn, clock: FakeClock, engine: Engine) -> None:
    april = dt.date(2025, 4, 7)  # the first working day from the bulletin day (5th) on
    assert tick(engine, at(april))["bulletins_drafted"] == 1
    await move(clock, users, at(april, 10))
    client.headers.update(await users("admin"))  # the fixture's token expired on the way
    bulletins = (await client.get(f"{DESK}/bulletins")).json()["items"]
    # February's was drafted on 5 March (nothing assigned then), March's now
    assert [(b["period_start"], b["status"]) for b in bulletins] == [("2025-03-01", "draft"), ("2025-02-01", "draft")]
    assert not any(r["assigned"] for r in bulletins[1]["rows"])
    rows = {r["township"]: r for r in bulletins[0]["rows"]}
    pick = ("assigned", "on_time", "late", "open", "overdue", "extensions", "levels", "cases")
    assert [rows["QX01"][k] for k in pick] == [1, 1, 0, 0, 0, 0, 0, 0]
    assert [rows["QX02"][k] for k in pick] == [1, 1, 0, 0, 0, 1, 0, 0]
    assert [rows["QX03"][k] for k in pick] == [1, 0, 0, 1, 1, 0, 4, 0]
    assert rows["QX04"]["assigned"] == 0
    assert (await client.get(f"{DESK}/bulletins", headers=await users("qx01-liaison"))).json()["items"] == []
    r = await client.post(f"{DESK}/bulletins/{bulletins[0]['id']}/publish",
                          json={"version": bulletins[0]["version"], "worst": ["清溪县QX03"]})
    assert r.status_code == 200, r.text
    published = r.json()
    assert published["status"] == "published" and published["worst"] == ["清溪县QX03"]
    pdf = await client.get(published["pdf"])
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")

    api_rows = (await client.get(f"{DESK}/recipients")).json()["items"]
    sheet = sheet_rows(await client.get("/api/v1/ledgers/desk.xlsx"))
    assert [s["承办乡镇"] for s in sheet] == [r["township_name"] for r in api_rows]
    extended = next(s for s in sheet if s["延期至"] is not None)
    assert (extended["原定期限"].date(), extended["延期至"].date()) == (DUE, EXTENDED)
    assert extended["延期理由"] == "涉及村多，需逐村核对" and extended["批准人"]
    assessment = (await client.get("/api/v1/assessments/QX03/2025")).json()
    assert assessment["desk"]["overdue"] == 1 and assessment["desk"]["score"] < 100 and "按期办结率" in assessment["desk"]["rule"]
    year_end = sheet_rows(await client.get("/api/v1/ledgers/assessments.xlsx", params={"township": "QX01", "year": 2025}))
    assert [(r["类别"], r["实际"]) for r in year_end if r["类别"] == "督办台评分"] == [("督办台评分", 100)]
    audit = (await client.get("/api/v1/audit", params={"limit": 1000})).json()["items"]
    actions = [e["action"] for e in audit]
    for action in ("desk.assign", "desk.acknowledge", "desk.extension.request", "desk.extension.approve",
                   "obligation.extended", "desk.bulletin.publish"):
        assert action in actions, action
