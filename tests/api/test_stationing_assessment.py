"""The stationing programme's yearly assessment and graded acceptance over HTTP (003 四(五)): a cadre's 工作鉴定
drafted by the township and approved by the Organisation Department, a unit that did not send its cadres
downgraded one grade, and a village failing acceptance keeping its leader until it passes."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
from sqlalchemy.engine import Engine

from core.clock import FakeClock
from tests.support.clock import at
from tests.support.review_chain import move
from tests.support.stationing import approved_plan
from tests.support.stationing_assessment import diary
from tests.support.web import page_text, sign_in
from tests.support.workbooks import sheet_rows

API = "/api/v1"
ARRIVED = dt.date(2027, 1, 6)
TEAMS = {"QX02001": ("QXD01", ["QXD01-01", "QXD01-02", "QXD01-03"]), "QX02002": ("QX02", ["QX02-C1"])}


async def _plan(engine: Engine, clock: FakeClock, users: Any) -> None:
    approved_plan(engine, 2027, TEAMS, arrived_on=ARRIVED)
    await move(clock, users, at(dt.date(2027, 12, 10)))


async def test_a_cadre_without_diary_entries_cannot_be_appraised(
        anon: httpx.AsyncClient, users: Any, clock: FakeClock, demo_county: Engine) -> None:
    await _plan(demo_county, clock, users)
    body = {"appraisal": "吃住在村，帮助理清发展思路", "grade": "competent"}
    refused = await anon.put(f"{API}/cadre-assessments/QX02-C1/2027", json=body, headers=await users("qx02-liaison"))
    assert refused.status_code == 422
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["detail"].endswith("工作日记是驻村干部实绩考核的依据之一（003 §四(三)），请先记好工作日记再起草工作鉴定")
    listed = await anon.get(f"{API}/cadre-assessments", params={"year": 2027}, headers=await users("admin"))
    assert listed.json()["total"] == 0


async def test_the_township_drafts_and_the_organisation_department_approves(
        anon: httpx.AsyncClient, users: Any, clock: FakeClock, demo_county: Engine) -> None:
    await _plan(demo_county, clock, users)
    diary(demo_county, "QX02-C1", "QX02002", dt.date(2027, 2, 3), dt.date(2027, 3, 4), dt.date(2026, 12, 1))
    body = {"appraisal": "吃住在村，帮助理清发展思路", "grade": "excellent"}
    url = f"{API}/cadre-assessments/QX02-C1/2027"
    assert (await anon.put(url, json=body, headers=await users("qx01-liaison"))).status_code == 404
    assert (await anon.put(url, json=body, headers=await users("admin"))).status_code == 403
    assert (await anon.put(url, json=body | {"grade": "great"}, headers=await users("qx02-liaison"))).status_code == 422
    drafted = await anon.put(url, json=body, headers=await users("qx02-liaison"))
    assert drafted.status_code == 200, drafted.text
    assert drafted.json() | {"drafted_at": None} == {
        "cadre": "QX02-C1", "cadre_name": drafted.json()["cadre_name"], "unit": "QX02", "unit_name": "柳河乡",
        "township": "QX02", "township_name": "柳河乡", "year": 2027, "appraisal": body["appraisal"],
        "grade": "excellent", "grade_label": "优秀", "diary_entries": 2, "status": "draft", "status_label": "草稿",
        "drafted_at": None, "decided_at": None, "decision_note": None, "version": 1}
    stale = await anon.put(url, json=body | {"grade": "competent"}, headers=await users("qx02-secretary"))
    assert stale.status_code == 422  # revising needs the version
    revised = await anon.put(url, json=body | {"grade": "competent", "version": 1}, headers=await users("qx02-secretary"))
    assert revised.json()["grade_label"] == "称职" and revised.json()["version"] == 2
    submitted = await anon.post(f"{url}/submit", json={"version": 2}, headers=await users("qx02-secretary"))
    assert submitted.json()["status_label"] == "待组织部审定"
    returned = await anon.post(f"{url}/decision", json={"decision": "return", "version": 3}, headers=await users("admin"))
    assert returned.status_code == 422 and "退回工作鉴定须写明" in returned.json()["detail"]
    approved = await anon.post(f"{url}/decision", json={"decision": "approve", "version": 3}, headers=await users("admin"))
    assert approved.json()["status_label"] == "已审定"
    again = await anon.put(url, json=body | {"version": 4}, headers=await users("qx02-liaison"))
    assert again.status_code == 409
    record = (await anon.get(f"{API}/cadres/QX02-C1/record", headers=await users("qx02-secretary"))).json()
    assert record["years"] == [{"year": 2027, "village": "QX02002", "village_name": record["years"][0]["village_name"],
                                "unit": "QX02", "unit_name": "柳河乡", "arrived_on": "2027-01-06", "left_on": None,
                                "left_reason": None, "diary_entries": 2}]
    assert [(a["year"], a["grade_label"]) for a in record["appraisals"]] == [(2027, "称职")]
    assert (await anon.get(f"{API}/cadres/QX02-C1/record", headers=await users("qx01-secretary"))).status_code == 404
    rows = sheet_rows(await anon.get(f"{API}/ledgers/cadre-assessments.xlsx", params={"year": 2027},
                                     headers=await users("admin")))
    assert [(r["干部编码"], r["工作日记（篇）"], r["鉴定等次"], r["审定状态"]) for r in rows] == [("QX02-C1", 2, "称职", "已审定")]
    await sign_in(anon, "qx02-liaison")
    assert "称职" in await page_text(anon, "/cadre-assessments", year=2027)


async def test_a_unit_that_did_not_send_its_cadres_is_downgraded(
        anon: httpx.AsyncClient, users: Any, clock: FakeClock, demo_county: Engine) -> None:
    await _plan(demo_county, clock, users)
    admin = await users("admin")
    assert (await anon.put(f"{API}/unit-assessments/QXD01/2027", json={"proposed_rating": "good"},
                           headers=await users("county-reviewer"))).status_code == 403
    rated = await anon.put(f"{API}/unit-assessments/QXD01/2027", json={"proposed_rating": "good"}, headers=admin)
    assert rated.status_code == 200, rated.text
    assert rated.json() | {"decided_at": None} == {
        "unit": "QXD01", "unit_name": "县委组织部", "unit_level": "county", "establishment_size": 35, "year": 2027,
        "dispatch_completed": False,
        "shortfall": "县委组织部编制35人，应选派不少于6名驻村干部（在编干部的20%左右），实际选派3名",
        "proposed_rating": "good", "proposed_label": "良好", "final_rating": "pass", "final_label": "合格",
        "downgraded": True, "decided_at": None, "version": 1}
    city = await anon.put(f"{API}/unit-assessments/QXD06/2027", json={"proposed_rating": "excellent"}, headers=admin)
    assert city.json()["final_label"] == "优秀"  # a city unit with nobody in the plan: 003 sets it no share
    again = await anon.put(f"{API}/unit-assessments/QXD01/2027", json={"proposed_rating": "pass", "version": 1},
                           headers=admin)
    assert (again.json()["final_label"], again.json()["version"]) == ("不合格", 2)
    consequences = (await anon.get(f"{API}/ratings/consequences", params={"year": 2027},
                                   headers=await users("qx02-liaison"))).json()
    assert consequences["items"] == []
    assert [(u["unit"], u["final_label"]) for u in consequences["units"]] == [("QXD01", "不合格")]
    year_end = (await anon.get(f"{API}/assessments", params={"year": 2027}, headers=admin)).json()
    assert [(u["unit"], u["final_label"], u["downgraded"]) for u in year_end["units"]] == [
        ("QXD01", "不合格", True), ("QXD06", "优秀", False)]
    units = (await anon.get(f"{API}/unit-assessments", params={"year": 2027}, headers=admin)).json()["items"]
    assert units == year_end["units"]
    rows = sheet_rows(await anon.get(f"{API}/ledgers/unit-assessments.xlsx", params={"year": 2027}, headers=admin))
    assert [(r["单位编码"], r["选派任务"], r["拟评等次"], r["考核等次"]) for r in rows] == [
        ("QXD01", "未完成", "合格", "不合格"), ("QXD06", "已完成", "优秀", "优秀")]
    assessment_rows = sheet_rows(await anon.get(f"{API}/ledgers/assessments.xlsx", params={"year": 2027}, headers=admin))
    assert [(r["乡镇编码"], r["结论"]) for r in assessment_rows if r["类别"] == "派出单位考核"] == [
        ("QXD01", "不合格"), ("QXD06", "优秀")]
    await sign_in(anon, "admin")
    page = await page_text(anon, "/assessments", year=2027)
    assert "<td>不合格（降级处理）</td>" in page and "<td>优秀</td></tr>" in page


async def _verdict(c: httpx.AsyncClient, users: Any, who: str, subject: str, passed: bool,
                   note: str | None = None) -> httpx.Response:
    return await c.post(f"{API}/programmes/1/acceptances", headers=await users(who),
                        json={"subject": subject, "passed": passed, "note": note})


async def test_a_village_failing_acceptance_keeps_its_leader_until_it_passes(
        anon: httpx.AsyncClient, users: Any, clock: FakeClock, demo_county: Engine) -> None:
    await _plan(demo_county, clock, users)
    await move(clock, users, at(dt.date(2029, 11, 30)))
    early = await _verdict(anon, users, "qx02-secretary", "QX02001", True)
    assert early.status_code == 409 and "从2029年12月1日起验收" in early.json()["detail"]
    await move(clock, users, at(dt.date(2029, 12, 3)))
    first = await _verdict(anon, users, "admin", "QX02001", False, "集体经济仍不足3万元")
    assert first.status_code == 409 and "请乡镇党委先验收" in first.json()["detail"]
    assert (await _verdict(anon, users, "qx01-secretary", "QX02001", True)).status_code == 404
    assert (await _verdict(anon, users, "qx02-liaison", "QX02001", True)).status_code == 403
    assert (await _verdict(anon, users, "qx02-secretary", "QX02", True)).status_code == 403
    nonote = await _verdict(anon, users, "qx02-secretary", "QX02001", False)
    assert nonote.status_code == 422 and "验收不合格须写明原因" in nonote.json()["detail"]
    assert (await _verdict(anon, users, "qx02-secretary", "QX02001", False, "班子仍较弱")).status_code == 201
    assert (await _verdict(anon, users, "county-reviewer", "QX02001", False, "集体经济仍不足3万元")).status_code == 201
    township = await _verdict(anon, users, "admin", "QX02", True)
    assert township.status_code == 409 and "还没有县级验收结论" in township.json()["detail"]
    view = (await anon.get(f"{API}/programmes/1/acceptance", headers=await users("qx02-liaison"))).json()
    assert [t["township"] for t in view["townships"]] == ["QX02"]
    village = view["townships"][0]["villages"][0]
    assert (village["village"], village["status_label"], village["county_verdict"]["note"]) == (
        "QX02001", "验收不合格（继续驻村）", "集体经济仍不足3万元")
    leader = {"code": "QX02-L1", "name": "王建国", "level": "county", "post": "县委常委", "village": "QX02003"}
    moved = await anon.post(f"{API}/leaders", json=leader, headers=await users("admin"))
    assert moved.status_code == 422
    assert "验收不合格，须继续安排" in moved.json()["detail"] and "直至验收合格" in moved.json()["detail"]
    rows = sheet_rows(await anon.get(f"{API}/ledgers/acceptances.xlsx", params={"township": "QX02"},
                                     headers=await users("admin")))
    assert [(r["编码"], r["验收状态"]) for r in rows][:2] == [("QX02", "待验收"), ("QX02001", "验收不合格（继续驻村）")]
    await sign_in(anon, "qx02-secretary")
    assert "验收不合格（继续驻村）" in await page_text(anon, "/programmes/1/acceptance")

    await move(clock, users, at(dt.date(2030, 6, 2)))  # accepted again a year later
    assert (await _verdict(anon, users, "qx02-secretary", "QX02001", True)).status_code == 201
    assert (await _verdict(anon, users, "admin", "QX02001", True)).status_code == 201
    view = (await anon.get(f"{API}/programmes/1/acceptance", headers=await users("admin"))).json()
    assert view["townships"][1]["villages"][0]["status_label"] == "验收合格"
    assert (await anon.post(f"{API}/leaders", json=leader, headers=await users("admin"))).status_code == 200
