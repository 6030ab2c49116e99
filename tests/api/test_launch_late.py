"""Launching late: the launcher chooses between waiving the deadlines already past and a catch-up date, and the
answer lists the deadlines affected (issue 17 item 6)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx

from core.clock import CHINA_TZ, FakeClock

DECEMBER = dt.datetime(2026, 12, 7, 10, tzinfo=CHINA_TZ)  # a Monday; the list was due 9 October, the plans 23 October


async def late_launch(client: httpx.AsyncClient, clock: FakeClock, login: Any, **body: object) -> httpx.Response:
    clock.set(DECEMBER)
    client.headers.update(await login(client, "admin"))
    payload = {"definition": "weak_village_rectification", "township": "QX02", "year": 2026} | body
    return await client.post("/api/v1/campaigns", json=payload)


async def test_a_late_launch_says_which_deadlines_it_waived(client: httpx.AsyncClient, clock: FakeClock,
                                                            login: Any) -> None:
    response = await late_launch(client, clock, login)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["late"] == "waive"
    [listed] = body["affected"]
    assert listed["title"] == "上报相对后进薄弱村党组织名单" and listed["subject_name"] == "柳河乡"
    assert listed["catch_up_on"] is None and listed["due_on"] < "2026-12-07"
    assert {s["key"]: s["status"] for s in body["stages"]}["screening"] == "waived"


async def test_a_catch_up_owes_the_list_ten_working_days_after_launch(client: httpx.AsyncClient, clock: FakeClock,
                                                                      login: Any) -> None:
    response = await late_launch(client, clock, login, late="catch_up", catch_up_workdays=10)
    assert response.status_code == 201, response.text
    body = response.json()
    [listed] = body["affected"]
    assert listed["catch_up_on"] == "2026-12-21"
    row = next(o for o in body["obligations"] if o["key"] == listed["key"])
    assert (row["status"], row["due_on"]) == ("open", "2026-12-21")
    screening = next(s for s in body["stages"] if s["key"] == "screening")
    assert (screening["status"], screening["closes_on"]) == ("open", "2026-12-21")
    assert any("限2026年12月21日前补报" in w for w in body["warnings"])
    todos = await client.get(f"/api/v1/campaigns/{body['id']}")
    assert next(o for o in todos.json()["obligations"] if o["key"] == listed["key"])["status"] == "open"


async def test_the_batch_answer_lists_each_townships_affected_deadlines(client: httpx.AsyncClient, clock: FakeClock,
                                                                        login: Any) -> None:
    clock.set(DECEMBER)
    client.headers.update(await login(client, "admin"))
    response = await client.post("/api/v1/campaigns/batch", json={
        "definition": "weak_village_rectification", "year": 2026, "townships": ["QX02", "QX03"], "late": "catch_up"})
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [i["status"] for i in items] == ["created", "created"]
    assert all(len(i["affected"]) == 1 and i["affected"][0]["catch_up_on"] == "2026-12-21" for i in items)


async def test_a_bad_choice_is_a_422_in_chinese(client: httpx.AsyncClient, clock: FakeClock, login: Any) -> None:
    response = await late_launch(client, clock, login, late="later")
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    response = await late_launch(client, clock, login, late="catch_up", catch_up_workdays=0)
    assert response.status_code == 422
    assert (await client.get("/api/v1/campaigns")).json()["total"] == 0
