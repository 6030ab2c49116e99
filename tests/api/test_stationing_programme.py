"""A three-year stationing programme walked through the public API on a virtual clock
(003_0d1c8490fe7db56e.txt): the first year's plan refused for a team of the wrong size and approved once fixed, the
cadres' arrival, diaries, a county leader escalated to the county for two visits in a half-year, a cadre's 工作鉴定,
a unit that did not send all its cadres downgraded, two more yearly plans, the graded acceptance at the end, and a
village that failed it carried into the next plan until it passes."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import Engine

from api.routes import campaigns as campaigns_routes
from core.clock import FakeClock
from tests.support.clock import at
from tests.support.review_chain import move
from tests.support.stationing_plan import full_teams
from tests.support.tick import tick
from tests.support.world import launch_without_prefect

API = "/api/v1"
CARRIED = "QX02001"


async def _plan(c: httpx.AsyncClient, users: Any, year: int, teams: list[dict[str, Any]],
                programme: int) -> httpx.Response:
    """Draft ``year``'s plan as the 基层办's administrator and submit it; the submission's answer."""
    path = f"{API}/stationing/plans/{year}"
    current = await c.get(path, headers=await users("admin"))
    version = current.json()["version"] if current.status_code == 200 else None
    saved = await c.put(path, json={"programme": programme, "teams": teams, "version": version},
                        headers=await users("admin"))
    assert saved.status_code == 200, saved.text
    return await c.post(f"{path}/submit", json={"version": saved.json()["version"]}, headers=await users("admin"))


async def _approve(c: httpx.AsyncClient, users: Any, year: int, submitted: httpx.Response) -> None:
    assert submitted.status_code == 200, submitted.text
    decided = await c.post(f"{API}/stationing/plans/{year}/decision", headers=await users("county-reviewer"),
                           json={"decision": "approve", "version": submitted.json()["version"]})
    assert decided.status_code == 200, decided.text


async def _verdict(c: httpx.AsyncClient, users: Any, programme: int, who: str, village: str, passed: bool,
                   note: str | None = None) -> None:
    given = await c.post(f"{API}/programmes/{programme}/acceptances", headers=await users(who),
                         json={"subject": village, "passed": passed, "note": note})
    assert given.status_code == 201, given.text


async def _first_year(c: httpx.AsyncClient, users: Any, clock: FakeClock, engine: Engine, programme: int) -> str:
    """2025: a plan with a team too small is refused, the fixed plan approved, every cadre but one of 县委组织部
    on site by 8 January; the QX02 cadre who keeps a diary (returned)."""
    teams = full_teams(engine, 2025)
    small = copy.deepcopy(teams)
    weak = next(t for t in small if len(t["cadres"]) == 3)
    weak["cadres"] = weak["cadres"][:1]
    weak["leader"] = weak["cadres"][0]
    refused = await _plan(c, users, 2025, small, programme)
    assert refused.status_code == 422
    assert any("工作组应有3名驻村干部" in e["message"] and "现有1名" in e["message"] for e in refused.json()["errors"])
    await _approve(c, users, 2025, await _plan(c, users, 2025, teams, programme))
    await move(clock, users, at(dt.date(2025, 1, 7)))
    absent = next(t["cadres"][0] for t in teams if t["unit"] == "QXD01")
    for team in teams:
        for cadre in team["cadres"]:
            if cadre != absent:
                arrived = await c.post(f"{API}/stationing/plans/2025/arrivals", headers=await users("admin"),
                                       json={"cadre": cadre, "arrived_on": "2025-01-06"})
                assert arrived.status_code == 200, arrived.text
    return next(t["cadres"][0] for t in teams if t["village"].startswith("QX02"))


async def _records(c: httpx.AsyncClient, users: Any, clock: FakeClock, engine: Engine, cadre: str) -> None:
    """Spring and summer 2025: a diary entry, two visits of QX02's county leader, and the tick after 30 June."""
    await move(clock, users, at(dt.date(2025, 5, 20)))
    entry = await c.post(f"{API}/diaries", headers=await users("qx02-liaison"), json={
        "cadre": cadre, "entry_date": "2025-03-12", "place": "村党群服务中心", "work": "召开党员大会，讨论村集体茶园承包方案",
        "help_given": "联系县农业农村局技术员指导茶园改造", "results": "形成承包方案，提交村民代表会议表决"})
    assert entry.status_code == 201, entry.text
    for day in ("2025-02-18", "2025-04-22"):
        visit = await c.post(f"{API}/leader-visits", headers=await users("admin"),
                             json={"leader": "QX02-L1", "visited_on": day, "purpose": "调研村集体经济发展"})
        assert visit.status_code == 201, visit.text
    tick(engine, at(dt.date(2025, 7, 1)))
    await move(clock, users, at(dt.date(2025, 7, 2)))
    found = (await c.get(f"{API}/escalations", params={"trigger": "leader_visits"}, headers=await users("admin"))).json()
    assert [(e["township"], e["level"]) for e in found["items"]] == [("QX02", 1)]
    assert "2025年上半年到挂钩联系点2次，少于3次" in found["items"][0]["reason"]
    township = (await c.get(f"{API}/escalations", params={"trigger": "leader_visits"},
                            headers=await users("qx01-liaison"))).json()
    assert township["total"] == 0


