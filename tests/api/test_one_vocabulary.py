"""One word for one status, wherever it is read: a 一村一策 plan that was not passed reads 不予通过 on its page
and in the Excel ledger, and every status the scenario wrote is in domain/vocabulary.py."""

from __future__ import annotations

import datetime as dt

import httpx
from sqlalchemy.engine import Engine

from core.clock import FakeClock
from tests.support.clock import at
from tests.support.review_chain import API, PLAN, Users, approve_list, decide, launch, move, obligation
from tests.support.statuses import assert_every_status_is_known
from tests.support.web import sign_in
from tests.support.workbooks import sheet_rows


async def rejected_plan(c: httpx.AsyncClient, users: Users, clock: FakeClock) -> int:  # noqa: F811
    """QX01's list names QX01003 (and its other weak villages); QX01003's 一村一策 plan is submitted and the
    township does not pass it."""
    campaign = await approve_list(c, users, clock, await launch(c, users, "weak_village_rectification"))
    await move(clock, users, at(dt.date(2025, 10, 16)))
    r = await c.post(f"{API}/submissions", headers=await users("qx01-liaison"), json={
        "obligation_id": obligation(campaign, "village_plan:QX01003")["id"], "data": PLAN, "submit": True})
    assert r.status_code == 201, r.text
    r = await decide(c, users, "qx01-secretary", r.json(), "reject", comment="措施与问题不对应，不予通过")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "rejected"
    return int(r.json()["id"])


async def test_a_plan_not_passed_reads_not_passed_on_its_page(
        anon: httpx.AsyncClient, users: Users, clock: FakeClock, demo_county: Engine) -> None:  # noqa: F811
    sid = await rejected_plan(anon, users, clock)
    await sign_in(anon, "qx01-liaison")
    page = await anon.get(f"/submissions/{sid}")
    assert page.status_code == 200
    assert '<strong class="st-rejected">不予通过</strong>' in page.text
    assert_every_status_is_known(demo_county)


async def test_a_plan_not_passed_reads_not_passed_in_the_ledger(
        anon: httpx.AsyncClient, users: Users, clock: FakeClock) -> None:  # noqa: F811
    await rejected_plan(anon, users, clock)
    rows = sheet_rows(await anon.get(f"{API}/ledgers/rectifications.xlsx", headers=await users("admin")))
    assert {row["村编码"]: row["方案状态"] for row in rows}["QX01003"] == "不予通过"
