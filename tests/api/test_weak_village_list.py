"""The approved weak-village list drives the village work (000 §四(一)(二), 004 §一.2-3): 一村一策 plans, weekly
reports of the key-contact villages and rectification records are owed by the villages on the list — not by the
key-contact villages of the org data at launch — and follow the county's later changes to the list; a list that
leaves out a village the county knows is weak is flagged for the county's check (000 §四(三))."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from core.clock import FakeClock
from models import AccountabilityCase, OutboxMessage
from tests.support.clock import at
from tests.support.review_chain import (
    API,
    EMAIL,
    Users,
    approve_list,
    decide,
    launch,
    move,
    obligation,
    plan_of,
    refreshed,
    submitted_list,
)
from tests.support.tick import tick
from tests.support.workbooks import sheet_rows

CAMPAIGN = "weak_village_rectification"


def _owed(campaign: dict[str, Any], kind: str) -> dict[str, list[str]]:
    """The deadlines of one kind that are still owed (not waived), by village code."""
    out: dict[str, list[str]] = {}
    for o in campaign["obligations"]:
        if o["kind"] == kind and o["status"] != "waived":
            out.setdefault(o["subject"], []).append(o["due_on"])
    return out


async def _rows(c: httpx.AsyncClient, users: Users, campaign_id: int) -> dict[str, dict[str, Any]]:
    """The campaign's rectification records (its list, and the villages taken off it), by village code."""
    r = await c.get(f"{API}/rectifications", params={"campaign": campaign_id}, headers=await users("admin"))
    return {row["village"]: row for row in r.json()["items"]}


async def _list(c: httpx.AsyncClient, users: Users, campaign_id: int) -> dict[str, str]:
    return {code: row["status"] for code, row in (await _rows(c, users, campaign_id)).items()}


async def _act(c: httpx.AsyncClient, users: Users, who: str, row: dict[str, Any], **body: Any) -> httpx.Response:
    """``who`` acts on a rectification record (apply, fail, remove …)."""
    return await c.post(f"{API}/rectifications/{row['id']}/actions", headers=await users(who), json=body)


async def test_weekly_reports_and_plans_are_owed_by_the_villages_on_the_approved_list(
        anon: httpx.AsyncClient, users: Users, clock: FakeClock) -> None:
    """The finding: weekly reports were owed from launch by every B/C village of the org data. Now nothing per
    village is owed until the list is approved; then each listed village owes its plan, and the listed B/C village
    (前何庄村, B) reports weekly — 朱孙冲村 (C) is not on the list and owes nothing."""
    c = anon
    campaign = await launch(c, users, CAMPAIGN)
    assert _owed(campaign, "weekly_report") == {} and _owed(campaign, "plan") == {}
    campaign = await approve_list(c, users, clock, campaign, ["QX01001", "QX01003"])
    assert _owed(campaign, "plan") == {"QX01001": ["2025-10-24"], "QX01003": ["2025-10-24"]}
    weekly = _owed(campaign, "weekly_report")
    assert list(weekly) == ["QX01001"] and len(weekly["QX01001"]) == 48
    assert (min(weekly["QX01001"]), max(weekly["QX01001"])) == ("2025-10-31", "2026-09-24")  # 25th: a holiday
    assert await _list(c, users, campaign["id"]) == {"QX01001": "rectifying", "QX01003": "rectifying"}


async def test_a_list_that_leaves_out_a_known_weak_village_is_flagged_for_the_county(
        anon: httpx.AsyncClient, users: Users, clock: FakeClock, demo_county: Engine) -> None:
    """The finding: a list that left out a known weak village raised nothing. Known weak: the key-contact villages
    (前何庄村 B, 朱孙冲村 C) and a village still rectifying under last year's campaign that failed its acceptance
    (张胡桥村). The list names 老陈山村 and 前何庄村 only: a 零上报 escalation waits for the county's check, quoting
    each village left out and why; no case is opened before the county confirms."""
    c = anon
    await move(clock, users, at(dt.date(2024, 8, 1)))
    last_year = await launch(c, users, CAMPAIGN, year=2024)
    await approve_list(c, users, clock, last_year, ["QX01001", "QX01005", "QX01010"])
    zhang = (await _rows(c, users, last_year["id"]))["QX01005"]
    r = await _act(c, users, "qx01-liaison", zhang, action="apply", version=zhang["version"])
    assert r.status_code == 200, r.text
    r = await _act(c, users, "admin", zhang, action="fail", version=r.json()["version"], comment="班子仍不团结")
    assert (r.status_code, r.json()["status"], r.json()["failed_acceptances"]) == (200, "rectifying", 1)

    campaign = await launch(c, users, CAMPAIGN)
    await move(clock, users, at(dt.date(2025, 9, 29)))
    r = await submitted_list(c, users, campaign, {
        "villages": ["QX01001", "QX01003"], "investigation": "逐村过筛子，找准问题病灶", "committee_meeting_date": "2025-09-24"})
    assert (r.status_code, r.json()["status"]) == (200, "in_review")  # the list goes in; the county checks it
    sid = r.json()["id"]
    r = await c.get(f"{API}/escalations", params={"trigger": "zero_report"}, headers=await users("admin"))
    [esc] = r.json()["items"]
    assert (esc["submission_id"], esc["status"], esc["level_key"]) == (sid, "open", "accountability")
    assert esc["evidence"]["findings"] == [
        "“后进薄弱村党组织名单”未列入本乡镇已知的后进薄弱村：张胡桥村（2024年整顿尚未销号，验收未通过）、"
        "朱孙冲村（县级C类重点联系村，2024年整顿尚未销号）"]
    with Session(demo_county) as s:
        assert s.exec(select(AccountabilityCase)).all() == []
        mails = [m for m in s.exec(select(OutboxMessage)) if m.key.startswith("escalation:zero_report:")]
    assert EMAIL["admin"] in {m.to_addr for m in mails}

    # the county checks: the two villages belong on the list; it approves the list and adds them
    listing = (await c.get(f"{API}/submissions/{sid}", headers=await users("admin"))).json()
    assert (await decide(c, users, "admin", listing, "approve")).json()["status"] == "approved"
    for code in ("QX01005", "QX01010"):
        r = await c.post(f"{API}/rectifications", headers=await users("admin"), json={
            "campaign_id": campaign["id"], "village": code, "comment": "经县委组织部核实，该村属后进薄弱村，补入名单"})
        assert (r.status_code, r.json()["status"], r.json()["listed_on"]) == (201, "rectifying", "2025-09-29"), r.text
    campaign = await refreshed(c, users, campaign)
    assert sorted(_owed(campaign, "plan")) == ["QX01001", "QX01003", "QX01005", "QX01010"]
    assert sorted(_owed(campaign, "weekly_report")) == ["QX01001", "QX01010"]


