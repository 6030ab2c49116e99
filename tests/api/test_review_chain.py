"""Whole review chains through the HTTP API, as the real demo users: drafts, submission, returns, approvals,
stage gates, rectification of the listed villages, escalation of endless returns and the one-vote veto."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import httpx
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from core.clock import FakeClock
from models import Escalation, OrgUnit, OutboxMessage, Review, Submission, Veto, VillageRectification
from tests.support.clock import at
from tests.support.review_chain import (
    API,
    EMAIL,
    PDF,
    PLAN,
    QUARTERLY_DONE,
    Users,
    act,
    apply_for_model_site,
    approve_list,
    decide,
    draft_list,
    launch,
    model_site_application,
    move,
    obligation,
    outbox,
    plan_of,
    refreshed,  # the review-chain world over HTTP
    submitted_list,
    upload_pdf,
    vetoed_application,
)
from tests.support.tick import tick

# ---- (a) a quarterly report through township and county review --------------------------------------------


async def test_quarterly_report_chain(anon: httpx.AsyncClient, users: Users, clock: FakeClock, demo_county: Engine) -> None:
    c = anon
    campaign = await launch(c, users, "weak_village_rectification", via_api=True)
    q4 = obligation(campaign, "quarterly_report", "2025Q4")
    assert q4["due_on"] == "2025-12-19"
    await move(clock, users, at(dt.date(2025, 12, 10)))

    liaison, secretary = await users("qx01-liaison"), await users("qx01-secretary")
    todos = (await c.get(f"{API}/todos", headers=liaison)).json()["items"]
    todo = next(t for t in todos if t["obligation_id"] == q4["id"])
    assert (todo["title"], todo["due_on"], todo["days_left"], todo["submission_id"]) == (q4["title"], "2025-12-19", 9, None)

    r = await c.post(f"{API}/submissions", headers=liaison, json={
        "obligation_id": q4["id"], "data": {"basic_situation": "全镇5个后进村整顿有序推进", "results": "新发展党员3名"}})
    assert r.status_code == 201, r.text
    sub = r.json()
    sid = sub["id"]
    assert r.headers["location"] == f"{API}/submissions/{sid}"
    assert (sub["status"], sub["round"], sub["version"], sub["gate"]) == ("draft", 1, 1, None)
    assert [lv["name"] for lv in sub["chain"]] == ["乡（镇）党委审核", "县委组织部审核"]
    todo = next(t for t in (await c.get(f"{API}/todos", headers=liaison)).json()["items"] if t["obligation_id"] == q4["id"])
    assert (todo["submission_id"], todo["submission_status"]) == (sid, "draft")

    r = await act(c, users, "qx01-liaison", sid, "submit", version=sub["version"])
    assert r.status_code == 422, r.text
    problem = r.json()
    assert {e["field"] for e in problem["errors"]} == {"data.main_problems", "data.next_steps"}
    assert "存在的主要问题" in problem["detail"] and "下步打算" in problem["detail"]

    r = await c.patch(f"{API}/submissions/{sid}", headers=liaison, json={"version": sub["version"], "data": QUARTERLY_DONE})
    assert r.status_code == 200, r.text
    sub = r.json()
    assert (sub["status"], sub["version"], sub["data"]) == ("draft", 2, QUARTERLY_DONE)

    r = await act(c, users, "qx01-liaison", sid, "submit", version=sub["version"])
    assert r.status_code == 200, r.text
    sub = r.json()
    assert (sub["status"], sub["current_level"], sub["current_level_name"], sub["round"]) == (
        "in_review", 0, "乡（镇）党委审核", 1)

    queue = await c.get(f"{API}/reviews/queue", headers=secretary)
    assert queue.status_code == 200
    assert [s["id"] for s in queue.json()["items"]] == [sid]
    r = await c.get(f"{API}/reviews/queue", headers=liaison)
    assert r.status_code == 403
    for who in ("county-reviewer", "admin", "qx02-secretary"):  # not their level (yet) or not their township
        assert (await c.get(f"{API}/reviews/queue", headers=await users(who))).json()["items"] == []

    r = await decide(c, users, "qx01-secretary", sub, "return")
    assert r.status_code == 422
    assert r.json()["errors"] == [{"field": "comment", "message": "required"}]
    r = await decide(c, users, "qx01-secretary", sub, "return", comment="   ")
    assert r.status_code == 422
    r = await decide(c, users, "qx01-secretary", sub, "return", comment="成效写得太笼统，请列出具体数字")
    assert r.status_code == 200, r.text
    sub = r.json()
    assert (sub["status"], sub["returns"], sub["round"], sub["current_level_name"]) == ("returned", 1, 1, None)
    assert (await c.get(f"{API}/reviews/queue", headers=secretary)).json()["items"] == []

    revised = QUARTERLY_DONE | {"results": "新发展党员3名，培养入党积极分子12名"}
    r = await c.patch(f"{API}/submissions/{sid}", headers=liaison, json={"version": sub["version"], "data": revised})
    assert r.status_code == 200, r.text
    r = await act(c, users, "qx01-liaison", sid, "submit", version=r.json()["version"])
    assert r.status_code == 200, r.text
    sub = r.json()
    assert (sub["status"], sub["round"], sub["current_level"]) == ("in_review", 2, 0)

    r = await decide(c, users, "qx01-secretary", sub, "approve")
    assert r.status_code == 200, r.text
    sub = r.json()
    assert (sub["status"], sub["current_level"], sub["current_level_name"]) == ("in_review", 1, "县委组织部审核")
    assert (await c.get(f"{API}/reviews/queue", headers=secretary)).json()["items"] == []
    assert [s["id"] for s in (await c.get(f"{API}/reviews/queue", headers=await users("county-reviewer"))).json()["items"]] == [sid]

    r = await decide(c, users, "county-reviewer", sub, "approve", version=sub["version"] - 1)
    assert r.status_code == 409, r.text
    assert r.json()["errors"] == [{"field": "version", "message": "stale"}]
    assert str(sub["version"]) in r.json()["detail"]
    r = await decide(c, users, "county-reviewer", sub, "approve")
    assert r.status_code == 200, r.text
    sub = r.json()
    assert sub["status"] == "approved"
    assert sub["decided_at"] is not None

    r = await c.get(f"{API}/submissions/{sid}", headers=liaison)
    assert r.status_code == 200
    detail = r.json()
    assert [x["round"] for x in detail["rounds"]] == [1, 2]
    assert detail["rounds"][0]["data"] == QUARTERLY_DONE
    assert detail["rounds"][1]["data"] == revised
    assert [(x["round"], x["level"], x["decision"], x["reviewer"]) for x in detail["reviews"]] == [
        (1, 0, "return", "青石镇党委审核人"), (2, 0, "approve", "青石镇党委审核人"), (2, 1, "approve", "县委组织部审核员"),
    ]
    assert detail["reviews"][0]["comment"] == "成效写得太笼统，请列出具体数字"
    assert detail["changes_since_last_round"] == [
        {"field": "results", "before": QUARTERLY_DONE["results"], "after": revised["results"]}]

    campaign = await refreshed(c, users, campaign)
    assert obligation(campaign, "quarterly_report", "2025Q4")["status"] == "met"
    assert all(o["status"] != "met" for o in campaign["obligations"] if o["id"] != q4["id"])
    assert q4["id"] not in [t["obligation_id"] for t in (await c.get(f"{API}/todos", headers=liaison)).json()["items"]]

    # one mail per notification, to the people who have to act or whose material it is
    assert outbox(demo_county, sid) == [
        (f"submitted:{sid}:1:0", EMAIL["qx01-secretary"]),
        (f"return:{sid}:1:0", EMAIL["qx01-liaison"]),
        (f"submitted:{sid}:2:0", EMAIL["qx01-secretary"]),
        (f"submitted:{sid}:2:1", EMAIL["admin"]),
        (f"submitted:{sid}:2:1", EMAIL["county-reviewer"]),
        (f"approve:{sid}:2:1", EMAIL["qx01-liaison"]),
    ]
    with Session(demo_county) as s:
        mails = {m.key.rsplit(":", 1)[0] + ":" + m.to_addr: m for m in s.exec(select(OutboxMessage))}
    assert len(mails) == 6  # nothing else was sent
    returned_mail = mails[f"return:{sid}:1:0:{EMAIL['qx01-liaison']}"]
    assert "成效写得太笼统，请列出具体数字" in returned_mail.body_text
    assert f"/submissions/{sid}" in returned_mail.body_text
    assert returned_mail.status == "pending"

    admin = await users("admin")
    r = await c.get(f"{API}/audit", params={"subject": f"submission:{sid}"}, headers=admin)
    assert r.status_code == 200
    events = r.json()["items"]
    assert [e["action"] for e in events] == [
        "submission.create", "submission.update", "submission.submit", "submission.return", "submission.update",
        "submission.submit", "submission.approve", "submission.approve",
    ]
    assert [e["actor"] for e in events] == ["qx01-liaison"] * 3 + ["qx01-secretary"] + ["qx01-liaison"] * 2 + [
        "qx01-secretary", "county-reviewer"]
    assert [e["after"]["status"] for e in events] == [
        "draft", "draft", "in_review", "returned", "returned", "in_review", "in_review", "approved"]
    assert events[3]["after"]["comment"] == "成效写得太笼统，请列出具体数字"
    assert [e["after"]["version"] for e in events] == list(range(1, 9))
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(seqs)
    assert (await c.get(f"{API}/audit", params={"subject": f"submission:{sid}"}, headers=liaison)).status_code == 403
    verify = (await c.get(f"{API}/audit/verify", headers=admin)).json()
    assert verify["ok"] is True and verify["first_bad_seq"] is None and verify["checked"] >= len(events)


async def test_quarterly_report_first_submitted_after_the_due_date_is_late(
        anon: httpx.AsyncClient, users: Users, clock: FakeClock) -> None:
    c = anon
    campaign = await launch(c, users, "weak_village_rectification")
    q4 = obligation(campaign, "quarterly_report", "2025Q4")
    # half an hour after midnight in China following the due Friday 19 Dec (still the 19th in UTC)
    await move(clock, users, at(dt.date(2025, 12, 20), 0, 30))
    liaison = await users("qx01-liaison")
    todo = next(t for t in (await c.get(f"{API}/todos", headers=liaison)).json()["items"] if t["obligation_id"] == q4["id"])
    assert todo["days_left"] == -1
    r = await c.post(f"{API}/submissions", headers=liaison,
                     json={"obligation_id": q4["id"], "data": QUARTERLY_DONE, "submit": True})
    assert r.status_code == 201, r.text
    sub = r.json()
    assert (sub["status"], sub["current_level"], sub["round"]) == ("in_review", 0, 1)
    sub = (await decide(c, users, "qx01-secretary", sub, "approve")).json()
    r = await decide(c, users, "admin", sub, "approve")  # an admin may decide at a county reviewer level
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "approved"
    campaign = await refreshed(c, users, campaign)
    assert obligation(campaign, "quarterly_report", "2025Q4")["status"] == "late"
    events = (await c.get(f"{API}/audit", params={"subject": f"obligation:{q4['id']}"}, headers=await users("admin"))).json()
    assert [(e["action"], e["after"]["due_on"], e["after"]["met_on"]) for e in events["items"]] == [
        ("obligation.late", "2025-12-19", "2025-12-20")]


async def test_submission_rights_and_visibility(anon: httpx.AsyncClient, users: Users, clock: FakeClock) -> None:
    c = anon
    campaign = await launch(c, users, "weak_village_rectification")
    q4 = obligation(campaign, "quarterly_report", "2025Q4")
    await move(clock, users, at(dt.date(2025, 12, 10)))
    body = {"obligation_id": q4["id"], "data": QUARTERLY_DONE}
    for who in ("qx01-secretary", "admin", "county-reviewer", "observer"):
        r = await c.post(f"{API}/submissions", headers=await users(who), json=body)
        assert r.status_code == 403, (who, r.text)
    r = await c.post(f"{API}/submissions", headers=await users("qx02-liaison"), json=body)
    assert r.status_code == 404  # another township's deadline does not exist for them
    r = await c.post(f"{API}/submissions", headers=await users("qx01-liaison"), json=body)
    assert r.status_code == 201
    sub = r.json()
    again = await c.post(f"{API}/submissions", headers=await users("qx01-liaison"), json=body)
    assert again.status_code == 409
    assert again.json()["errors"] == [{"field": "obligation_id", "message": "exists"}]
    assert (await c.get(f"{API}/submissions/{sub['id']}", headers=await users("qx02-liaison"))).status_code == 404
    assert (await c.get(f"{API}/submissions/{sub['id']}", headers=await users("observer"))).status_code == 200
    # the secretary cannot decide on a draft, and a submission is withdrawn only before the first approval
    assert (await decide(c, users, "qx01-secretary", sub, "approve")).status_code == 409
    sub = (await act(c, users, "qx01-liaison", sub["id"], "submit", version=sub["version"])).json()
    assert (await act(c, users, "qx01-secretary", sub["id"], "withdraw", version=sub["version"])).status_code == 403
    sub = (await decide(c, users, "qx01-secretary", sub, "approve")).json()
    r = await act(c, users, "qx01-liaison", sub["id"], "withdraw", version=sub["version"])
    assert r.status_code == 409
    r = await decide(c, users, "qx01-secretary", sub, "approve")  # not the secretary's level any more
    assert r.status_code == 403
    assert "县委组织部审核" in r.json()["detail"]
    r = await act(c, users, "county-reviewer", sub["id"], "decisions", decision="approve")
    assert r.status_code == 422  # the version is required
    assert (await c.get(f"{API}/submissions/{sub['id']}", headers=await users("admin"))).json()["status"] == "in_review"


async def test_withdraw_then_resubmit(anon: httpx.AsyncClient, users: Users, clock: FakeClock) -> None:
    c = anon
    campaign = await launch(c, users, "weak_village_rectification")
    q4 = obligation(campaign, "quarterly_report", "2025Q4")
    await move(clock, users, at(dt.date(2025, 12, 10)))
    r = await c.post(f"{API}/submissions", headers=await users("qx01-liaison"),
                     json={"obligation_id": q4["id"], "data": QUARTERLY_DONE, "submit": True})
    sub = r.json()
    assert (r.status_code, sub["status"]) == (201, "in_review")
    r = await act(c, users, "qx01-liaison", sub["id"], "withdraw", version=sub["version"])
    assert (r.status_code, r.json()["status"]) == (200, "draft")
    r = await act(c, users, "qx01-liaison", sub["id"], "submit", version=r.json()["version"])
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "in_review"


# ---- (b) the screening gate, then the listed villages' rectification ---------------------------------------


async def test_weak_village_list_passes_the_screening_gate_and_opens_rectifications(
        anon: httpx.AsyncClient, users: Users, clock: FakeClock, demo_county: Engine) -> None:
    c = anon
    campaign = await launch(c, users, "weak_village_rectification")
    cid = campaign["id"]
    listing = obligation(campaign, "weak_village_list")
    assert (listing["due_on"], listing["stage"]) == ("2025-10-10", "screening")
    assert [s["status"] for s in campaign["stages"] if s["key"] == "screening"] == ["pending"]
    await move(clock, users, at(dt.date(2025, 9, 26)))
    liaison = await users("qx01-liaison")

    sub = await draft_list(c, users, listing)
    assert (sub["gate"], sub["form"], [lv["role"] for lv in sub["chain"]], sub["max_return_rounds"]) == (
        "weak_village_list", "weak_village_list", ["admin"], 1)
    r = await c.patch(f"{API}/submissions/{sub['id']}", headers=liaison,
                      json={"version": sub["version"], "data": sub["data"] | {"committee_minutes": [999_999]}})
    assert r.status_code == 422  # an attachment that is not this submission's
    assert r.json()["errors"][0]["field"] == "data.committee_minutes"
    r = await c.post(f"{API}/submissions/{sub['id']}/attachments", headers=liaison,
                     files={"file": ("纪要.pdf", b"not a pdf", "application/pdf")})
    assert r.status_code == 422
    attachment = await upload_pdf(c, users, sub["id"])
    r = await c.patch(f"{API}/submissions/{sub['id']}", headers=liaison,
                      json={"version": sub["version"], "data": sub["data"] | {"committee_minutes": [attachment]}})
    assert r.status_code == 200, r.text
    r = await act(c, users, "qx01-liaison", sub["id"], "submit", version=r.json()["version"])
    assert r.status_code == 200, r.text
    sub = r.json()
    assert (sub["status"], sub["current_level_name"]) == ("in_review", "县委组织部组织科")
    assert sub["attachments"][0]["id"] == attachment and sub["attachments"][0]["content_type"] == "application/pdf"
    download = await c.get(sub["attachments"][0]["url"], headers=await users("admin"))
    assert (download.status_code, download.content) == (200, PDF)
    # a county reviewer cannot decide at an admin-only level
    assert (await decide(c, users, "county-reviewer", sub, "approve")).status_code == 403
    assert (await c.get(f"{API}/reviews/queue", headers=await users("county-reviewer"))).json()["items"] == []

    r = await decide(c, users, "admin", sub, "approve")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "approved"
    campaign = (await c.get(f"{API}/campaigns/{cid}", headers=await users("admin"))).json()
    assert {s["key"]: s["status"] for s in campaign["stages"]}["screening"] == "passed"
    assert obligation(campaign, "weak_village_list")["status"] == "met"
    with Session(demo_county) as s:
        stage_mail = [m.to_addr for m in s.exec(select(OutboxMessage)) if m.key.startswith("stage_passed:")]
    assert stage_mail == [EMAIL["qx01-liaison"]]

    rows = (await c.get(f"{API}/rectifications", params={"campaign": cid}, headers=liaison)).json()["items"]
    assert [(x["village"], x["status"], x["version"]) for x in rows] == [("QX01003", "rectifying", 1), ("QX01007", "rectifying", 1)]
    assert (await c.get(f"{API}/rectifications", headers=await users("qx02-liaison"))).json()["items"] == []
    rid = rows[0]["id"]
    path = f"{API}/rectifications/{rid}/actions"

    async def rect(who: str, action: str, version: int, comment: str | None = None) -> httpx.Response:
        body: dict[str, Any] = {"action": action, "version": version}
        if comment is not None:
            body["comment"] = comment
        return await c.post(path, json=body, headers=await users(who))

    assert (await rect("admin", "apply", 1)).status_code == 403  # the township applies
    assert (await rect("qx01-secretary", "apply", 1)).status_code == 403
    assert (await rect("qx02-liaison", "apply", 1)).status_code == 404
    r = await rect("qx01-liaison", "apply", 1)
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["version"]) == ("applied", 2)
    assert (await rect("qx01-liaison", "accept", 2)).status_code == 403  # the county accepts
    assert (await rect("admin", "accept", 1)).status_code == 409  # stale
    await move(clock, users, at(dt.date(2025, 11, 3)))
    r = await rect("admin", "accept", 2)
    assert r.status_code == 200, r.text
    row = r.json()
    assert (row["status"], row["accepted_on"], row["consolidation_ends_on"], row["version"]) == (
        "consolidating", "2025-11-03", "2026-11-03", 3)
    assert dt.date.fromisoformat(row["consolidation_ends_on"]) - dt.date(2025, 11, 3) == dt.timedelta(days=365)

    await move(clock, users, at(dt.date(2026, 11, 2)))
    r = await rect("admin", "close", 3)
    assert r.status_code == 409
    assert "2026年11月3日" in r.json()["detail"]
    await move(clock, users, at(dt.date(2026, 11, 4)))
    assert (await rect("county-reviewer", "close", 2)).status_code == 409  # stale
    r = await rect("county-reviewer", "close", 3)
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["closed_on"], r.json()["version"]) == ("closed", "2026-11-04", 4)
    r = await rect("admin", "relapse", 4)
    assert r.status_code == 422  # a relapse needs its reason
    r = await rect("admin", "relapse", 4, comment="村两委班子再次出现严重分歧")
    assert r.status_code == 200, r.text
    row = r.json()
    assert (row["status"], row["relapses"], row["closed_on"], row["consolidation_ends_on"], row["note"], row["version"]) == (
        "rectifying", 1, None, None, "村两委班子再次出现严重分歧", 5)

    listed = await c.get(f"{API}/rectifications", params={"campaign": cid}, headers=await users("qx01-liaison"))
    other = listed.json()["items"][1]
    assert (other["village"], other["status"], other["version"]) == ("QX01007", "rectifying", 1)
    r = await c.post(f"{API}/rectifications/{other['id']}/actions", json={"action": "apply", "version": 1},
                     headers=await users("qx01-liaison"))
    assert r.status_code == 200, r.text
    r = await c.post(f"{API}/rectifications/{other['id']}/actions", json={"action": "fail", "version": 2},
                     headers=await users("admin"))
    assert (r.json()["status"], r.json()["failed_acceptances"]) == ("rectifying", 1)

    admin = await users("admin")
    events = (await c.get(f"{API}/audit", params={"subject": f"rectification:{rid}"}, headers=admin)).json()["items"]
    assert [e["action"] for e in events] == [
        "rectification.apply", "rectification.accept", "rectification.close", "rectification.relapse"]
    assert (await c.get(f"{API}/audit/verify", headers=admin)).json()["ok"] is True
    with Session(demo_county) as s:
        villages = {u.id: u.code for u in s.exec(select(OrgUnit).where(OrgUnit.kind == "village"))}
        stored = {villages[r.village_id]: (r.status, r.relapses) for r in s.exec(select(VillageRectification))}
    assert stored == {"QX01003": ("rectifying", 1), "QX01007": ("rectifying", 0)}


# ---- (c) a 一村一策 plan returned more often than the definition allows ------------------------------------


async def test_village_plan_returned_past_the_bound_escalates(
        anon: httpx.AsyncClient, users: Users, clock: FakeClock, demo_county: Engine) -> None:
    c = anon
    campaign = await approve_list(c, users, clock, await launch(c, users, "weak_village_rectification"))
    plan = obligation(campaign, "village_plan:QX01003")
    assert (plan["due_on"], plan["subject_name"]) == ("2025-10-24", "老陈山村")
    await move(clock, users, at(dt.date(2025, 10, 16)))
    liaison = await users("qx01-liaison")
    r = await c.post(f"{API}/submissions", headers=liaison,
                     json={"obligation_id": plan["id"], "subject": "QX02001", "data": PLAN, "submit": True})
    assert r.status_code == 422  # not a village of this township
    assert r.json()["errors"] == [{"field": "subject", "message": "unknown village"}]
    r = await c.post(f"{API}/submissions", headers=liaison,
                     json={"obligation_id": plan["id"], "subject": "QX01007", "data": PLAN, "submit": True})
    assert (r.status_code, r.json()["detail"]) == (
        422, "这个截止事项是老陈山村（QX01003）的，只能填报该村的材料；其他村请在各自的截止事项下填报")
    r = await c.post(f"{API}/submissions", headers=liaison, json={"obligation_id": plan["id"], "data": PLAN, "submit": True})
    assert r.status_code == 201, r.text
    sub = r.json()
    assert (sub["subject"], sub["gate"], sub["max_return_rounds"], sub["status"]) == ("QX01003", "village_plan", 2, "in_review")
    sid = sub["id"]
    # a second village's plan answers its own deadline
    r = await c.post(f"{API}/submissions", headers=liaison,
                     json={"obligation_id": obligation(campaign, "village_plan:QX01007")["id"], "data": plan_of("QX01007", 1)})
    assert (r.status_code, r.json()["subject"]) == (201, "QX01007")

    def escalations() -> list[Escalation]:
        with Session(demo_county) as s:
            return list(s.exec(select(Escalation).where(Escalation.submission_id == sid)))

    for n in (1, 2, 3):
        r = await decide(c, users, "qx01-secretary", sub, "return", comment=f"第{n}次退回：整改时限不明确")
        assert r.status_code == 200, r.text
        sub = r.json()
        assert (sub["status"], sub["returns"], sub["round"]) == ("returned", n, n)
        if n < 3:
            assert escalations() == []
            r = await c.patch(f"{API}/submissions/{sid}", headers=liaison,
                              json={"version": sub["version"], "data": PLAN | {"time_limit": f"2026-0{n + 6}-30"}})
            assert r.status_code == 200, r.text
            r = await act(c, users, "qx01-liaison", sid, "submit", version=r.json()["version"])
            assert r.status_code == 200, r.text
            sub = r.json()
            assert sub["round"] == n + 1

    [esc] = escalations()
    assert (esc.trigger, esc.level, esc.level_key, esc.status, esc.obligation_id) == (
        "returns_exceeded", 1, "urge", "open", plan["id"])
    assert "3次" in esc.reason and "2次" in esc.reason
    with Session(demo_county) as s:
        mails = [(m.to_addr, m.subject) for m in s.exec(select(OutboxMessage).where(
            col(OutboxMessage.key).startswith(f"returns_exceeded:{sid}:")))]
    assert [to for to, _ in mails] == [EMAIL["admin"]]
    assert mails[0][1]
    assert outbox(demo_county, sid).count((f"return:{sid}:3:0", EMAIL["qx01-liaison"])) == 1
    admin = await users("admin")
    events = (await c.get(f"{API}/audit", params={"subject": f"escalation:{esc.id}"}, headers=admin)).json()["items"]
    assert [(e["action"], e["after"]["trigger"], e["after"]["evidence"]["returns"]) for e in events] == [
        ("escalation.open", "returns_exceeded", 3)]
    with Session(demo_county) as s:
        reviews = s.exec(select(Review).where(Review.submission_id == sid).order_by(col(Review.id))).all()
    assert [(rv.round, rv.level, rv.decision) for rv in reviews] == [(1, 0, "return"), (2, 0, "return"), (3, 0, "return")]


# ---- (d) the one-vote veto of a model-site application ----------------------------------------------------


async def test_veto_rejects_the_application_and_bans_a_new_one(
        anon: httpx.AsyncClient, users: Users, clock: FakeClock, demo_county: Engine) -> None:
    c = anon
    campaign = await launch(c, users, "five_good_model_site")
    assert obligation(campaign, "application")["due_on"] == "2026-03-31"
    sub = await model_site_application(c, users, clock, campaign)
    assert (sub["gate"], [lv["name"] for lv in sub["chain"]]) == ("application", ["乡（镇）党委检查", "县委组织部复查验收"])
    assert sub["status"] == "in_review"
    sub = (await decide(c, users, "qx01-secretary", sub, "approve")).json()
    assert (sub["status"], sub["current_level_name"]) == ("in_review", "县委组织部复查验收")

    veto = {"check": "veto", "comment": "该村发生安全生产责任事故", "version": sub["version"]}
    r = await act(c, users, "county-reviewer", sub["id"], "veto", **veto)
    assert r.status_code == 403
    assert "一票否决" in r.json()["detail"]
    r = await act(c, users, "admin", sub["id"], "veto", **(veto | {"check": "no_such_check"}))
    assert r.status_code == 422
    assert "veto" in r.json()["detail"] and r.json()["errors"] == [{"field": "check", "message": "unknown"}]
    r = await act(c, users, "admin", sub["id"], "veto", **(veto | {"version": sub["version"] - 1}))
    assert r.status_code == 409
    r = await act(c, users, "admin", sub["id"], "veto", **veto)
    assert r.status_code == 200, r.text
    vetoed = r.json()
    assert vetoed["status"] == "rejected"
    assert vetoed["reviews"][-1]["decision"] == "veto"
    assert vetoed["reviews"][-1]["comment"] == "该村发生安全生产责任事故"
    assert vetoed["reviews"][-1]["level_name"].startswith("无党风廉政")
    r = await act(c, users, "admin", sub["id"], "veto", **(veto | {"version": vetoed["version"]}))
    assert r.status_code == 409  # once rejected, nothing left to veto

    with Session(demo_county) as s:
        [row] = s.exec(select(Veto)).all()
        township = s.exec(select(OrgUnit).where(OrgUnit.code == "QX01")).one()
    assert (row.definition_key, row.subject_id, row.submission_id, row.check_key, row.banned_until_year) == (
        "five_good_model_site", township.id, sub["id"], "veto", 2028)
    assert outbox(demo_county, sub["id"])[-1] == (f"veto:{sub['id']}", EMAIL["qx01-liaison"])

    # a new application for the same deadline is refused: the ban is checked before the one-per-slot rule
    r = await apply_for_model_site(c, users, campaign)
    assert r.status_code == 403, r.text
    assert "一票否决" in r.json()["detail"] and "2028" in r.json()["detail"]
    with Session(demo_county) as s:
        applications = s.exec(select(Submission).where(Submission.campaign_id == campaign["id"],
                                                       Submission.form_key == "application")).all()
        assert len(applications) == 1
    campaign = await refreshed(c, users, campaign)
    assert {s["key"]: s["status"] for s in campaign["stages"]}["inspect"] != "passed"


async def test_veto_ban_cannot_be_sidestepped_with_a_village_subject(
        anon: httpx.AsyncClient, users: Users, clock: FakeClock) -> None:
    campaign, _ = await vetoed_application(anon, users, clock)
    r = await apply_for_model_site(anon, users, campaign, subject="QX01001")
    assert r.status_code == 403, r.text


async def test_veto_ban_message_matches_the_years_refused(anon: httpx.AsyncClient, users: Users, clock: FakeClock) -> None:
    c = anon
    await vetoed_application(c, users, clock)
    outcome = {}
    for year in (2028, 2029):
        later = await launch(c, users, "five_good_model_site", year=year)
        r = await apply_for_model_site(c, users, later)
        outcome[year] = (r.status_code, r.json().get("detail", ""))
    assert outcome[2029][0] == 201  # the ban ends
    status, detail = outcome[2028]
    assert status == 403, detail  # the last year of the ban
    match = re.search(r"(\d{4})年（含）以前", detail)
    assert match is not None and int(match.group(1)) == 2028, detail


async def test_veto_ban_applies_to_applications_not_to_monthly_reports(
        anon: httpx.AsyncClient, users: Users, clock: FakeClock) -> None:
    c = anon
    campaign, _ = await vetoed_application(c, users, clock)
    march = obligation(campaign, "ledger_progress", "2026-03")
    r = await c.post(f"{API}/submissions", headers=await users("qx01-liaison"), json={"obligation_id": march["id"], "data": {}})
    assert r.status_code == 201, r.text


async def test_veto_after_approval_undoes_the_obligation(anon: httpx.AsyncClient, users: Users, clock: FakeClock) -> None:
    c = anon
    campaign = await launch(c, users, "five_good_model_site")
    sub = await model_site_application(c, users, clock, campaign)
    sub = (await decide(c, users, "qx01-secretary", sub, "approve")).json()
    sub = (await decide(c, users, "admin", sub, "approve")).json()
    assert sub["status"] == "approved"
    before = await refreshed(c, users, campaign)
    assert {s["key"]: s["status"] for s in before["stages"]}["inspect"] == "passed"
    assert obligation(before, "application")["status"] == "met"
    r = await act(c, users, "admin", sub["id"], "veto", check="veto", comment="复查发现信访稳定问题", version=sub["version"])
    assert (r.status_code, r.json()["status"]) == (200, "rejected")
    after = await refreshed(c, users, campaign)
    assert {s["key"]: s["status"] for s in after["stages"]}["inspect"] == "vetoed"
    assert obligation(after, "application")["status"] != "met"


# ---- definition gaps around the weak-village list and the plans -------------------------------------------


async def test_zero_report_with_a_reason_can_be_submitted(anon: httpx.AsyncClient, users: Users, clock: FakeClock) -> None:
    campaign = await launch(anon, users, "weak_village_rectification")
    await move(clock, users, at(dt.date(2025, 9, 26)))
    r = await submitted_list(anon, users, campaign, {
        "villages": [], "investigation": "逐村排查，未发现后进薄弱村", "committee_meeting_date": "2025-09-24",
        "zero_report_reason": "全镇10个村党组织均达到“五好”标准，经党委会逐一研究确认"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "in_review"


async def test_a_village_weekly_report_is_met_by_that_village_alone(
        anon: httpx.AsyncClient, users: Users, clock: FakeClock) -> None:
    """A weekly report is owed by one listed key-contact village: approving it meets the obligation even though
    the township's weak-village list names other villages too (unlike 一村一策 plans, owed by every listed village)."""
    c = anon
    campaign = await approve_list(c, users, clock, await launch(c, users, "weak_village_rectification"))
    weekly = sorted((o for o in campaign["obligations"] if o["kind"] == "weekly_report"),
                    key=lambda o: (o["due_on"], o["subject"]))
    first = weekly[0]
    await move(clock, users, at(dt.date.fromisoformat(first["opens_on"])))
    r = await c.post(f"{API}/submissions", headers=await users("qx01-liaison"), json={
        "obligation_id": first["id"], "data": {"progress": "调整支部书记，恢复三会一课", "problems": "两名党员长期外出，组织生活参加不全",
                                               "next_week": "召开党员大会"}})
    assert r.status_code == 201, r.text
    sub = (await act(c, users, "qx01-liaison", r.json()["id"], "submit", version=r.json()["version"])).json()
    assert sub["status"] == "in_review", sub
    for level in sub["chain"]:
        reviewer = "admin" if level["role"] == "admin" else "county-reviewer"
        r = await decide(c, users, reviewer, sub, "approve")
        assert r.status_code == 200, r.text
        sub = r.json()
    assert sub["status"] == "approved"
    campaign = await refreshed(c, users, campaign)
    statuses = {o["id"]: o["status"] for o in campaign["obligations"]}
    assert statuses[first["id"]] == "met"
    assert all(statuses[o["id"]] != "met" for o in weekly[1:])  # the other villages still owe theirs


