"""Dispatching units, cadres and leaders over HTTP (003 三(一)(二)): lists within scope, an administrator's
create/update, and all-or-nothing Excel imports with errors per row."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.web import page_text, sign_in
from tests.support.workbooks import xlsx

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


async def test_dispatching_units_are_org_units_of_their_own_kind(client: httpx.AsyncClient, users: Any) -> None:
    units = (await client.get("/api/v1/org-units", params={"kind": "unit"})).json()
    assert units["total"] == 7
    assert units["items"][0] == {"code": "QXD01", "name": "县委组织部", "kind": "unit", "parent": "QX",
                                 "collective_income": None, "key_contact_class": None,
                                 "unit_level": "county", "establishment_size": 35}
    township = await client.get("/api/v1/org-units", params={"kind": "unit"}, headers=await users("qx02-liaison"))
    assert township.json()["total"] == 7  # county-wide, like the county itself


async def test_cadres_and_leaders_are_listed_within_the_township(client: httpx.AsyncClient, users: Any) -> None:
    everyone = (await client.get("/api/v1/cadres", params={"limit": 1000})).json()
    assert everyone["total"] == 57 + 36
    mine = (await client.get("/api/v1/cadres", headers=await users("qx02-liaison"))).json()
    assert mine["total"] == 3 and {c["unit"] for c in mine["items"]} == {"QX02"}
    assert mine["items"][0]["unit_name"] == "柳河乡"
    leaders = (await client.get("/api/v1/leaders", headers=await users("qx02-secretary"))).json()
    assert leaders["total"] == 3
    assert leaders["items"][0] | {"name": "", "village_name": ""} == {
        "code": "QX02-L1", "name": "", "level": "county", "post": "县委常委", "phone": None,
        "township": "QX02", "village": "QX02001", "village_name": ""}
    other = await client.get("/api/v1/leaders", params={"township": "QX01"}, headers=await users("qx02-secretary"))
    assert other.json()["total"] == 0


async def test_an_administrator_creates_and_updates_a_cadre(client: httpx.AsyncClient, users: Any) -> None:
    body = {"code": "QXD02-90", "name": "邓小红", "unit": "QXD02", "post": "科员", "phone": "13800000001"}
    assert (await client.post("/api/v1/cadres", json=body)).json() == {"created": 1, "updated": 0}
    assert (await client.post("/api/v1/cadres", json=body | {"post": "副科长"})).json() == {"created": 0, "updated": 1}
    listed = (await client.get("/api/v1/cadres", params={"unit": "QXD02"})).json()
    assert {"code": "QXD02-90", "name": "邓小红", "unit": "QXD02", "unit_name": "县农业农村局", "post": "副科长",
            "phone": "13800000001"} in listed["items"]
    audit = (await client.get("/api/v1/audit", params={"limit": 1000})).json()["items"]
    assert [e["after"]["post"] for e in audit if e["action"] == "cadre.save"] == ["科员", "副科长"]
    refused = await client.post("/api/v1/cadres", json=body, headers=await users("qx02-liaison"))
    assert refused.status_code == 403


async def test_a_cadre_of_an_unknown_unit_is_refused_in_chinese(client: httpx.AsyncClient) -> None:
    refused = await client.post("/api/v1/cadres", json={"code": "X-1", "name": "张三", "unit": "QX02001", "post": "科员"})
    assert refused.status_code == 422
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["detail"] == (
        "导入失败，未导入任何数据。第1行 unit：QX02001 不是派出单位或乡镇，驻村干部只能由派出单位或乡镇选派")
    leader = await client.post("/api/v1/leaders", json={"code": "L-1", "name": "李四", "level": "county",
                                                         "post": "县长", "village": "QX02"})
    assert leader.status_code == 422 and "QX02 不是村，挂点领导每人包一个村" in leader.json()["detail"]
    assert (await client.get("/api/v1/cadres", params={"unit": "QX02001"})).json()["total"] == 0


async def test_leaders_import_from_excel_all_or_nothing(client: httpx.AsyncClient) -> None:
    header = ["编码", "姓名", "级别", "职务", "联系电话", "联系村编码"]
    bad = xlsx([header, ["NL-1", "周明", "县领导", "县委常委", "", "QX03002"],
                ["NL-2", "吴亮", "市领导", "副市长", "", "QX03003"],
                ["NL-3", "郑华", "镇领导", "镇党委委员", "", "NOPE"]])
    refused = await client.post("/api/v1/ledgers/leaders", files={"file": ("领导.xlsx", bad, XLSX)})
    assert refused.status_code == 422
    assert refused.json()["detail"] == (
        "挂点领导导入失败，未导入任何数据。第3行“级别”：只能是 county（县领导）或 township（镇领导）；"
        "第4行“联系村编码”：村编码 NOPE 不存在")
    assert (await client.get("/api/v1/leaders", params={"township": "QX03"})).json()["total"] == 3
    good = xlsx([header, ["NL-1", "周明", "县领导", "县委常委", "0755-1234567", "QX03002"]])
    done = await client.post("/api/v1/ledgers/leaders", files={"file": ("领导.xlsx", good, XLSX)})
    assert done.json() == {"rows": 1, "created": 1, "updated": 0}
    assert (await client.get("/api/v1/leaders", params={"township": "QX03"})).json()["total"] == 4


async def test_cadres_import_names_a_missing_column(client: httpx.AsyncClient) -> None:
    book = xlsx([["编码", "姓名", "职务"], ["C-1", "王五", "科员"]])
    refused = await client.post("/api/v1/ledgers/cadres", files={"file": ("干部.xlsx", book, XLSX)})
    assert refused.status_code == 422
    assert refused.json()["detail"] == "驻村干部导入失败，未导入任何数据。第1行“派出单位编码”：缺少必填列“派出单位编码”（unit）"


async def test_the_cadres_page_lists_and_imports(anon: httpx.AsyncClient) -> None:
    liaison = await sign_in(anon, "qx02-liaison", "/cadres")
    assert liaison
    mine = await page_text(anon, "/cadres")
    assert "县委组织部" in mine and "县直" in mine and "QX02-C1" in mine and "QX01-C1" not in mine
    assert 'action="/cadres/import"' not in mine
    csrf = await sign_in(anon, "admin", "/cadres")
    page = await page_text(anon, "/cadres")
    assert "省农村信用社清溪联社" in page and "QX01-L1" in page and 'action="/cadres/import"' in page
    bad = xlsx([["编码", "姓名", "派出单位编码", "职务"], ["W-1", "陈静", "QXD99", "科员"]])
    refused = await anon.post("/cadres/import", data={"what": "cadre", "csrf_token": csrf},
                              files={"file": ("干部.xlsx", bad, XLSX)}, headers={"Accept": "text/html"})
    assert refused.status_code == 422 and "派出单位编码 QXD99 不存在" in refused.text
    good = xlsx([["编码", "姓名", "派出单位编码", "职务"], ["W-1", "陈静", "QXD03", "科员"]])
    done = await anon.post("/cadres/import", data={"what": "cadre", "csrf_token": csrf},
                           files={"file": ("干部.xlsx", good, XLSX)}, headers={"Accept": "text/html"})
    assert done.status_code == 303 and done.headers["location"].startswith("/cadres")
    assert "陈静" in await page_text(anon, "/cadres", page=2)


async def test_bad_input_is_a_chinese_4xx_and_writes_nothing(client: httpx.AsyncClient) -> None:
    before = (await client.get("/api/v1/cadres")).json()["total"]
    cases = [({"code": "Z-1", "name": "张\x07三", "unit": "QXD01", "post": "科员"}, "name: 含有不可见的控制字符"),
             ({"code": "Z 1", "name": "张三", "unit": "QXD01", "post": "科员"}, "code: 编码只能包含字母、数字、- 和 _"),
             ({"code": "Z-1", "name": "张三", "unit": "QXD01", "post": "科员", "extra": 1}, "extra: 不认识的字段，请删除"),
             ({"code": "Z-1", "name": "张三", "unit": "QXD01"}, "post: 必填")]
    for body, message in cases:
        refused = await client.post("/api/v1/cadres", json=body)
        assert refused.status_code == 422, body
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["detail"] == f"请求内容有误，请修改后重试：{message}"
    assert (await client.get("/api/v1/cadres")).json()["total"] == before


async def test_units_import_with_the_org_workbook_in_chinese(client: httpx.AsyncClient) -> None:
    header = ["编码", "名称", "类型", "上级编码", "单位级别", "编制人数"]
    bad = xlsx([header, ["QXD20", "县水利局", "派出单位", "QX", "部级", 30],
                ["QXD21", "县林业局", "派出单位", "QX", "县直", ""]])
    refused = await client.post("/api/v1/ledgers/org-units", files={"file": ("组织.xlsx", bad, XLSX)})
    assert refused.status_code == 422
    assert refused.json()["detail"] == (
        "组织导入失败，未导入任何数据。第2行“单位级别”：只能是 county（县直）、city（市驻县）或 province（省驻县）；"
        "第3行“编制人数”：派出单位必须填写编制人数")
    good = xlsx([header, ["QXD20", "县水利局", "派出单位", "QX", "市驻县", 30]])
    assert (await client.post("/api/v1/ledgers/org-units", files={"file": ("组织.xlsx", good, XLSX)})).json() == {
        "rows": 1, "created": 1, "updated": 0}
    units = (await client.get("/api/v1/org-units", params={"kind": "unit"})).json()["items"]
    assert {"code": "QXD20", "name": "县水利局", "kind": "unit", "parent": "QX", "collective_income": None,
            "key_contact_class": None, "unit_level": "city", "establishment_size": 30} in units