async def test_the_county_changes_the_list_and_the_village_work_follows(
        anon: httpx.AsyncClient, users: Users, clock: FakeClock, demo_county: Engine) -> None:
    """A village added after the plans' window opened owes a plan within five working days (its request mailed at
    once) and the weekly reports ahead; a village taken off owes nothing more (its deadlines waived, its draft
    withdrawn), and the planning stage passes as soon as the villages still listed have approved plans."""
    c = anon
    campaign = await approve_list(c, users, clock, await launch(c, users, CAMPAIGN))  # QX01001, 003, 007, 010
    admin = await users("admin")
    await move(clock, users, at(dt.date(2025, 10, 21)))  # Tuesday; plans are due Friday 24 October
    tick(demo_county, at(dt.date(2025, 10, 21)))

    body = {"campaign_id": campaign["id"], "village": "QX01008", "comment": "群众反映强烈，经核实补入名单"}
    for who, change, status, detail in (
            ("qx01-liaison", {}, 403, "整顿村名单的调整由县委组织部负责"),
            ("admin", {"village": "QX02001"}, 422, "村编码 QX02001 不是本乡镇的村"),
            ("admin", {"comment": "  "}, 422, "请说明列入名单的理由"),
            ("admin", {"village": "QX01003"}, 409, "该村已在名单中（当前状态：整顿中）")):
        r = await c.post(f"{API}/rectifications", headers=await users(who), json=body | change)
        assert (r.status_code, r.json()["detail"]) == (status, detail)
    r = await c.post(f"{API}/rectifications", headers=admin, json=body)
    assert r.status_code == 201, r.text
    campaign = await refreshed(c, users, campaign)
    added = obligation(campaign, "village_plan:QX01008")
    assert (added["status"], added["nominal_due_on"], added["due_on"]) == ("open", "2025-10-24", "2025-10-28")
    assert "QX01008" not in _owed(campaign, "weekly_report")  # not a key-contact village
    with Session(demo_county) as s:
        requests = {m.key for m in s.exec(select(OutboxMessage)) if m.key.startswith(f"request:{added['id']}:")}
    assert requests  # the township is asked for the new plan at once

    # 新何湾村 (QX01007) is taken off the list while its plan is in review: the plan is withdrawn (out of the
    # reviewers' queue), its deadline waived
    r = await c.post(f"{API}/submissions", headers=await users("qx01-liaison"), json={
        "obligation_id": obligation(campaign, "village_plan:QX01007")["id"], "data": plan_of("QX01007", 1), "submit": True})
    assert (r.status_code, r.json()["status"]) == (201, "in_review"), r.text
    xinhe = (await _rows(c, users, campaign["id"]))["QX01007"]
    r = await _act(c, users, "admin", xinhe, action="remove", version=xinhe["version"])
    assert (r.status_code, r.json()["detail"]) == (422, "请说明移出名单的理由")
    r = await _act(c, users, "admin", xinhe, action="remove", version=xinhe["version"],
                   comment="经核实该村班子已调整到位，不属后进薄弱村")
    assert (r.status_code, r.json()["status"], r.json()["removed_on"]) == (200, "removed", "2025-10-21")
    campaign = await refreshed(c, users, campaign)
    assert sorted(_owed(campaign, "plan")) == ["QX01001", "QX01003", "QX01008", "QX01010"]
    assert obligation(campaign, "village_plan:QX01007")["status"] == "waived"
    r = await c.get(f"{API}/submissions", params={"campaign": campaign["id"]}, headers=admin)
    plans = {s["subject"]: s["status"] for s in r.json()["items"] if s["form"] == "village_plan"}
    assert plans["QX01007"] == "withdrawn"
    ledger = {row["村编码"]: row for row in sheet_rows(await c.get(f"{API}/ledgers/rectifications.xlsx",
                                                                 params={"campaign": campaign["id"]}, headers=admin))}
    assert (ledger["QX01007"]["状态"], ledger["QX01007"]["移出名单日期"]) == ("已移出名单", dt.datetime(2025, 10, 21))
    assert (ledger["QX01008"]["状态"], ledger["QX01008"]["列入名单日期"]) == ("整顿中", dt.datetime(2025, 10, 21))
    queue = (await c.get(f"{API}/reviews/queue", headers=await users("qx01-secretary"))).json()["items"]
    assert [s["subject"] for s in queue] == []

    # every listed village's plan approved: the planning stage passes (the removed village is not waited for)
    for n, code in enumerate(["QX01001", "QX01003", "QX01008", "QX01010"]):
        r = await c.post(f"{API}/submissions", headers=await users("qx01-liaison"), json={
            "obligation_id": obligation(campaign, f"village_plan:{code}")["id"], "data": plan_of(code, n), "submit": True})
        assert r.status_code == 201, r.text
        sub = (await decide(c, users, "qx01-secretary", r.json(), "approve")).json()
        stages = {s["key"]: s["status"] for s in (await refreshed(c, users, campaign))["stages"]}
        assert stages["planning"] != "passed"
        assert (await decide(c, users, "admin", sub, "approve")).json()["status"] == "approved"
    stages = {s["key"]: s["status"] for s in (await refreshed(c, users, campaign))["stages"]}
    assert stages["planning"] == "passed"

    # taken off once, listed again: rectifying, its plan owed again
    r = await c.post(f"{API}/rectifications", headers=admin, json=body | {"village": "QX01007"})
    assert (r.status_code, r.json()["status"], r.json()["removed_on"]) == (201, "rectifying", None)
    assert obligation(await refreshed(c, users, campaign), "village_plan:QX01007")["status"] == "open"


