"""Launching and reading campaigns over HTTP (the ASGI app, a real database, the real Prefect flow)."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import httpx
import pytest

from core.clock import CHINA_TZ, FakeClock


async def launch(client: httpx.AsyncClient, **body: object) -> httpx.Response:
    payload = {"definition": "five_good_model_site", "township": "QX01", "year": 2025} | body
    return await client.post("/api/v1/campaigns", json=payload)


async def test_launch_five_good_returns_stages_and_deadlines(client: httpx.AsyncClient) -> None:
    response = await launch(client)
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["location"] == f"/api/v1/campaigns/{body['id']}"
    assert (body["definition"], body["township"], body["township_name"], body["year"]) == (
        "five_good_model_site", "QX01", "青石镇", 2025,
    )
    stages = [(s["key"], s["opens_on"], s["closes_on"]) for s in body["stages"]]
    assert [s[1:] for s in stages] == [
        ("2025-01-01", "2025-03-31"),
        ("2025-04-01", "2025-10-31"),
        ("2025-11-01", "2026-03-31"),
    ]
    # Launched on 2 Jan 2025: the first stage is open, the later ones pending.
    assert [s["status"] for s in body["stages"]] == ["open", "pending", "pending"]
    assert body["obligations"], "every deadline of the year is created"
    assert all(o["status"] in {"open", "scheduled"} for o in body["obligations"])
    dues = [o["due_on"] for o in body["obligations"]]
    assert dues == sorted(dues)
    assert body["warnings"] == []

    again = await client.get(f"/api/v1/campaigns/{body['id']}")
    assert again.status_code == 200
    assert (body["late"], body["affected"]) == ("waive", [])  # the launch's own answer: nothing was past
    assert again.json() == {k: v for k, v in body.items() if k not in ("late", "affected")}


async def test_weak_village_deadlines_follow_the_official_calendar(client: httpx.AsyncClient) -> None:
    response = await launch(client, definition="weak_village_rectification", year=2025)
    assert response.status_code == 201, response.text
    obligations = response.json()["obligations"]
    by_kind: dict[str, list[dict[str, str]]] = {}
    for o in obligations:
        by_kind.setdefault(o["kind"], []).append(o)
    assert [o["due_on"] for o in by_kind["list"]] == ["2025-10-10"]
    assert "plan" not in by_kind and "weekly_report" not in by_kind  # owed by the villages on the approved list
    quarterly = {o["period"]: (o["nominal_due_on"], o["due_on"]) for o in by_kind["quarterly_report"]}
    assert quarterly["2025Q4"] == ("2025-12-20", "2025-12-19")  # Saturday → Friday
    assert quarterly["2026Q2"] == ("2026-06-20", "2026-06-18")  # Saturday after the Dragon Boat Festival
    assert quarterly["2026Q3"] == ("2026-09-20", "2026-09-20")  # a make-up working Sunday (调休)


async def test_duplicate_launch_is_409_naming_the_existing_campaign(client: httpx.AsyncClient) -> None:
    first = await launch(client)
    assert first.status_code == 201
    second = await launch(client)
    assert second.status_code == 409
    assert second.headers["content-type"].startswith("application/problem+json")
    problem = second.json()
    assert problem["campaign_id"] == first.json()["id"]
    assert f"/api/v1/campaigns/{first.json()['id']}" in problem["detail"]
    listed = (await client.get("/api/v1/campaigns", params={"township": "QX01"})).json()
    assert listed["total"] == 1


async def test_idempotency_key_replays_the_original_response(client: httpx.AsyncClient) -> None:
    headers = {"Idempotency-Key": "launch-qx02-2025"}
    body = {"definition": "five_good_model_site", "township": "QX02", "year": 2025}
    first = await client.post("/api/v1/campaigns", json=body, headers=headers)
    replay = await client.post("/api/v1/campaigns", json=body, headers=headers)
    assert (first.status_code, replay.status_code) == (201, 201)
    assert replay.json() == first.json()
    assert replay.headers["idempotent-replayed"] == "true"
    other = await client.post("/api/v1/campaigns", json=body | {"year": 2026}, headers=headers)
    assert other.status_code == 409
    assert "Idempotency-Key" in other.json()["detail"]
    assert (await client.get("/api/v1/campaigns", params={"year": 2026})).json()["total"] == 0


async def test_concurrent_launches_one_wins_one_conflicts(client: httpx.AsyncClient) -> None:
    responses = await asyncio.gather(*(launch(client, township="QX03") for _ in range(2)))
    assert sorted(r.status_code for r in responses) == [201, 409]
    listed = (await client.get("/api/v1/campaigns", params={"township": "QX03"})).json()
    assert listed["total"] == 1


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"definition": "no_such_campaign"}, 422, "definition"),
        ({"township": "XX99"}, 422, "township"),
        ({"township": "QX01001"}, 422, "township"),  # a village, not a township
        ({"year": 1800}, 422, "year"),
        ({"year": "next"}, 422, "year"),
        ({"extra": 1}, 422, "extra"),
    ],
)
async def test_bad_launch_requests_say_what_to_fix(
    client: httpx.AsyncClient, body: dict[str, object], status: int, field: str
) -> None:
    response = await launch(client, **body)
    assert response.status_code == status, response.text
    problem = response.json()
    assert response.headers["content-type"].startswith("application/problem+json")
    assert problem["status"] == status and problem["detail"]
    assert any(e["field"] == field for e in problem["errors"]), problem
    assert (await client.get("/api/v1/campaigns")).json()["total"] == 0


async def test_malformed_json_is_a_clear_4xx(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/campaigns", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert "JSON" in response.json()["detail"]


async def test_batch_launch_reports_each_township(client: httpx.AsyncClient) -> None:
    assert (await launch(client, township="QX05")).status_code == 201
    response = await client.post(
        "/api/v1/campaigns/batch",
        json={"definition": "five_good_model_site", "year": 2025, "townships": ["QX04", "QX05", "NOPE", "QX06"]},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    statuses = {i["township"]: i["status"] for i in body["items"]}
    assert statuses == {"QX04": "created", "QX05": "exists", "NOPE": "failed", "QX06": "created"}
    assert (body["created"], body["existing"], body["failed"]) == (2, 1, 1)
    assert (await client.get("/api/v1/campaigns", params={"year": 2025})).json()["total"] == 3


async def test_batch_for_all_townships(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/campaigns/batch", json={"definition": "cadres_in_villages", "year": 2026})
    assert response.status_code == 200, response.text
    assert response.json()["created"] == 12


async def test_launch_late_in_the_year_waives_past_deadlines(
    client: httpx.AsyncClient, clock: FakeClock, login: Any
) -> None:
    clock.set(dt.datetime(2025, 7, 1, 10, tzinfo=CHINA_TZ))
    client.headers.update(await login(client, "admin"))  # the token of January has expired
    body = (await launch(client)).json()
    assert [s["status"] for s in body["stages"]] == ["waived", "open", "pending"]
    past = [o for o in body["obligations"] if o["due_on"] < "2025-07-01"]
    assert past and all(o["status"] == "waived" for o in past)
    assert any("不适用" in w for w in body["warnings"])


async def test_a_year_without_official_calendar_warns(client: httpx.AsyncClient) -> None:
    body = (await launch(client, year=2027)).json()
    assert any("2027" in w for w in body["warnings"])


async def test_list_filters_and_unknown_campaign(client: httpx.AsyncClient) -> None:
    await launch(client, township="QX01")
    await launch(client, township="QX02", definition="cadres_in_villages")
    assert (await client.get("/api/v1/campaigns", params={"definition": "cadres_in_villages"})).json()["total"] == 1
    assert (await client.get("/api/v1/campaigns", params={"year": 2024})).json()["total"] == 0
    missing = await client.get("/api/v1/campaigns/99999")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
