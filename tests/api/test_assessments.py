"""The year-end assessment (年度考核) per township, through the API, its pages and its Excel ledger: every target of
the township's campaigns of the year with the value and the evidence, the escalations and accountability cases of
those campaigns, the rating consequence a decided case carries, the (still empty) gate-check overrides; county
roles see every township, a township its own, an observer its contact townships."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import Engine

from core.clock import FakeClock
from tests.support.clock import at, days
from tests.support.review_chain import API, Users, move
from tests.support.targets import cadres_year, launched
from tests.support.tick import tick_days
from tests.support.web import page_text, sign_in
from tests.support.workbooks import sheet_rows


async def assessed_year(c: httpx.AsyncClient, users: Users, clock: FakeClock, engine: Engine) -> dict[str, Any]:
    """QX01's 2025: the cadres were not reported on site by 8 January (催办 → 督办 → 通报, which opens a case the
    county decides as a rating downgrade for 2025); the leader visited 4 and 2 times; the annual summary reports
    75% cross-appointment. A five-good campaign of 2025 has no figures yet. The decided case."""
    cadres = await launched(c, users, clock, "cadres_in_villages", 2025)
    await launched(c, users, clock, "five_good_model_site", 2025)
    tick_days(engine, days(dt.date(2025, 1, 9), dt.date(2025, 1, 24)))
    await move(clock, users, at(dt.date(2025, 1, 27)))
    admin = await users("admin")
    [case] = (await c.get(f"{API}/cases", headers=admin)).json()["items"]
    r = await c.post(f"{API}/cases/{case['id']}/decision", headers=admin, json={
        "decision": "rating_downgrade", "note": "未按时完成选派驻村干部任务，当年度不得评定优秀、良好", "rating_year": 2025,
        "version": case["version"]})
    assert r.status_code == 200, r.text
    await cadres_year(c, users, clock, 2025, visits=(4, 2), campaign=cadres, summary={"cross_appointment_rate": 75})
    return dict(r.json())


async def test_a_townships_assessment_lists_targets_escalations_cases_and_the_rating_cap(
        anon: httpx.AsyncClient, users: Users, clock: FakeClock, demo_county: Engine) -> None:
    case = await assessed_year(anon, users, clock, demo_county)
    r = await anon.get(f"{API}/assessments/QX01/2025", headers=await users("qx01-secretary"))
    assert r.status_code == 200, r.text
    a = r.json()
    assert (a["township"], a["township_name"], a["year"]) == ("QX01", "青石镇", 2025)
    assert [c["definition_name"] for c in a["campaigns"]] == ["干部下基层驻农村", "五好党建示范点创建"]
    cadres = {t["key"]: t for t in a["campaigns"][0]["targets"]}
    assert (cadres["leader_visits"]["status_label"], cadres["leader_visits"]["shortfalls"]) == ("未达标", ["赵建国2025年下半年：2次"])
    assert (cadres["cross_appointment"]["status_label"], cadres["cross_appointment"]["value"]) == ("达标", "75%")
    assert cadres["secretary_is_chair"]["status_label"] == "无数据"
    five_good = a["campaigns"][1]
    assert five_good["counts"] == {"met": 0, "not_met": 0, "no_data": 13, "unset": 1}
    assert sorted(k for k, t in cadres.items() if t["status"] == "not_met") == ["collective_income", "leader_visits"]
    assert a["counts"] == {"met": 1, "not_met": 2, "no_data": 4 + 13, "unset": 1}
    assert [(e["level_name"], e["trigger_label"]) for e in a["escalations"]] == \
        [("催办", "逾期未报"), ("督办", "逾期未报"), ("通报批评（年度考核降级处理）", "逾期未报")]
    [listed_case] = a["cases"]
    assert (listed_case["id"], listed_case["decision_label"], listed_case["rating_effect_label"]) == \
        (case["id"], "不得评定优秀、良好", "不得评定为优秀、良好等次")
    assert a["rating"] == {"cap": "not_excellent_or_good", "cap_label": "不得评定为优秀、良好等次",
                           "cases": [{"id": case["id"], "decision": "rating_downgrade",
                                      "rating_effect": "not_excellent_or_good"}]}
    assert a["overrides"] == []  # the gate checks record none yet


async def test_the_years_list_keeps_to_each_callers_townships(
        anon: httpx.AsyncClient, users: Users, clock: FakeClock, demo_county: Engine) -> None:
    await assessed_year(anon, users, clock, demo_county)
    seen = {}
    for who in ("admin", "county-reviewer", "observer", "qx01-liaison", "qx02-secretary"):
        r = await anon.get(f"{API}/assessments", params={"year": 2025}, headers=await users(who))
        assert r.status_code == 200, (who, r.text)
        seen[who] = {item["township"]: item for item in r.json()["items"]}
    assert len(seen["admin"]) == len(seen["county-reviewer"]) == 12
    assert sorted(seen["observer"]) == ["QX01", "QX02"]
    assert sorted(seen["qx01-liaison"]) == ["QX01"] and sorted(seen["qx02-secretary"]) == ["QX02"]
    qx01 = seen["admin"]["QX01"]
    assert (qx01["campaigns"], qx01["escalations"], qx01["cases"], qx01["rating_cap"], qx01["overrides"]) == \
        (["干部下基层驻农村", "五好党建示范点创建"], 3, 1, "不得评定为优秀、良好等次", 0)
    assert seen["admin"]["QX02"]["counts"] == {"met": 0, "not_met": 0, "no_data": 0, "unset": 0}


@pytest.mark.parametrize(("who", "path"), [("qx02-liaison", "QX01/2025"), ("qx01-liaison", "QX02/2025"),
                                           ("admin", "QX99/2025"), ("observer", "QX03/2025")])
async def test_another_or_an_unknown_township_answers_404_alike(
        anon: httpx.AsyncClient, users: Users, demo_county: Engine, who: str, path: str) -> None:
    r = await anon.get(f"{API}/assessments/{path}", headers=await users(who))
    assert r.status_code == 404, r.text
    assert r.json()["detail"] == f"没有编码为 {path.split('/')[0]} 的乡镇"


async def test_a_year_out_of_range_or_missing_is_refused(anon: httpx.AsyncClient, users: Users, demo_county: Engine) -> None:
    admin = await users("admin")
    assert (await anon.get(f"{API}/assessments/QX01/1999", headers=admin)).status_code == 422
    missing = await anon.get(f"{API}/assessments", headers=admin)
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"] == "year"
    assert (await anon.get(f"{API}/assessments", params={"year": 2025})).status_code == 401


async def test_the_assessment_pages(anon: httpx.AsyncClient, users: Users, clock: FakeClock, demo_county: Engine) -> None:
    await assessed_year(anon, users, clock, demo_county)
    await sign_in(anon, "observer")
    listing = await page_text(anon, "/assessments", year=2025)
    assert '<a href="/assessments/QX01/2025">青石镇</a>' in listing and "白沙镇" not in listing
    text = await page_text(anon, "/assessments/QX01/2025")
    assert "<h1>青石镇 · 2025年度考核</h1>" in text
    assert "考核影响：不得评定为优秀、良好等次" in text
    assert '<td>县领导到挂钩联系点次数</td><td>全乡镇 ≥ 3次</td><td>赵建国2025年上半年：4次；赵建国2025年下半年：2次</td>' in text
    assert "没有越过审核项的记录。" in text
    assert (await anon.get("/assessments/QX03/2025")).status_code == 404


async def test_the_assessment_ledger_holds_the_rows_of_the_callers_townships(
        anon: httpx.AsyncClient, users: Users, clock: FakeClock, demo_county: Engine) -> None:
    await assessed_year(anon, users, clock, demo_county)
    r = await anon.get(f"{API}/ledgers/assessments.xlsx", params={"year": 2025}, headers=await users("qx01-liaison"))
    assert r.status_code == 200, r.text
    assert "%E5%B9%B4%E5%BA%A6%E8%80%83%E6%A0%B8-2025.xlsx" in r.headers["content-disposition"]  # 年度考核-2025
    rows = sheet_rows(r)
    assert {row["乡镇"] for row in rows} == {"青石镇"}
    assert [row["类别"] for row in rows].count("目标") == 7 + 14
    visits = next(row for row in rows if row["事项"] == "县领导到挂钩联系点次数")
    assert (visits["要求"], visits["实际"], visits["结论"], visits["未达到的"], visits["出处"]) == \
        ("全乡镇 ≥ 3次", "赵建国2025年上半年：4次；赵建国2025年下半年：2次", "未达标", "赵建国2025年下半年：2次", "003_0d1c8490fe7db56e.txt §三(一)")
    assert visits["依据"] == "领导到点记录：赵建国2025年上半年到点4次；领导到点记录：赵建国2025年下半年到点2次"
    assert [row["类别"] for row in rows if row["类别"] != "目标"] == ["督办", "督办", "督办", "问责", "考核影响"]
    assert next(row for row in rows if row["类别"] == "考核影响")["事项"] == "不得评定为优秀、良好等次"
    other = await anon.get(f"{API}/ledgers/assessments.xlsx", params={"township": "QX01", "year": 2025},
                           headers=await users("qx02-liaison"))
    assert sheet_rows(other) == []
    refused = await anon.get(f"{API}/ledgers/assessments.xlsx", params={"status": "open"}, headers=await users("admin"))
    assert refused.status_code == 422
    assert refused.json()["detail"] == "“年度考核”台账不支持筛选条件 status；可用：township、year"
