"""The stationing programme over HTTP (003_0d1c8490fe7db56e.txt §三(二), §四(五)): programmes, the year's plan
with its checks, the county's review, arrivals and carry-over after a failed acceptance."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import httpx
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from core.clock import FakeClock
from models import OutboxMessage
from tests.support.clock import at
from tests.support.stationing_plan import full_teams, verdict
from tests.support.web import page_text, sign_in

PLAN = "/api/v1/stationing/plans/2025"


async def _programme(client: httpx.AsyncClient, start_year: int = 2025) -> dict[str, Any]:
    created = await client.post("/api/v1/programmes", json={"name": f"{start_year}—{start_year + 2}年驻村", "start_year": start_year})
    assert created.status_code == 201, created.text
    return dict(created.json())


async def _draft(client: httpx.AsyncClient, teams: list[dict[str, Any]], version: int | None = None,
                 path: str = PLAN) -> dict[str, Any]:
    saved = await client.put(path, json={"teams": teams, "version": version})
    assert saved.status_code == 200, saved.text
    return dict(saved.json())


async def _approved(client: httpx.AsyncClient, users: Any, teams: list[dict[str, Any]], path: str = PLAN) -> dict[str, Any]:
    plan = await _draft(client, teams, path=path)
    submitted = await client.post(f"{path}/submit", json={"version": plan["version"]})
    assert submitted.status_code == 200, submitted.text
    approved = await client.post(f"{path}/decision", json={"decision": "approve", "version": submitted.json()["version"]},
                                 headers=await users("county-reviewer"))
    assert approved.status_code == 200, approved.text
    return dict(approved.json())


async def test_a_programme_spans_three_years(client: httpx.AsyncClient, users: Any) -> None:
    programme = await _programme(client)
    assert programme["years"] == 3 and programme["end_year"] == 2027 and programme["status_label"] == "实施中"
    assert [p["year"] for p in programme["plans"]] == [2025, 2026, 2027]
    assert [p["batch"] for p in programme["plans"]] == [1, 2, 3]
    overlap = await client.post("/api/v1/programmes", json={"name": "重叠", "start_year": 2026})
    assert overlap.status_code == 409
    refused = await client.post("/api/v1/programmes", json={"name": "x", "start_year": 2030},
                                headers=await users("county-reviewer"))
    assert refused.status_code == 403
    listed = (await client.get("/api/v1/programmes", headers=await users("qx02-liaison"))).json()
    assert listed["total"] == 1


async def test_submit_lists_every_problem_in_chinese(client: httpx.AsyncClient, demo_county: Engine) -> None:
    await _programme(client)
    teams = full_teams(demo_county, 2025)
    bad = copy.deepcopy(teams)
    small = next(t for t in bad if len(t["cadres"]) == 3)
    small["cadres"] = small["cadres"][:1]
    small["leader"] = small["cadres"][0]
    one = next(t for t in bad if len(t["cadres"]) == 1 and t["unit"] == "QXD02")
    twice = next(t for t in bad if len(t["cadres"]) == 1 and t["unit"] == "QXD03" and t is not one)
    twice["cadres"] = one["cadres"]
    twice["leader"] = one["cadres"][0]
    dropped = [t for t in bad if t["unit"] == "QXD01"][:3]
    bad = [t for t in bad if t not in dropped]
    plan = await _draft(client, bad)
    refused = await client.post(f"{PLAN}/submit", json={"version": plan["version"]})
    assert refused.status_code == 422
    assert refused.headers["content-type"].startswith("application/problem+json")
    messages = [e["message"] for e in refused.json()["errors"]]
    village = next(t for t in plan["teams"] if t["village"] == small["village"])
    assert f"{village['village_name']}工作组应有3名驻村干部（该村集体经济年纯收入{village['collective_income']}元，" \
           f"低于30000元），现有1名" in messages
    assert any("同时在2个工作组，驻村干部同一时间只能在一个工作组" in m for m in messages)
    assert "县委组织部编制35人，应选派在编干部的20%左右（6至8名），现选派4名" in messages
    assert not any(m.startswith("县财政局") for m in messages)  # 8 of 45 is about 20%
    for team in dropped:
        assert any(m.endswith(f"（{team['village']}）还没有驻村工作组") for m in messages)
    assert refused.json()["detail"].startswith(f"2025年选派安排表还有{len(messages)}个问题，请修改后再提交：\n")
    shown = (await client.get(PLAN)).json()
    assert [p["message"] for p in shown["problems"]] == messages and shown["status"] == "draft"


async def test_unknown_codes_are_refused_per_field(client: httpx.AsyncClient) -> None:
    await _programme(client)
    refused = await client.put(PLAN, json={"teams": [{"village": "QX99999", "unit": "QXD01", "cadres": ["NOPE"]}]})
    assert refused.status_code == 422
    assert {e["field"] for e in refused.json()["errors"]} == {"teams[0].village", "teams[0].cadres"}
    assert (await client.get(PLAN)).status_code == 404  # nothing written


async def test_review_return_resubmit_approve_and_arrivals(client: httpx.AsyncClient, users: Any, demo_county: Engine,
                                                           clock: FakeClock) -> None:
    await _programme(client)
    teams = full_teams(demo_county, 2025)
    plan = await _draft(client, teams)
    assert plan["problems"] == [] and plan["batch"] == 1 and plan["arrival_due"] == "2025-01-08"
    stale = await client.put(PLAN, json={"teams": teams, "version": plan["version"] + 5})
    assert stale.status_code == 409
    submitted = (await client.post(f"{PLAN}/submit", json={"version": plan["version"]})).json()
    assert submitted["status_label"] == "待审核"
    own = await client.post(f"{PLAN}/decision", json={"decision": "approve", "version": submitted["version"]})
    assert own.status_code == 403 and "不能审批自己提交的选派安排表" in own.json()["detail"]
    reviewer = await users("county-reviewer")
    no_note = await client.post(f"{PLAN}/decision", json={"decision": "return", "version": submitted["version"]},
                                headers=reviewer)
    assert no_note.status_code == 422
    returned = await client.post(f"{PLAN}/decision", headers=reviewer,
                                 json={"decision": "return", "note": "请核对组长人选", "version": submitted["version"]})
    assert returned.json()["status"] == "returned" and returned.json()["decision_note"] == "请核对组长人选"
    again = await _draft(client, teams, version=returned.json()["version"])
    resubmitted = (await client.post(f"{PLAN}/submit", json={"version": again["version"]})).json()
    approved = (await client.post(f"{PLAN}/decision", headers=reviewer,
                                  json={"decision": "approve", "version": resubmitted["version"]})).json()
    assert approved["status_label"] == "已批准"
    assert (await client.put(PLAN, json={"teams": teams, "version": approved["version"]})).status_code == 409
    with Session(demo_county) as s:
        subjects = [m.subject for m in s.exec(select(OutboxMessage))]
    assert any("【待审核】" in x and "2025年驻村干部选派安排表" in x for x in subjects)
    assert any("【退回修改】" in x for x in subjects) and any("【终审通过】" in x for x in subjects)

    qx02 = next(t for t in approved["teams"] if t["township"] == "QX02")
    liaison = await users("qx02-liaison")
    on_time = await client.post(f"{PLAN}/arrivals", headers=liaison,
                                json={"cadre": qx02["members"][0]["cadre"], "arrived_on": "2025-01-02"})
    assert on_time.status_code == 200, on_time.text
    future = await client.post(f"{PLAN}/arrivals", headers=liaison,
                               json={"cadre": qx02["members"][0]["cadre"], "arrived_on": "2025-01-03"})
    assert future.status_code == 422 and "不能晚于今天" in future.json()["detail"]
    clock.set(at(dt.date(2025, 1, 14)))
    liaison = await users("qx02-liaison")
    late_cadre = qx02["members"][-1]["cadre"] if len(qx02["members"]) > 1 else None
    other = next(t for t in approved["teams"] if t["township"] == "QX02" and t is not qx02)
    late_cadre = late_cadre or other["members"][0]["cadre"]
    late = await client.post(f"{PLAN}/arrivals", headers=liaison, json={"cadre": late_cadre, "arrived_on": "2025-01-13"})
    assert late.status_code == 200
    mine = late.json()
    assert {t["township"] for t in mine["teams"]} == {"QX02"} and mine["units"] == []
    members = {m["cadre"]: m for t in mine["teams"] for m in t["members"]}
    assert members[qx02["members"][0]["cadre"]]["arrival_label"] == "按时到位"
    assert members[late_cadre]["late"] and members[late_cadre]["arrival_label"] == "迟到5天"
    outsider = await client.post(f"{PLAN}/arrivals", headers=await users("qx01-liaison"),
                                 json={"cadre": late_cadre, "arrived_on": "2025-01-13"})
    assert outsider.status_code == 404
    left = await client.post(f"{PLAN}/departures", headers=liaison,
                             json={"cadre": late_cadre, "left_on": "2025-01-14", "reason": "调回原单位"})
    assert left.status_code == 200


async def test_ledger_rows_are_the_api_rows(client: httpx.AsyncClient, users: Any, demo_county: Engine) -> None:
    import io

    from openpyxl import load_workbook

    await _programme(client)
    await _approved(client, users, full_teams(demo_county, 2025))
    liaison = await users("qx02-liaison")
    rows = (await client.get(f"{PLAN}/rows", headers=liaison)).json()["items"]
    assert rows and {r["township"] for r in rows} == {"柳河乡"}
    book = await client.get("/api/v1/ledgers/stationing-plan.xlsx", params={"year": 2025}, headers=liaison)
    assert book.status_code == 200, book.text
    sheet = load_workbook(io.BytesIO(book.content)).active
    values = list(sheet.iter_rows(values_only=True))
    header = values[0]
    assert header[:3] == ("序号", "乡镇", "村") and "集体经济年纯收入（元）" in header
    body = [r for r in values[1:] if r[0] is not None]
    assert [r[2] for r in body] == [r["village"] for r in rows]
    assert [r[8] for r in body] == [r["cadres"] for r in rows]


async def test_a_village_failing_acceptance_is_carried_after_the_programme(
        client: httpx.AsyncClient, users: Any, demo_county: Engine) -> None:
    await _programme(client)
    verdict(demo_county, 2025, "QX02001", 2027, passed=False)
    verdict(demo_county, 2025, "QX02002", 2027, passed=True)
    path = "/api/v1/stationing/plans/2028"
    empty = await _draft(client, [], path=path)
    refused = await client.post(f"{path}/submit", json={"version": empty["version"]})
    messages = [e["message"] for e in refused.json()["errors"]]
    assert len(messages) == 1  # the carried village; after the programme the units' shares no longer apply
    assert "2027年县级验收未通过（集体经济未达标），须继续派驻工作组直至验收合格" in messages[0]
    assert "QX02001" in messages[0]
    team = next(t for t in full_teams(demo_county, 2028) if t["village"] == "QX02001")
    assert len(team["cadres"]) == 3  # a carried village is weak: a team of three
    verdict(demo_county, 2025, "QX02001", 2028, passed=True)
    passed = await client.get("/api/v1/stationing/plans/2029")
    assert passed.status_code == 404


async def test_pages_render_for_admin_and_liaison(client: httpx.AsyncClient, users: Any, demo_county: Engine) -> None:
    await _programme(client)
    await _approved(client, users, full_teams(demo_county, 2025))
    client.headers.pop("Authorization")
    await sign_in(client, "admin", "/stationing/2025")
    assert "2025—2027年驻村" in await page_text(client, "/stationing")
    admin = await page_text(client, "/stationing/2025")
    assert "派出单位选派情况" in admin and "登记到位" in admin
    await sign_in(client, "qx02-liaison", "/stationing/2025")
    liaison = await page_text(client, "/stationing/2025")
    assert "柳河乡" in liaison and "青石镇" not in liaison and "登记到位" in liaison
