"""Ledgers (台账) over HTTP: every Excel export holds exactly the rows of the matching JSON list for the same
user and filters; imports of the org hierarchy and of 一村一策 plans report bad rows and write nothing;
permissions; the /ledgers page."""

from __future__ import annotations

import datetime as dt
import io
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from openpyxl import load_workbook
from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from core.clock import CHINA_TZ, FakeClock
from core.db import get_engine
from domain.vocabulary import CampaignStatus, ObligationStatus, RectificationStatus, period_label
from models import AuditEvent, Escalation, OrgUnit, Submission
from tasks import ledger
from tasks.launch import launch_one
from tests.support.review_chain import judged
from tests.support.web import sign_in
from tests.support.workbooks import sheet_rows, xlsx
from tests.support.world import SignedIn

API = "/api/v1"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
XLSX = ledger.XLSX_MEDIA_TYPE
PLAN_HEADER = ["村编码", "村名称", "存在问题", "整改措施", "整改责任人", "整改时限", "挂钩帮扶单位", "县级领导联系人",
               "乡（镇）党委会研究日期", "村民代表会议审议情况"]


def upload(content: bytes, name: str = "台账.xlsx") -> dict[str, Any]:
    return {"files": {"file": (name, content, XLSX)}}


def china(value: str) -> dt.datetime:
    """An API timestamp as the naive China time Excel holds."""
    return dt.datetime.fromisoformat(value).astimezone(CHINA_TZ).replace(tzinfo=None, microsecond=0)