async def test_the_list_can_be_changed_only_once_approved_and_a_village_only_while_it_rectifies(
        anon: httpx.AsyncClient, users: Users, clock: FakeClock) -> None:
    c = anon
    campaign = await launch(c, users, CAMPAIGN)
    r = await c.post(f"{API}/rectifications", headers=await users("admin"), json={
        "campaign_id": campaign["id"], "village": "QX01003", "comment": "补入名单"})
    assert (r.status_code, r.json()["detail"]) == (
        409, "本乡镇的后进薄弱村名单尚未经县委组织部审核通过：请在审核名单时退回修改，通过后再调整名单")
    campaign = await approve_list(c, users, clock, campaign)
    row = (await _rows(c, users, campaign["id"]))["QX01003"]
    r = await _act(c, users, "qx01-liaison", row, action="apply", version=row["version"])
    assert r.status_code == 200, r.text
    r = await _act(c, users, "county-reviewer", row, action="remove", version=r.json()["version"], comment="误报")
    assert (r.status_code, r.json()["detail"]) == (403, "整顿村名单的调整由县委组织部负责")
    r = await _act(c, users, "admin", row, action="remove", version=row["version"] + 1, comment="误报")
    assert (r.status_code, r.json()["detail"]) == (409, "只有整顿中的村可以移出名单（当前状态：已申请验收）")


async def test_an_empty_approved_list_owes_no_plans_until_a_village_is_added(
        anon: httpx.AsyncClient, users: Users, clock: FakeClock) -> None:
    """A zero report the county approves (after its check) leaves nothing to plan: the planning stage is not
    applicable (不适用) rather than overdue; a village the county adds later opens it again."""
    c = anon
    campaign = await launch(c, users, CAMPAIGN)
    await move(clock, users, at(dt.date(2025, 9, 26)))
    r = await submitted_list(c, users, campaign, {
        "villages": [], "investigation": "逐村排查，未发现后进薄弱村", "committee_meeting_date": "2025-09-24",
        "zero_report_reason": "全镇10个村党组织均达到“五好”标准，经党委会逐一研究确认"})
    assert (await decide(c, users, "admin", r.json(), "approve")).json()["status"] == "approved"
    campaign = await refreshed(c, users, campaign)
    assert {s["key"]: s["status"] for s in campaign["stages"]}["planning"] == "waived"
    assert _owed(campaign, "plan") == {}
    await move(clock, users, at(dt.date(2025, 10, 13)))
    r = await c.post(f"{API}/rectifications", headers=await users("admin"), json={
        "campaign_id": campaign["id"], "village": "QX01001", "comment": "经核实，市级B类重点联系村应列入名单"})
    assert r.status_code == 201, r.text
    campaign = await refreshed(c, users, campaign)
    assert {s["key"]: s["status"] for s in campaign["stages"]}["planning"] == "open"
    assert _owed(campaign, "plan") == {"QX01001": ["2025-10-24"]}