async def _year_end(c: httpx.AsyncClient, users: Any, clock: FakeClock, cadre: str) -> None:
    """December 2025: the township drafts the cadre's 工作鉴定 and the Organisation Department approves it; 县委组织部,
    one of whose cadres never arrived, is downgraded from 良好 to 合格; 县农业农村局 keeps its 良好."""
    await move(clock, users, at(dt.date(2025, 12, 10)))
    url = f"{API}/cadre-assessments/{cadre}/2025"
    drafted = await c.put(url, headers=await users("qx02-secretary"),
                          json={"appraisal": "吃住在村，推动茶园承包，群众评价好", "grade": "excellent"})
    assert drafted.status_code == 200, drafted.text
    submitted = await c.post(f"{url}/submit", json={"version": 1}, headers=await users("qx02-secretary"))
    approved = await c.post(f"{url}/decision", headers=await users("admin"),
                            json={"decision": "approve", "version": submitted.json()["version"]})
    assert approved.json()["status_label"] == "已审定"
    record = (await c.get(f"{API}/cadres/{cadre}/record", headers=await users("admin"))).json()
    assert [(a["year"], a["grade_label"]) for a in record["appraisals"]] == [(2025, "优秀")]
    for unit in ("QXD01", "QXD02"):
        rated = await c.put(f"{API}/unit-assessments/{unit}/2025", json={"proposed_rating": "good"},
                            headers=await users("admin"))
        assert rated.status_code == 200, rated.text
    consequences = (await c.get(f"{API}/ratings/consequences", params={"year": 2025}, headers=await users("admin"))).json()
    assert [(u["unit"], u["final_label"]) for u in consequences["units"]] == [("QXD01", "合格")]
    units = (await c.get(f"{API}/unit-assessments", params={"year": 2025}, headers=await users("admin"))).json()["items"]
    assert [(u["unit"], u["final_label"], u["downgraded"]) for u in units] == [("QXD01", "合格", True),
                                                                            ("QXD02", "良好", False)]


async def test_a_three_year_programme_carries_a_failing_village_until_it_passes(
        anon: httpx.AsyncClient, users: Any, clock: FakeClock, demo_county: Engine,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(campaigns_routes, "launch_campaign", launch_without_prefect)
    c = anon
    launched = await c.post(f"{API}/campaigns", headers=await users("admin"),
                            json={"definition": "cadres_in_villages", "township": "QX02", "year": 2025})
    assert launched.status_code == 201, launched.text
    created = await c.post(f"{API}/programmes", json={"name": "2025—2027年干部下基层驻农村", "start_year": 2025},
                           headers=await users("admin"))
    programme = created.json()["id"]

    cadre = await _first_year(c, users, clock, demo_county, programme)
    await _records(c, users, clock, demo_county, cadre)
    await _year_end(c, users, clock, cadre)
    for year in (2026, 2027):  # a plan a year (一年一轮换)
        await move(clock, users, at(dt.date(year, 1, 2)))
        await _approve(c, users, year, await _plan(c, users, year, full_teams(demo_county, year), programme))

    await move(clock, users, at(dt.date(2027, 12, 6)))  # 三年一验收
    await _verdict(c, users, programme, "qx02-secretary", CARRIED, False, "集体经济年纯收入仍不足3万元")
    await _verdict(c, users, programme, "county-reviewer", CARRIED, False, "集体经济年纯收入仍不足3万元")
    await _verdict(c, users, programme, "qx02-secretary", "QX02002", True)
    await _verdict(c, users, programme, "county-reviewer", "QX02002", True)

    await move(clock, users, at(dt.date(2028, 1, 3)))
    status = (await c.get(f"{API}/programmes/{programme}", headers=await users("admin"))).json()
    assert status["status_label"] == "验收未通过村继续派驻"
    without = await _plan(c, users, 2028, [], programme)
    assert without.status_code == 422
    assert [e["message"] for e in without.json()["errors"]] == [next(
        e["message"] for e in without.json()["errors"] if CARRIED in e["message"])]
    assert "须继续派驻工作组直至验收合格" in without.json()["errors"][0]["message"]
    kept = [t for t in full_teams(demo_county, 2028) if t["village"] == CARRIED]
    assert len(kept[0]["cadres"]) == 3  # a carried village counts as weak: a team of three
    await _approve(c, users, 2028, await _plan(c, users, 2028, kept, programme))
    leader = {"code": "QX02-L1", "name": "王建国", "level": "county", "post": "县委常委", "village": "QX02003"}
    assert (await c.post(f"{API}/leaders", json=leader, headers=await users("admin"))).status_code == 422

    await move(clock, users, at(dt.date(2028, 12, 5)))  # accepted again, and it passes
    await _verdict(c, users, programme, "qx02-secretary", CARRIED, True)
    await _verdict(c, users, programme, "admin", CARRIED, True)
    view = (await c.get(f"{API}/programmes/{programme}/acceptance", headers=await users("admin"))).json()
    villages = {v["village"]: v["status_label"] for t in view["townships"] for v in t["villages"]}
    assert (villages[CARRIED], villages["QX02002"]) == ("验收合格", "验收合格")
    await move(clock, users, at(dt.date(2029, 1, 3)))
    assert (await c.get(f"{API}/programmes/{programme}", headers=await users("admin"))).json()["status_label"] == "已结束"
    assert (await _plan(c, users, 2029, [], programme)).status_code == 200  # nothing is carried any more
    assert (await c.post(f"{API}/leaders", json=leader, headers=await users("admin"))).status_code == 200