async def test_a_report_sent_on_time_and_returned_late_gets_time_to_revise(
        anon: httpx.AsyncClient, users: Users, clock: FakeClock, demo_county: Engine) -> None:
    """Returned after its deadline, a report first sent on time is not 逾期未报: the deadline moves to five
    working days after the return; approved within them it is met; left unrevised past them it is missed."""
    c = anon
    campaign = await launch(c, users, "weak_village_rectification")
    q4, q1 = obligation(campaign, "quarterly_report", "2025Q4"), obligation(campaign, "quarterly_report", "2026Q1")
    subs = {}
    for ob, sent in ((q4, at(dt.date(2025, 12, 18))), (q1, at(dt.date(2026, 3, 19)))):
        await move(clock, users, sent)
        r = await c.post(f"{API}/submissions", headers=await users("qx01-liaison"),
                         json={"obligation_id": ob["id"], "data": QUARTERLY_DONE})
        assert r.status_code == 201, r.text
        r = await act(c, users, "qx01-liaison", r.json()["id"], "submit", version=r.json()["version"])
        assert r.status_code == 200, r.text
        subs[ob["id"]] = r.json()

    await move(clock, users, at(dt.date(2025, 12, 22)))  # Monday, after Q4's deadline (Friday 19th)
    r = await decide(c, users, "qx01-secretary", subs[q4["id"]], "return", comment="请补充具体数字")
    assert r.status_code == 200, r.text
    sub = r.json()
    tick(demo_county, at(dt.date(2025, 12, 23)))
    campaign = await refreshed(c, users, campaign)
    revised = obligation(campaign, "quarterly_report", "2025Q4")
    assert (revised["status"], revised["due_on"], revised["nominal_due_on"]) == ("open", "2025-12-29", "2025-12-20")

    await move(clock, users, at(dt.date(2025, 12, 26)))
    r = await c.patch(f"{API}/submissions/{sub['id']}", headers=await users("qx01-liaison"),
                      json={"version": sub["version"], "data": QUARTERLY_DONE | {"results": "新发展党员3名，调整书记2名"}})
    assert r.status_code == 200, r.text
    sub = (await act(c, users, "qx01-liaison", sub["id"], "submit", version=r.json()["version"])).json()
    for reviewer in ("qx01-secretary", "county-reviewer"):
        r = await decide(c, users, reviewer, sub, "approve")
        assert r.status_code == 200, r.text
        sub = r.json()
    assert sub["status"] == "approved"

    # Q1 is returned after its deadline too, and never revised: missed once the revision time is over.
    await move(clock, users, at(dt.date(2026, 3, 23)))
    assert (await decide(c, users, "qx01-secretary", subs[q1["id"]], "return", comment="请重写")).status_code == 200
    tick(demo_county, at(dt.date(2026, 3, 30)))
    tick(demo_county, at(dt.date(2026, 3, 31)))
    campaign = await refreshed(c, users, campaign)
    assert obligation(campaign, "quarterly_report", "2025Q4")["status"] == "met"
    late_q1 = obligation(campaign, "quarterly_report", "2026Q1")
    assert (late_q1["status"], late_q1["due_on"]) == ("missed", "2026-03-30")
    with Session(demo_county) as s:
        ladders = {e.obligation_id for e in s.exec(select(Escalation))}
    assert q4["id"] not in ladders and q1["id"] in ladders
