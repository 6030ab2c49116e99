"""Work records written through the API for the tests (003 §三(一), §四(三)): leaders' visits and diary entries."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import httpx

from tests.support.review_chain import API, Users


async def record_visits(c: httpx.AsyncClient, users: Users, leader: str, days: Iterable[dt.date],
                        who: str = "admin") -> list[dict[str, Any]]:
    """``leader``'s visits to the contact village on each of ``days``, recorded by ``who``."""
    out = []
    for day in days:
        r = await c.post(f"{API}/leader-visits", headers=await users(who),
                         json={"leader": leader, "visited_on": day.isoformat(), "purpose": f"{day.month}月调研村级组织建设"})
        assert r.status_code == 201, r.text
        out.append(r.json())
    return out


async def write_diary(c: httpx.AsyncClient, users: Users, cadre: str, day: dt.date, who: str = "admin",
                      **fields: Any) -> httpx.Response:
    """A diary entry of ``cadre`` for ``day`` as ``who`` posts it (the response, for the test to judge)."""
    body = {"cadre": cadre, "entry_date": day.isoformat(), "place": "村委会", "work": "走访困难党员户，了解生产生活情况",
            "help_given": "协调落实临时救助", "results": "解决2户实际困难"} | fields
    return await c.post(f"{API}/diaries", headers=await users(who), json=body)


async def submitted_report(c: httpx.AsyncClient, users: Any, unit: str, year: int, quarter: int,
                           who: str | None = None) -> int:
    """The id of ``unit``'s quarterly report to the 基层办, submitted by its liaison (or ``who``)."""
    r = await c.post(f"{API}/unit-reports", headers=await users(who or f"{unit.lower()}-liaison"), json={
        "unit": unit, "year": year, "quarter": quarter, "progress": "驻村干部全部到岗，按计划开展走访",
        "problems": "个别村集体经济薄弱", "next_steps": "推进产业项目"})
    assert r.status_code == 201, r.text
    return int(r.json()["id"])
