"""Work records over HTTP (003 §三(一), §四(三)(六)): the 《工作日记》 of cadres of the approved plan, teams'
monthly records, leaders' visits with the half-year's count, quarterly reports of townships and dispatching units
to the 基层办 with their review and who is late, and the ledgers holding the API's rows."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
from sqlalchemy.engine import Engine

from core.clock import FakeClock
from tests.support.clock import at
from tests.support.review_chain import API, Users, move
from tests.support.stationing import approved_plan
from tests.support.web import page_text, sign_in
from tests.support.work_records import record_visits, submitted_report, write_diary
from tests.support.workbooks import sheet_rows


def plan_2025(engine: Engine) -> None:
    """QX02001 gets a team of three sent by 县农业农村局 (on site 6 January); QX01001 one of 青石镇's cadres who
    has not arrived."""
    approved_plan(engine, 2025, {"QX02001": ("QXD02", ["QXD02-01", "QXD02-02", "QXD02-03"])},
                  arrived_on=dt.date(2025, 1, 6))
    approved_plan(engine, 2026, {"QX01001": ("QX01", ["QX01-C1"])})


async def test_a_diary_entry_is_kept_for_a_cadre_of_the_approved_plan_on_a_day_on_site(
        anon: httpx.AsyncClient, users: Users, clock: FakeClock, demo_county: Engine) -> None:
    plan_2025(demo_county)
    await move(clock, users, at(dt.date(2025, 3, 10)))
    ok = await write_diary(anon, users, "QXD02-01", dt.date(2025, 3, 9), who="qx02-liaison")
    assert ok.status_code == 201, ok.text
    assert ok.json() | {"id": 0} == {
        "id": 0, "entry_date": "2025-03-09", "township": "QX02", "township_name": "柳河乡", "village": "QX02001",
        "village_name": ok.json()["village_name"], "cadre": "QXD02-01", "cadre_name": ok.json()["cadre_name"],
        "unit": "QXD02", "unit_name": "县农业农村局", "place": "村委会", "work": "走访困难党员户，了解生产生活情况",
        "help_given": "协调落实临时救助", "results": "解决2户实际困难"}
    refused = {
        "future": (await write_diary(anon, users, "QXD02-01", dt.date(2025, 3, 11)), 422, "晚于今天"),
        "before arrival": (await write_diary(anon, users, "QXD02-01", dt.date(2025, 1, 5)), 422, "早于该驻村干部到岗日期"),
        "not in the plan": (await write_diary(anon, users, "QXD02-04", dt.date(2025, 3, 9)), 422, "不在2025年已批准的选派安排表中"),
        "other township": (await write_diary(anon, users, "QXD02-01", dt.date(2025, 3, 9), who="qx01-liaison"), 403, "联络员"),
        "reviewer": (await write_diary(anon, users, "QXD02-01", dt.date(2025, 3, 9), who="qx02-secretary"), 403, "角色"),
    }
    for what, (r, status, words) in refused.items():
        assert r.status_code == status, (what, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert words in r.json()["detail"], (what, r.json()["detail"])
    listed = (await anon.get(f"{API}/diaries", params={"cadre": "QXD02-01"}, headers=await users("qx02-secretary"))).json()
    assert [e["entry_date"] for e in listed["items"]] == ["2025-03-09"]
    assert (await anon.get(f"{API}/diaries", headers=await users("qx01-liaison"))).json()["total"] == 0
    window = await anon.get(f"{API}/diaries", params={"from": "2025-03-10", "to": "2025-03-31"}, headers=await users("admin"))
    assert window.json()["total"] == 0
    audit = (await anon.get(f"{API}/audit", params={"limit": 1000}, headers=await users("admin"))).json()["items"]
    assert [e["action"] for e in audit].count("diary.add") == 1


async def test_a_cadre_not_yet_arrived_keeps_no_diary(
        anon: httpx.AsyncClient, users: Users, clock: FakeClock, demo_county: Engine) -> None:
    plan_2025(demo_county)
    await move(clock, users, at(dt.date(2026, 2, 2)))
    r = await write_diary(anon, users, "QX01-C1", dt.date(2026, 2, 1), who="qx01-liaison")
    assert r.status_code == 422 and "尚未登记到岗日期" in r.json()["detail"]


async def test_a_teams_monthly_record_is_versioned(
        anon: httpx.AsyncClient, users: Users, clock: FakeClock, demo_county: Engine) -> None:
    plan_2025(demo_county)
    await move(clock, users, at(dt.date(2025, 3, 28)))
    liaison = await users("qx02-liaison")
    url = f"{API}/teams/QX02001/2025/3"
    first = await anon.put(url, headers=liaison, json={"work": "组织党员学习", "problems_solved": "修好灌溉渠"})
    assert first.status_code == 200, first.text
    assert (first.json()["version"], first.json()["work"]) == (1, "组织党员学习")
    again = await anon.put(url, headers=liaison, json={"work": "组织党员学习两次", "version": 1})
    assert again.json()["version"] == 2
    stale = await anon.put(url, headers=liaison, json={"work": "覆盖", "version": 1})
    assert stale.status_code == 409
    ahead = await anon.put(f"{API}/teams/QX02001/2025/4", headers=liaison, json={"work": "预先填写"})
    assert ahead.status_code == 422 and "尚未开始" in ahead.json()["detail"]
    no_team = await anon.put(f"{API}/teams/QX02002/2025/3", headers=liaison, json={"work": "无工作组"})
    assert no_team.status_code == 422 and "没有驻村工作组" in no_team.json()["detail"]
    outsider = await anon.put(url, headers=await users("qx01-liaison"), json={"work": "越权"})
    assert outsider.status_code == 404
    listed = (await anon.get(f"{API}/teams/monthly", params={"year": 2025}, headers=await users("observer"))).json()
    assert [(r["village"], r["month"], r["work"]) for r in listed["items"]] == [("QX02001", 3, "组织党员学习两次")]


async def test_leaders_visits_are_recorded_for_their_contact_village_with_the_half_years_count(
        anon: httpx.AsyncClient, users: Users, clock: FakeClock, demo_county: Engine) -> None:
    await move(clock, users, at(dt.date(2025, 7, 10)))
    await record_visits(anon, users, "QX02-L1", [dt.date(2025, 2, 1), dt.date(2025, 5, 3)], who="qx02-liaison")
    await record_visits(anon, users, "QX02-L1", [dt.date(2025, 7, 2)])
    visits = (await anon.get(f"{API}/leader-visits", params={"leader": "QX02-L1"}, headers=await users("admin"))).json()
    assert [(v["visited_on"], v["village"], v["half_year"], v["half_year_visits"]) for v in visits["items"]] == [
        ("2025-07-02", "QX02001", "2025年下半年", 1), ("2025-05-03", "QX02001", "2025年上半年", 2),
        ("2025-02-01", "QX02001", "2025年上半年", 2)]
    future = await anon.post(f"{API}/leader-visits", headers=await users("admin"),
                             json={"leader": "QX02-L1", "visited_on": "2025-07-11", "purpose": "调研"})
    assert future.status_code == 422 and "只能登记已经进行的" in future.json()["detail"]
    other = await anon.post(f"{API}/leader-visits", headers=await users("qx01-liaison"),
                            json={"leader": "QX02-L1", "visited_on": "2025-07-01", "purpose": "调研"})
    assert other.status_code == 403
    assert (await anon.get(f"{API}/leader-visits", headers=await users("qx01-secretary"))).json()["total"] == 0
    ledger = sheet_rows(await anon.get(f"{API}/ledgers/leader-visits.xlsx", params={"year": 2025},
                                       headers=await users("admin")))
    assert [(r["联系村"], r["日期"], r["半年次数"]) for r in ledger] == \
        [(v["village_name"], v["visited_on"], v["half_year_visits"]) for v in visits["items"]]
    assert list(ledger[0]) == ["领导", "职务", "乡镇", "联系村", "日期", "调研指导内容", "半年", "半年次数"]


async def test_quarterly_reports_of_townships_and_units_carry_the_records_counts_and_are_reviewed(
        anon: httpx.AsyncClient, users: Users, clock: FakeClock, demo_county: Engine) -> None:
    plan_2025(demo_county)
    await move(clock, users, at(dt.date(2025, 3, 25)))
    assert (await write_diary(anon, users, "QXD02-01", dt.date(2025, 3, 9))).status_code == 201
    assert (await write_diary(anon, users, "QXD02-02", dt.date(2025, 3, 10))).status_code == 201
    await record_visits(anon, users, "QX02-L1", [dt.date(2025, 3, 3)])
    unit = await submitted_report(anon, users, "QXD02", 2025, 1)
    town = await submitted_report(anon, users, "QX02", 2025, 1)
    admin = await users("admin")
    listed = (await anon.get(f"{API}/unit-reports", params={"year": 2025, "quarter": 1}, headers=admin)).json()
    by_unit = {r["unit"]: r for r in listed["items"]}
    assert by_unit["QXD02"]["counts"] == {"cadres_stationed": 3, "cadres_arrived": 3, "diary_entries": 2,
                                          "monthly_records": 0}
    assert by_unit["QX02"]["counts"] == {"cadres_stationed": 3, "cadres_arrived": 3, "diary_entries": 2,
                                         "monthly_records": 0, "leader_visits": 1}
    assert listed["deadline"]["due_on"] == "2025-03-20"
    late = {u["unit"] for u in listed["deadline"]["overdue"]}
    assert "QXD01" in late and "QX01" in late and not {"QXD02", "QX02"} & late
    twice = await anon.post(f"{API}/unit-reports", headers=await users("qxd02-liaison"), json={
        "unit": "QXD02", "year": 2025, "quarter": 1, "progress": "再报一次"})
    assert twice.status_code == 409
    foreign = await anon.post(f"{API}/unit-reports", headers=await users("qxd02-liaison"), json={
        "unit": "QXD03", "year": 2025, "quarter": 1, "progress": "代报"})
    assert foreign.status_code == 403
    mine = (await anon.get(f"{API}/unit-reports", headers=await users("qxd02-liaison"))).json()
    assert [r["unit"] for r in mine["items"]] == ["QXD02"]
    returned = await anon.post(f"{API}/unit-reports/{unit}/review", headers=admin,
                               json={"decision": "return", "note": "请补充帮扶项目进展", "version": 1})
    assert returned.status_code == 200 and returned.json()["status_label"] == "已退回"
    again = await anon.post(f"{API}/unit-reports", headers=await users("qxd02-liaison"), json={
        "unit": "QXD02", "year": 2025, "quarter": 1, "progress": "补充了帮扶项目进展", "version": 2})
    assert again.status_code == 201 and again.json()["status"] == "submitted"
    by_liaison = await anon.post(f"{API}/unit-reports/{town}/review", headers=await users("qx02-liaison"),
                                 json={"decision": "accept", "version": 1})
    assert by_liaison.status_code == 403
    accepted = await anon.post(f"{API}/unit-reports/{town}/review", headers=await users("county-reviewer"),
                               json={"decision": "accept", "version": 1})
    assert accepted.json()["status_label"] == "已采纳"
    ledger = sheet_rows(await anon.get(f"{API}/ledgers/unit-reports.xlsx", params={"year": 2025}, headers=admin))
    everything = (await anon.get(f"{API}/unit-reports", params={"year": 2025}, headers=admin)).json()["items"]
    assert [(r["单位"], r["状态"], r["记录统计"]) for r in ledger] == \
        [(r["unit_name"], r["status_label"], r["counts_text"]) for r in everything]


async def test_the_diary_ledger_and_pages_show_the_api_rows(
        anon: httpx.AsyncClient, users: Users, clock: FakeClock, demo_county: Engine) -> None:
    plan_2025(demo_county)
    await move(clock, users, at(dt.date(2025, 3, 25)))
    for day in (3, 4):
        assert (await write_diary(anon, users, "QXD02-03", dt.date(2025, 3, day))).status_code == 201
    api: list[dict[str, Any]] = (await anon.get(f"{API}/diaries", headers=await users("qx02-liaison"))).json()["items"]
    ledger = sheet_rows(await anon.get(f"{API}/ledgers/diaries.xlsx", headers=await users("qx02-liaison")))
    assert list(ledger[0]) == ["日期", "乡镇", "村", "驻村干部", "派出单位", "地点", "工作内容", "帮扶措施", "工作成效"]
    assert [(r["日期"], r["驻村干部"]) for r in ledger] == [(e["entry_date"], e["cadre_name"]) for e in api]
    await sign_in(anon, "qx02-liaison")
    text = await page_text(anon, "/diaries")
    assert "驻村工作日记" in text and "记一篇日记" in text and api[0]["cadre_name"] in text
    assert "走访困难党员户" in (await page_text(anon, "/diaries"))
    assert "领导挂点到村情况" in await page_text(anon, "/leader-visits")
    assert "逾期未报" in await page_text(anon, "/unit-reports")
