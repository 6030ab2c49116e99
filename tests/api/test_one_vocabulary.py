"""One word for one status, wherever it is read: a 一村一策 plan that was not passed reads 不予通过 on its page
and in the Excel ledger, and every status the scenario wrote is in domain/vocabulary.py."""

from __future__ import annotations

import httpx
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from core.clock import FakeClock
from domain.vocabulary import STATUSES
from tests.api.test_ledgers import sheet_rows
from tests.api.test_review_chain import (  # noqa: F401  (users is a fixture)
    API,
    PLAN,
    Users,
    at,
    decide,
    launch,
    move,
    obligation,
    submitted_list,
    users,
)
from tests.api.test_web_pages import web_login
from tests.domain.test_vocabulary import TABLE_KINDS


def assert_every_status_is_known(engine: Engine) -> None:
    """Every status stored in the database is a member of its kind's enum."""
    tables = {t.name: t for t in SQLModel.metadata.sorted_tables}
    with engine.connect() as conn:
        stored = {name: set(conn.execute(select(tables[name].c.status).distinct()).scalars()) for name in TABLE_KINDS}
    unknown = {name: values - set(STATUSES[TABLE_KINDS[name]].labels()) for name, values in stored.items()}
    assert {name: values for name, values in unknown.items() if values} == {}
    assert stored["submissions"] and stored["stages"] and stored["obligations"], "the scenario wrote nothing"


async def rejected_plan(c: httpx.AsyncClient, users: Users, clock: FakeClock) -> int:  # noqa: F811
    """QX01's list names QX01003; its 一村一策 plan is submitted and the township does not pass it."""
    campaign = await launch(c, users, "weak_village_rectification")
    await move(clock, users, at(2025, 9, 26))
    listed = await submitted_list(c, users, campaign, {
        "villages": ["QX01003"], "investigation": "逐村过筛子", "committee_meeting_date": "2025-09-24"})
    assert (await decide(c, users, "admin", listed.json(), "approve")).json()["status"] == "approved"
    await move(clock, users, at(2025, 10, 16))
    r = await c.post(f"{API}/submissions", headers=await users("qx01-liaison"), json={
        "obligation_id": obligation(campaign, "village_plan")["id"], "subject": "QX01003", "data": PLAN, "submit": True})
    assert r.status_code == 201, r.text
    r = await decide(c, users, "qx01-secretary", r.json(), "reject", comment="措施与问题不对应，不予通过")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "rejected"
    return int(r.json()["id"])


async def test_a_plan_not_passed_reads_not_passed_on_its_page(
        anon: httpx.AsyncClient, users: Users, clock: FakeClock, demo_county: Engine) -> None:  # noqa: F811
    sid = await rejected_plan(anon, users, clock)
    await web_login(anon, "qx01-liaison")
    page = await anon.get(f"/submissions/{sid}")
    assert page.status_code == 200
    assert '<strong class="st-rejected">不予通过</strong>' in page.text
    assert_every_status_is_known(demo_county)


async def test_a_plan_not_passed_reads_not_passed_in_the_ledger(
        anon: httpx.AsyncClient, users: Users, clock: FakeClock) -> None:  # noqa: F811
    await rejected_plan(anon, users, clock)
    rows = sheet_rows(await anon.get(f"{API}/ledgers/rectifications.xlsx", headers=await users("admin")))
    assert {row["村编码"]: row["方案状态"] for row in rows}["QX01003"] == "不予通过"