def day(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


def count(engine: Engine, model: Any) -> int:
    with Session(engine) as s:
        return int(s.exec(select(func.count()).select_from(model)).one())


@dataclass
class World(SignedIn):
    engine: Engine
    ids: dict[str, int] = field(default_factory=dict)

    async def get(self, username: str, path: str, **params: Any) -> httpx.Response:
        return await self.client.get(path, params=params, headers=await self.as_(username))


async def _approve_list(w: World, township: str, villages: list[str]) -> None:
    """The township's liaison submits its weak-village list; the administrator approves it."""
    liaison = await w.as_(f"{township.lower()}-liaison")
    campaign = (await w.get("admin", f"{API}/campaigns/{w.ids[township]}")).json()
    listing = next(o for o in campaign["obligations"] if o["kind"] == "list")
    r = await w.client.post(f"{API}/submissions", headers=liaison, json={"obligation_id": listing["id"], "data": {
        "villages": villages, "investigation": "逐村过筛子，找准问题病灶", "committee_meeting_date": "2025-09-24"}})
    assert r.status_code == 201, r.text
    sub = r.json()
    r = await w.client.post(f"{API}/submissions/{sub['id']}/attachments", headers=liaison,
                            files={"file": ("纪要.pdf", PDF, "application/pdf")})
    assert r.status_code == 201, r.text
    r = await w.client.patch(f"{API}/submissions/{sub['id']}", headers=liaison,
                             json={"version": sub["version"], "data": sub["data"] | {"committee_minutes": [r.json()["id"]]}})
    assert r.status_code == 200, r.text
    r = await w.client.post(f"{API}/submissions/{sub['id']}/submit", headers=liaison, json={"version": r.json()["version"]})
    assert r.status_code == 200, r.text
    r = await w.client.post(f"{API}/submissions/{sub['id']}/decisions", headers=await w.as_("admin"),
                            json={"decision": "approve", "version": r.json()["version"],
                                  "checks": await judged(w.client, w, "admin", sub["id"])})
    assert r.status_code == 200 and r.json()["status"] == "approved", r.text


@pytest.fixture
async def world(anon: httpx.AsyncClient, login: Any, clock: FakeClock, demo_county: Engine) -> World:
    """QX01 and QX02 run the 2025 weak-village rectification, QX01 also the 2026 model-site creation; on
    26 Sep 2025 both lists are approved (QX01003, QX01007; QX02001, QX02002) and each township has an escalation."""
    w = World(anon, login, demo_county)
    for key, definition, township, year in (("QX01", "weak_village_rectification", "QX01", 2025),
                                            ("QX02", "weak_village_rectification", "QX02", 2025),
                                            ("model", "five_good_model_site", "QX01", 2026)):
        outcome = launch_one(get_engine(), definition, township, year, clock.now())
        assert outcome.status == "created", outcome
        w.ids[key] = outcome.campaign_id or 0
    clock.set(dt.datetime(2025, 9, 26, 9, 0, tzinfo=CHINA_TZ))
    await _approve_list(w, "QX01", ["QX01003", "QX01007"])
    await _approve_list(w, "QX02", ["QX02001", "QX02002"])
    with Session(demo_county) as s:
        townships = {u.code: u.id or 0 for u in s.exec(select(OrgUnit).where(OrgUnit.kind == "township"))}
        for key, trigger, level, level_key in (("QX01", "overdue", 1, "urge"), ("QX02", "returns_exceeded", 2, "supervise")):
            s.add(Escalation(campaign_id=w.ids[key], township_id=townships[key], trigger=trigger, level=level,
                             level_key=level_key, reason=f"{key}的测试督办", created_at=clock.now()))
        s.commit()
    return w


# ---- exports: the same rows as the API ---------------------------------------------------------------------


@pytest.mark.parametrize("username", ["admin", "qx01-liaison", "observer", "qx03-liaison"])
async def test_campaign_and_obligation_ledgers_hold_the_api_rows(world: World, username: str) -> None:
    w = world
    for params in ({}, {"year": 2025}, {"township": "QX02"}, {"definition": "five_good_model_site"}):
        api = (await w.get(username, f"{API}/campaigns", limit=500, **params)).json()["items"]
        rows = sheet_rows(await w.get(username, f"{API}/ledgers/campaigns.xlsx", **params))
        assert [(r["编号"], r["乡镇编码"], r["乡镇"], r["年度"], r["督办类型"], r["状态"], r["发起时间"]) for r in rows] == [
            (c["id"], c["township"], c["township_name"], c["year"], c["definition_name"],
             CampaignStatus(c["status"]).label, china(c["launched_at"])) for c in api], params

        details = [(await w.get(username, f"{API}/campaigns/{c['id']}")).json() for c in api]
        expected = [(o["id"], c["id"], c["township_name"], o["subject_name"], o["title"], period_label(o["period"]), day(o["opens_on"]),
                     day(o["due_on"]), ObligationStatus(o["status"]).label) for c in details for o in c["obligations"]]
        rows = sheet_rows(await w.get(username, f"{API}/ledgers/obligations.xlsx", **params))
        assert [(r["编号"], r["任务编号"], r["乡镇"], r["对象"], r["事项"], r["周期"], r["开始日"], r["截止日"], r["状态"])
                for r in rows] == expected, params
    townships = {r["乡镇"] for r in sheet_rows(await w.get(username, f"{API}/ledgers/obligations.xlsx"))}
    assert townships == {"admin": {"青石镇", "柳河乡"}, "qx01-liaison": {"青石镇"}, "observer": {"青石镇", "柳河乡"},
                         "qx03-liaison": set()}[username]


async def test_obligation_ledger_status_dates_and_on_time(world: World) -> None:
    w = world
    rows = sheet_rows(await w.get("admin", f"{API}/ledgers/obligations.xlsx", status="met"))
    assert [(r["乡镇"], r["事项"], r["状态"], r["完成日期"], r["是否按时"]) for r in rows] == [
        ("青石镇", "上报相对后进薄弱村党组织名单", "已完成", dt.datetime(2025, 9, 26), "是"),
        ("柳河乡", "上报相对后进薄弱村党组织名单", "已完成", dt.datetime(2025, 9, 26), "是"),
    ]
    response = await w.get("admin", f"{API}/ledgers/obligations.xlsx", campaign=w.ids["QX01"])
    sheet = load_workbook(io.BytesIO(response.content)).worksheets[0]
    header = [c.value for c in sheet[1]]
    due = sheet.cell(row=2, column=header.index("截止日") + 1)
    assert due.is_date and due.number_format == ledger.DATE_FORMAT
    assert (sheet.freeze_panes, sheet.auto_filter.ref is not None, all(c.font.bold for c in sheet[1])) == ("A2", True, True)


@pytest.mark.parametrize("username", ["admin", "qx01-liaison", "observer", "qx03-liaison"])
async def test_rectification_ledger_holds_the_api_rows_with_their_plans(world: World, username: str) -> None:
    w = world
    plan = ["QX01003", None, "班子软弱", "治软：调整支部书记", "张书记", dt.date(2026, 6, 30), "县农业农村局", "李副县长",
            "2025年10月15日", "村民代表会议审议通过"]
    r = await w.client.post(f"{API}/ledgers/rectification-plans", params={"campaign_id": w.ids["QX01"]},
                            headers=await w.as_("qx01-liaison"), **upload(xlsx([PLAN_HEADER, plan])))
    assert r.status_code == 200, r.text
    for params in ({}, {"campaign": w.ids["QX01"]}, {"campaign": w.ids["QX02"]}):
        api = (await w.get(username, f"{API}/rectifications", **params)).json()["items"]
        rows = sheet_rows(await w.get(username, f"{API}/ledgers/rectifications.xlsx", **params))
        assert [(r["编号"], r["任务编号"], r["村编码"], r["村"], r["状态"], r["验收日期"], r["销号日期"]) for r in rows] == [
            (x["id"], x["campaign_id"], x["village"], x["village_name"], RectificationStatus(x["status"]).label,
             day(x["accepted_on"]), day(x["closed_on"])) for x in api], params
    rows = {r["村编码"]: r for r in sheet_rows(await w.get(username, f"{API}/ledgers/rectifications.xlsx"))}
    if username == "qx03-liaison":
        assert rows == {}
        return
    assert (rows["QX01003"]["方案状态"], rows["QX01003"]["整改措施"], rows["QX01003"]["整改时限"],
            rows["QX01003"]["乡（镇）党委会研究日期"]) == ("草稿", "治软：调整支部书记", dt.datetime(2026, 6, 30), dt.datetime(2025, 10, 15))
    assert (rows["QX01007"]["方案状态"], rows["QX01007"]["整改措施"]) == ("未填报", None)
    assert ("QX02001" in rows) is (username != "qx01-liaison")


@pytest.mark.parametrize(("username", "townships"), [
    ("admin", {"QX01", "QX02"}), ("qx01-liaison", {"QX01"}), ("qx02-secretary", {"QX02"}), ("qx03-liaison", set()),
])
async def test_escalation_ledger_is_scoped(world: World, username: str, townships: set[str]) -> None:
    rows = sheet_rows(await world.get(username, f"{API}/ledgers/escalations.xlsx"))
    with Session(world.engine) as s:
        stored = [(e.id, t.name, e.reason) for e, t in s.exec(
            select(Escalation, OrgUnit).join(OrgUnit, Escalation.township_id == OrgUnit.id).order_by(Escalation.id))  # type: ignore[arg-type]
            if t.code in townships]
    assert [(r["编号"], r["乡镇"], r["原因"]) for r in rows] == stored
    mine = {r["原因"]: r for r in rows}
    if "QX01" in townships:
        first = mine["QX01的测试督办"]
        assert (first["触发原因"], first["级别"], first["级别名称"], first["状态"], first["时间"]) == (
            "逾期未报", 1, "催办", "督办中", dt.datetime(2025, 9, 26, 9, 0))
    if "QX02" in townships:
        assert (mine["QX02的测试督办"]["触发原因"], mine["QX02的测试督办"]["级别名称"]) == ("多次退回", "督办")
    filtered = sheet_rows(await world.get(username, f"{API}/ledgers/escalations.xlsx", township="QX02", status="open"))
    assert {r["乡镇"] for r in filtered} == ({"柳河乡"} if "QX02" in townships else set())
    assert all(r["状态"] == "督办中" for r in filtered)


async def test_download_headers_and_refusals(world: World) -> None:
    w = world
    r = await w.get("admin", f"{API}/ledgers/obligations.xlsx", year=2025)
    disposition = r.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="duban-obligations-2025.xlsx"')
    assert unquote(disposition.split("filename*=UTF-8''")[1]) == "督办台账-截止事项-2025.xlsx"
    r = await w.get("admin", f"{API}/ledgers/rectifications.xlsx", campaign=w.ids["QX01"])
    assert unquote(r.headers["content-disposition"].split("''")[1]) == "督办台账-一村一策整改台账-20250926.xlsx"

    unknown = await w.get("admin", f"{API}/ledgers/nothing.xlsx")
    assert unknown.status_code == 404 and unknown.headers["content-type"].startswith("application/problem+json")
    assert "campaigns" in unknown.json()["detail"]
    bad = await w.get("admin", f"{API}/ledgers/rectifications.xlsx", year=2025)
    assert bad.status_code == 422 and bad.json()["errors"] == [{"field": "year", "message": "not a filter of this ledger"}]
    assert (await w.client.get(f"{API}/ledgers/campaigns.xlsx")).status_code == 401


# ---- importing the org hierarchy -----------------------------------------------------------------------------


ORG_HEADER = ["code", "name", "kind", "parent", "collective_income", "key_contact_class"]


async def test_org_import_creates_the_units(world: World) -> None:
    w = world
    content = xlsx([["编码", "名称", "类型", "上级编码", "集体收入", "重点联系类别"], ["QX13", "新建镇", "乡镇", "QX", None, None],
                    ["QX13001", "新一村", "村", "QX13", 28000, "B"], ["QX13002", "新二村", "村", "QX13", None, None]])
    r = await w.client.post(f"{API}/ledgers/org-units", headers=await w.as_("admin"), **upload(content, "组织.xlsx"))
    assert r.status_code == 200, r.text
    assert r.json() == {"rows": 3, "created": 3, "updated": 0}
    villages = (await w.get("admin", f"{API}/org-units", parent="QX13")).json()["items"]
    assert [(v["code"], v["name"], v["collective_income"], v["key_contact_class"]) for v in villages] == [
        ("QX13001", "新一村", 28000, "B"), ("QX13002", "新二村", None, None)]


async def test_bad_org_import_reports_the_rows_and_changes_nothing(world: World) -> None:
    w = world
    rows = [ORG_HEADER, ["QX13", "新建镇", "township", "QX", None, None], ["QX13001", "新一村", "village", "QX13", None, None],
            ["QX13002", "新二村", "village", "QX99", None, None],  # row 4: unknown parent
            ["QX13003", "新三村", "village", "QX13", None, None],
            ["QX13004", "  ", "village", "QX13", None, None]]     # row 6: empty name
    before = (count(w.engine, OrgUnit), count(w.engine, AuditEvent))
    r = await w.client.post(f"{API}/ledgers/org-units", headers=await w.as_("admin"), **upload(xlsx(rows)))
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["errors"] == [
        {"row": 4, "column": "parent", "message": "上级编码 QX99 不存在"},
        {"row": 6, "column": "name", "message": "必填"},
    ]
    assert "未导入任何数据" in r.json()["detail"]
    assert (count(w.engine, OrgUnit), count(w.engine, AuditEvent)) == before
    assert (await w.get("admin", f"{API}/org-units", parent="QX13")).status_code == 404


@pytest.mark.parametrize(("content", "name", "status"), [
    (b"PK\x03\x04garbage", "org.xlsx", 422), (b"code,name\n", "org.csv", 415),
    (b"PK" + b"x" * (ledger.MAX_UPLOAD_BYTES + 10), "big.xlsx", 413),
])
async def test_org_import_refuses_bad_files(world: World, content: bytes, name: str, status: int) -> None:
    r = await world.client.post(f"{API}/ledgers/org-units", headers=await world.as_("admin"), **upload(content, name))
    assert r.status_code == status, r.text
    assert re.search(r"[\u4e00-\u9fff]", r.json()["detail"])


@pytest.mark.parametrize("username", ["qx01-liaison", "county-reviewer", "observer"])
async def test_only_the_administrator_imports_the_org_hierarchy(world: World, username: str) -> None:
    before = count(world.engine, OrgUnit)
    good = xlsx([ORG_HEADER, ["QX13", "新建镇", "township", "QX", None, None]])
    r = await world.client.post(f"{API}/ledgers/org-units", headers=await world.as_(username), **upload(good))
    assert r.status_code == 403, r.text
    assert count(world.engine, OrgUnit) == before


# ---- importing 一村一策 plans ---------------------------------------------------------------------------------


GOOD_PLANS = [
    PLAN_HEADER,
    ["QX01003", "", "班子软弱，组织生活不正常", "治软：调整支部书记；治散：恢复三会一课", "张书记", dt.date(2026, 6, 30),
     "县农业农村局", "李副县长", "2025-10-15", "村民代表会议审议通过"],
    [None, None, None, None, None, None, None, None, None, None],
    [None, "", "集体经济薄弱", "治穷：发展合作社", "王主任", "2026/9/30", "县供销社", "赵副县长", dt.datetime(2025, 10, 16),
     "审议通过"],
]


def _with_name(rows: list[list[Any]], row: int, name: str) -> list[list[Any]]:
    out = [list(r) for r in rows]
    out[row][1] = name
    return out


async def _plans(w: World, username: str) -> dict[str, dict[str, Any]]:
    items = (await w.get(username, f"{API}/submissions", campaign=w.ids["QX01"])).json()["items"]
    details = [(await w.get(username, f"{API}/submissions/{s['id']}")).json() for s in items if s["form"] == "village_plan"]
    return {d["subject"]: d for d in details}


async def test_plan_import_creates_the_drafts_with_the_values(world: World) -> None:
    w = world
    rows = _with_name(GOOD_PLANS, 3, "")
    rows[3][0] = None
    rows[3][1] = "QX01007"  # the village column may hold the code
    before = count(w.engine, AuditEvent)
    r = await w.client.post(f"{API}/ledgers/rectification-plans", params={"campaign_id": w.ids["QX01"]},
                            headers=await w.as_("qx01-liaison"), **upload(xlsx(rows), "一村一策.xlsx"))
    assert r.status_code == 200, r.text
    result = r.json()
    assert (result["rows"], result["created"], result["updated"], result["ignored_columns"]) == (2, 2, 0, [])
    plans = await _plans(w, "qx01-liaison")
    assert set(plans) == {"QX01003", "QX01007"}
    first, second = plans["QX01003"], plans["QX01007"]
    assert first["status"] == "draft" and first["gate"] == "village_plan"
    assert first["data"] == {
        "village": ["QX01003"], "problems": "班子软弱，组织生活不正常", "measures": "治软：调整支部书记；治散：恢复三会一课",
        "responsible_person": "张书记", "time_limit": "2026-06-30", "helping_units": "县农业农村局",
        "county_leader_contact": "李副县长", "committee_meeting_date": "2025-10-15", "villager_review": "村民代表会议审议通过"}
    assert (second["data"]["time_limit"], second["data"]["committee_meeting_date"]) == ("2026-09-30", "2025-10-16")
    assert count(w.engine, AuditEvent) == before + 2
    events = (await w.get("admin", f"{API}/audit", subject=f"submission:{first['id']}")).json()["items"]
    assert [e["action"] for e in events] == ["submission.create"]
    assert {k: events[0]["after"][k] for k in ("source", "file", "row")} == {"source": "excel", "file": "一村一策.xlsx", "row": 2}

    # The township's liaison can submit the imported draft as it is: every field is there.
    r = await w.client.post(f"{API}/submissions/{first['id']}/submit", headers=await w.as_("qx01-liaison"),
                            json={"version": first["version"]})
    assert r.status_code == 200, r.text
    # Importing again updates the draft still open and refuses to touch the plan in review.
    again = xlsx([PLAN_HEADER, GOOD_PLANS[1][:3] + ["治软：换届选优配强班子"] + GOOD_PLANS[1][4:]])
    r = await w.client.post(f"{API}/ledgers/rectification-plans", params={"campaign_id": w.ids["QX01"]},
                            headers=await w.as_("admin"), **upload(again))
    assert r.status_code == 422
    [refused] = r.json()["errors"]
    assert (refused["row"], refused["column"]) == (2, "村编码") and "审核中" in refused["message"]
    again = xlsx([PLAN_HEADER, ["QX01007", None, "集体经济薄弱", "治穷：办好合作社"] + GOOD_PLANS[3][4:]])
    r = await w.client.post(f"{API}/ledgers/rectification-plans", params={"campaign_id": w.ids["QX01"]},
                            headers=await w.as_("admin"), **upload(again))
    assert r.status_code == 200, r.text
    assert (r.json()["created"], r.json()["updated"]) == (0, 1)
    updated = (await _plans(w, "admin"))["QX01007"]
    assert (updated["data"]["measures"], updated["version"]) == ("治穷：办好合作社", second["version"] + 1)


async def test_the_exported_rectification_ledger_imports_back(world: World) -> None:
    w = world
    liaison = await w.as_("qx01-liaison")
    r = await w.client.post(f"{API}/ledgers/rectification-plans", params={"campaign_id": w.ids["QX01"]},
                            headers=liaison, **upload(xlsx(GOOD_PLANS[:2] + [["QX01007", None] + GOOD_PLANS[3][2:]])))
    assert r.status_code == 200, r.text
    exported = await w.client.get(f"{API}/ledgers/rectifications.xlsx", params={"campaign": w.ids["QX01"]}, headers=liaison)
    book = load_workbook(io.BytesIO(exported.content))
    sheet = book.worksheets[0]
    header = [c.value for c in sheet[1]]
    sheet.cell(row=2, column=header.index("整改责任人") + 1, value="李书记")
    buffer = io.BytesIO()
    book.save(buffer)
    r = await w.client.post(f"{API}/ledgers/rectification-plans", params={"campaign_id": w.ids["QX01"]},
                            headers=liaison, **upload(buffer.getvalue()))
    assert r.status_code == 200, r.text
    assert (r.json()["updated"], "编号" in r.json()["ignored_columns"], "状态" in r.json()["ignored_columns"]) == (2, True, True)
    plans = await _plans(w, "qx01-liaison")
    assert plans["QX01003"]["data"]["responsible_person"] == "李书记"
    assert plans["QX01003"]["data"]["time_limit"] == "2026-06-30"


async def test_bad_plan_import_reports_every_row_and_writes_nothing(world: World) -> None:
    w = world
    good = GOOD_PLANS[1]
    rows = [
        PLAN_HEADER,
        good,                                                         # row 2: fine
        ["QX01999"] + good[1:],                                       # row 3: unknown village
        ["QX02001"] + good[1:],                                       # row 4: another township's village
        ["QX01007", None, "集体经济薄弱", "治穷：发展合作社", "王主任", "明年六月"] + good[6:],  # row 5: bad date
        ["QX01007", None, "问题", "", "张三"] + good[5:],              # row 6: missing measures (and duplicate of 5)
        ["QX01003"] + good[1:],                                       # row 7: duplicate of row 2
        ["QX01005"] + good[1:],                                       # row 8: not on the approved list
        [None, "没有这个村"] + good[2:],                              # row 9: unknown village name
        ["QX01007", "李家村"] + good[2:],                             # row 10: name does not match the code
    ]
    before = (count(w.engine, Submission), count(w.engine, AuditEvent))
    r = await w.client.post(f"{API}/ledgers/rectification-plans", params={"campaign_id": w.ids["QX01"]},
                            headers=await w.as_("qx01-liaison"), **upload(xlsx(rows)))
    assert r.status_code == 422, r.text
    errors = r.json()["errors"]
    assert all(set(e) == {"row", "column", "message"} for e in errors)
    places = {(e["row"], e["column"]) for e in errors}
    assert places == {(3, "村编码"), (4, "村编码"), (5, "整改时限"), (6, "整改措施"), (6, "村编码"), (7, "村编码"),
                      (8, "村编码"), (9, "村名称"), (10, "村名称")}, errors
    messages = {(e["row"], e["column"]): e["message"] for e in errors}
    assert messages[(3, "村编码")] == "村编码 QX01999 不存在"
    assert "不属于青石镇" in messages[(4, "村编码")]
    assert "应为日期" in messages[(5, "整改时限")]
    assert messages[(6, "整改措施")] == "请填写“整改措施”"
    assert "与第5行重复" in messages[(6, "村编码")] and "与第2行重复" in messages[(7, "村编码")]
    assert "不在本次整顿村名单中" in messages[(8, "村编码")]
    assert "没有名为“没有这个村”的村" in messages[(9, "村名称")]
    assert "不符" in messages[(10, "村名称")]
    assert (count(w.engine, Submission), count(w.engine, AuditEvent)) == before

    missing_column = xlsx([PLAN_HEADER[:3] + PLAN_HEADER[4:], good[:3] + good[4:]])
    r = await w.client.post(f"{API}/ledgers/rectification-plans", params={"campaign_id": w.ids["QX01"]},
                            headers=await w.as_("qx01-liaison"), **upload(missing_column))
    assert r.status_code == 422
    assert r.json()["errors"] == [{"row": 1, "column": "整改措施", "message": "缺少必填列“整改措施”"}]
    assert (count(w.engine, Submission), count(w.engine, AuditEvent)) == before


async def test_plan_import_permissions(world: World) -> None:
    w = world
    content = xlsx(GOOD_PLANS[:2])
    before = count(w.engine, Submission)
    for username, status in (("qx02-liaison", 404), ("qx03-liaison", 404), ("qx01-secretary", 403), ("observer", 403),
                             ("county-reviewer", 403)):
        r = await w.client.post(f"{API}/ledgers/rectification-plans", params={"campaign_id": w.ids["QX01"]},
                                headers=await w.as_(username), **upload(content))
        assert r.status_code == status, (username, r.text)
    missing = await w.client.post(f"{API}/ledgers/rectification-plans", params={"campaign_id": 987654},
                                  headers=await w.as_("qx02-liaison"), **upload(content))
    hidden = await w.client.post(f"{API}/ledgers/rectification-plans", params={"campaign_id": w.ids["QX01"]},
                                 headers=await w.as_("qx02-liaison"), **upload(content))
    assert missing.json()["detail"].replace("987654", "<id>") == hidden.json()["detail"].replace(str(w.ids["QX01"]), "<id>")
    assert count(w.engine, Submission) == before
    # A campaign without 一村一策 plans, and a corrupt file.
    r = await w.client.post(f"{API}/ledgers/rectification-plans", params={"campaign_id": w.ids["model"]},
                            headers=await w.as_("qx01-liaison"), **upload(content))
    assert r.status_code == 422 and "一村一策" in r.json()["detail"]
    r = await w.client.post(f"{API}/ledgers/rectification-plans", params={"campaign_id": w.ids["QX01"]},
                            headers=await w.as_("qx01-liaison"), **upload(b"PK\x03\x04broken"))
    assert r.status_code == 422 and "损坏" in r.json()["detail"]
    r = await w.client.post(f"{API}/ledgers/rectification-plans", params={"campaign_id": w.ids["QX01"]},
                            headers=await w.as_("admin"), **upload(content))
    assert r.status_code == 200, r.text
    assert count(w.engine, Submission) == before + 1


# ---- the page --------------------------------------------------------------------------------------------------


async def test_ledgers_page(world: World) -> None:
    c = world.client
    anonymous = await c.get("/ledgers")
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")

    csrf = await sign_in(c, "admin", "/ledgers")
    page = (await c.get("/ledgers", params={"year": 2025})).text
    for name in ("campaigns", "obligations", "escalations"):
        assert f"/api/v1/ledgers/{name}.xlsx?year=2025" in page
    assert 'action="/api/v1/ledgers/rectifications.xlsx"' in page
    assert 'action="/ledgers/org-units"' in page and 'action="/ledgers/rectification-plans"' in page
    download = await c.get("/api/v1/ledgers/obligations.xlsx", params={"year": 2025})  # the session cookie is enough
    assert download.status_code == 200 and download.headers["content-type"] == XLSX

    bad = xlsx([ORG_HEADER, ["QX13", "新建镇", "township", "QX", None, None], ["QX13001", "村", "village", "QX13", None, None],
                ["QX13002", "新二村", "village", "QX99", None, None]])
    before = count(world.engine, OrgUnit)
    forged = await c.post("/ledgers/org-units", data={"csrf_token": "forged"}, files={"file": ("o.xlsx", bad, XLSX)})
    assert forged.status_code == 403
    r = await c.post("/ledgers/org-units", data={"csrf_token": csrf}, files={"file": ("o.xlsx", bad, XLSX)})
    assert r.status_code == 422
    assert "导入失败，未导入任何数据" in r.text and "第4行" in r.text and "上级编码 QX99 不存在" in r.text
    assert count(world.engine, OrgUnit) == before
    good = xlsx([ORG_HEADER, ["QX13", "新建镇", "township", "QX", None, None]])
    r = await c.post("/ledgers/org-units", data={"csrf_token": csrf}, files={"file": ("o.xlsx", good, XLSX)})
    assert r.status_code == 303 and r.headers["location"] == "/ledgers"
    assert "新增 1 个" in (await c.get("/ledgers")).text
    assert count(world.engine, OrgUnit) == before + 1

    csrf = await sign_in(c, "qx01-liaison", "/ledgers")
    page = (await c.get("/ledgers")).text
    assert 'action="/ledgers/org-units"' not in page
    assert f'<option value="{world.ids["QX01"]}">' in page and f'<option value="{world.ids["QX02"]}">' not in page
    r = await c.post("/ledgers/rectification-plans", data={"csrf_token": csrf, "campaign_id": str(world.ids["QX01"])},
                     files={"file": ("p.xlsx", xlsx(GOOD_PLANS[:2]), XLSX)})
    assert r.status_code == 303, r.text
    assert "新建草稿 1 份" in (await c.get("/ledgers")).text
    refused = await c.post("/ledgers/org-units", data={"csrf_token": csrf}, files={"file": ("o.xlsx", good, XLSX)})
    assert refused.status_code == 403
