"""Org units, definitions, calendar and pages over HTTP."""

from __future__ import annotations

import httpx


async def test_org_units_by_kind_and_parent(client: httpx.AsyncClient) -> None:
    townships = (await client.get("/api/v1/org-units", params={"kind": "township"})).json()
    assert townships["total"] == 12
    assert townships["items"][0] == {
        "code": "QX01", "name": "青石镇", "kind": "township", "parent": "QX",
        "collective_income": None, "key_contact_class": None, "unit_level": None, "establishment_size": None,
    }
    villages = (await client.get("/api/v1/org-units", params={"kind": "village", "parent": "QX02"})).json()
    assert villages["total"] == 10
    assert all(v["parent"] == "QX02" and v["kind"] == "village" for v in villages["items"])
    page = (await client.get("/api/v1/org-units", params={"kind": "village", "limit": 5, "offset": 5})).json()
    assert page["total"] == 120 and len(page["items"]) == 5


async def test_org_units_bad_filters(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/v1/org-units", params={"kind": "province"})).status_code == 422
    missing = await client.get("/api/v1/org-units", params={"parent": "NOPE"})
    assert missing.status_code == 404 and "NOPE" in missing.json()["detail"]


async def test_definitions_listed(client: httpx.AsyncClient) -> None:
    listed = (await client.get("/api/v1/definitions")).json()
    keys = {d["key"] for d in listed}
    assert keys >= {"weak_village_rectification", "five_good_model_site", "cadres_in_villages"}
    full = (await client.get("/api/v1/definitions/five_good_model_site")).json()
    assert [s["opens"]["month"] for s in full["stages"]] == [1, 4, 11]
    assert (await client.get("/api/v1/definitions/nope")).status_code == 404


async def test_calendar_endpoint(client: httpx.AsyncClient) -> None:
    y2025 = (await client.get("/api/v1/calendar/2025")).json()
    assert y2025["source"] == "bundled" and y2025["warnings"] == []
    assert "2025-10-01" in y2025["weekday_holidays"] and "2025-09-28" in y2025["makeup_workdays"]
    y2027 = (await client.get("/api/v1/calendar/2027")).json()
    assert y2027["source"] == "weekends_only" and y2027["warnings"]


async def test_pages_render_in_chinese(client: httpx.AsyncClient) -> None:
    launched = (await client.post(
        "/api/v1/campaigns", json={"definition": "five_good_model_site", "township": "QX01", "year": 2025}
    )).json()
    home = await client.get("/")
    assert home.status_code == 200 and '<html lang="zh-CN">' in home.text and "青石镇" in home.text
    page = await client.get(f"/campaigns/{launched['id']}")
    assert page.status_code == 200 and "宣传动员" in page.text and "2025年1月1日" in page.text
    assert (await client.get("/healthz")).json() == {"status": "ok"}
