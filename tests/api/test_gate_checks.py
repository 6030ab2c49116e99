"""Gates that enforce their checks, through the API as the county's reviewers use it: 001's six no-approvals
(六个不批) on a five-good model-site application, the reviewer's judgements, an administrator's override with its
written reason (audited, on the submission, in the ledger, for the year-end assessment), and stage order
(``requires:``): the 一村一策 plans wait for the weak-village list."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from core.clock import FakeClock
from models import GateOverride, OrgUnit, Review
from tasks.reads.overrides import overrides
from tests.support.clock import at
from tests.support.review_chain import (
    API,
    APPLICATION,
    Users,
    act,
    decide,
    launch,
    model_site_application,
    move,
    refreshed,
    submitted_list,
)
from tests.support.web import HTML, sign_in, version_of
from tests.support.workbooks import sheet_rows
from tests.support.world import as_user

SIX_NO_APPROVALS = ["requires.implementation_plan", "self_check", "public_notice", "satisfaction", "veto",
                    "village_appearance", "responsibility_systems"]

HOLLOW_APPLICATION = APPLICATION | {"public_notice_from": "2026-02-09", "public_notice_to": "2026-02-02",
                                    "satisfaction_rate": 85, "no_veto_events": False}
"""An application whose own answers fail three of the six no-approvals, and that has no self-check behind it."""

REFUSED_AT_THE_TOWNSHIP = (
    "审查项不符合，不能批准："
    "“按《评分表》自查打分并写出自查小结，问题限期整改”——申报前没有审核通过的自查总结（自查总结：未报送）；"
    "“在乡镇范围内公示”——公示2026年2月9日至2026年2月2日：结束日期早于开始日期；"
    "“书面征求群众意见，群众满意率达到要求”——群众满意率85%，低于90%；"
    "“无党风廉政、社会稳定、计划生育、安全生产“四个一票否决”现象”——申报材料声明出现了“四个一票否决”现象。"
    "请退回修改或不予通过；确需例外批准的，由县委组织部管理员写明理由")

COUNTY_JUDGEMENTS = {
    "public_notice": {"confirmed": True, "note": "公示8天，无异议"},
    "veto": {"confirmed": True, "note": "会同纪检、政法、计生、团委、妇联复查，未发现"},
    "village_appearance": {"confirmed": True, "note": "实地查看，四栏三室二牌一基地齐全"},
    "responsibility_systems": {"confirmed": True, "note": "查阅责任制文件，责任追究落实到人"},
}


def statuses(sub: dict[str, Any]) -> dict[str, str]:
    return {c["key"]: c["status"] for c in sub["checks"]}


async def stages_of(c: httpx.AsyncClient, users: Users, campaign: dict[str, Any]) -> dict[str, str]:
    body = await refreshed(c, users, campaign)
    return {s["key"]: s["status"] for s in body["stages"]}


# ---- 六个不批: an application that fails several at once -------------------------------------------------------------


async def test_an_application_failing_several_no_approvals_is_refused_and_the_stage_does_not_pass(
        anon: httpx.AsyncClient, users: Users, clock: FakeClock) -> None:
    """Finding: such an application was approved by the township and the county, and the inspection stage passed."""
    c = anon
    campaign = await launch(c, users, "five_good_model_site")
    sub = await model_site_application(c, users, clock, campaign, self_check=None, data=HOLLOW_APPLICATION)
    assert [x["key"] for x in sub["checks"]] == SIX_NO_APPROVALS
    assert statuses(sub) == {"requires.implementation_plan": "passed", "self_check": "failed", "public_notice": "failed",
                             "satisfaction": "failed", "veto": "failed", "village_appearance": "pending",
                             "responsibility_systems": "pending"}

    queue = (await c.get(f"{API}/reviews/queue", headers=await users("qx01-secretary"))).json()["items"]
    [waiting] = [x for x in queue if x["id"] == sub["id"]]
    assert [x["key"] for x in waiting["checks"] if x["status"] == "failed"] == ["self_check", "public_notice", "satisfaction", "veto"]

    r = await decide(c, users, "qx01-secretary", sub, "approve")
    assert r.status_code == 409, r.text
    assert r.json()["detail"] == REFUSED_AT_THE_TOWNSHIP
    assert [e["field"] for e in r.json()["errors"]] == ["checks.self_check", "checks.public_notice", "checks.satisfaction",
                                                        "checks.veto"]
    r = await decide(c, users, "admin", sub, "approve", override_reason="同意申报")
    assert r.status_code == 403  # the township inspects first: nobody at the county decides at its level

    after = (await c.get(f"{API}/submissions/{sub['id']}", headers=await users("admin"))).json()
    assert (after["status"], after["current_level"], after["version"], after["reviews"]) == ("in_review", 0, sub["version"], [])
    assert (await stages_of(c, users, campaign))["inspect"] != "passed"

    # what the township can do: send it back, naming what to fix
    r = await decide(c, users, "qx01-secretary", sub, "return", comment="请先完成自查，重新公示并如实填写满意率")
    assert (r.status_code, r.json()["status"]) == (200, "returned")
    assert r.json()["reviews"][-1]["decision"] == "return"

    await sign_in(c, "qx01-secretary")
    page = (await c.get(f"/submissions/{sub['id']}", headers=HTML)).text
    assert "<h2>审查项</h2>" in page and "群众满意率85%，低于90%" in page and 'class="chk-failed">不符合</td>' in page


# ---- the county's judgement --------------------------------------------------------------------------------------


async def test_the_county_judges_what_code_cannot_check_before_it_approves(
        anon: httpx.AsyncClient, users: Users, clock: FakeClock, demo_county: Engine) -> None:
    c = anon
    campaign = await launch(c, users, "five_good_model_site")
    sub = await model_site_application(c, users, clock, campaign)
    r = await decide(c, users, "qx01-secretary", sub, "approve", checks={})  # nothing to judge at the township
    assert r.status_code == 200, r.text
    sub = r.json()
    assert statuses(sub) == {"requires.implementation_plan": "passed", "self_check": "passed",
                             "public_notice": "needs_judgement", "satisfaction": "passed", "veto": "needs_judgement",
                             "village_appearance": "needs_judgement", "responsibility_systems": "needs_judgement"}
    await move(clock, users, at(dt.date(2026, 3, 4)))

    r = await decide(c, users, "admin", sub, "approve", checks={})
    assert r.status_code == 422, r.text
    assert r.json()["detail"].startswith("请对以下审查项作出判断并填写意见后再批准：“在乡镇范围内公示”（公示2026年2月2日至2026年2月9日，共8天")
    assert [e["field"] for e in r.json()["errors"]] == [
        "checks.public_notice", "checks.veto", "checks.village_appearance", "checks.responsibility_systems"]
    r = await decide(c, users, "admin", sub, "approve", checks=COUNTY_JUDGEMENTS | {"veto": {"confirmed": True, "note": " "}})
    assert r.status_code == 422
    assert r.json()["detail"] == "对审查项“无党风廉政、社会稳定、计划生育、安全生产“四个一票否决”现象”的判断必须填写意见，说明依据"
    r = await decide(c, users, "admin", sub, "approve", checks=COUNTY_JUDGEMENTS | {"weight": {"confirmed": True, "note": "x"}})
    assert (r.status_code, r.json()["errors"]) == (422, [{"field": "checks.weight", "message": "unknown check"}])
    found_one = {"veto": {"confirmed": False, "note": "复查发现该村去年发生安全生产责任事故"}}
    r = await decide(c, users, "admin", sub, "approve", checks=COUNTY_JUDGEMENTS | found_one)
    assert r.status_code == 409
    assert "“无党风廉政、社会稳定、计划生育、安全生产“四个一票否决”现象”——审核人判断不符合：复查发现该村去年发生安全生产责任事故" in r.json()["detail"]

    r = await decide(c, users, "admin", sub, "approve", checks=COUNTY_JUDGEMENTS)
    assert r.status_code == 200, r.text
    approved = r.json()
    assert approved["status"] == "approved"
    assert {x["key"]: (x["status"], x["reason"]) for x in approved["checks"]}["village_appearance"] == (
        "passed", "审核人确认符合：实地查看，四栏三室二牌一基地齐全")
    assert set(statuses(approved).values()) == {"passed"}
    assert (await stages_of(c, users, campaign))["inspect"] == "passed"
    with Session(demo_county) as s:
        recorded = [r.checks for r in s.exec(select(Review).where(Review.submission_id == sub["id"]))]
    assert [len(x or []) for x in recorded] == [7, 7]
    events = (await c.get(f"{API}/audit", params={"subject": f"submission:{sub['id']}"}, headers=await users("admin"))).json()
    last = [e for e in events["items"] if e["action"] == "submission.approve"][-1]
    assert last["after"]["checks"]["veto"] == "passed" and last["after"]["override_reason"] is None


# ---- an administrator's override ---------------------------------------------------------------------------------


async def test_an_administrator_overrides_a_failed_check_with_a_written_reason(
        anon: httpx.AsyncClient, users: Users, clock: FakeClock, demo_county: Engine) -> None:
    c = anon
    campaign = await launch(c, users, "five_good_model_site")
    running = APPLICATION | {"public_notice_from": "2026-02-26", "public_notice_to": "2026-03-05"}
    sub = await model_site_application(c, users, clock, campaign, data=running)
    sub = (await decide(c, users, "qx01-secretary", sub, "approve")).json()  # the notice may still run at the township
    assert (sub["current_level"], statuses(sub)["public_notice"]) == (1, "failed")  # not over by the county's decision
    judged = {k: v for k, v in COUNTY_JUDGEMENTS.items() if k != "public_notice"}

    r = await decide(c, users, "admin", sub, "approve", checks=judged)
    assert r.status_code == 409
    assert r.json()["detail"].startswith("审查项不符合，不能批准：“在乡镇范围内公示”——公示2026年2月26日至2026年3月5日，共8天，"
                                         "公示期到2026年3月2日尚未结束，须公示期满后再审批。")
    reason = "申报截止在即，公示期间未收到异议，经部务会研究同意先行审批"
    r = await decide(c, users, "admin", sub, "approve", override_reason=reason, checks={})
    assert r.status_code == 422  # an override passes over failed checks, not the judgements still to make
    r = await decide(c, users, "admin", sub, "approve", checks=judged, override_reason=reason)
    assert r.status_code == 200, r.text
    approved = r.json()
    assert approved["status"] == "approved"
    [shown] = approved["overrides"]
    assert (shown["reason"], shown["level_name"], [x["key"] for x in shown["checks"]]) == (
        reason, "县委组织部复查验收", ["public_notice"])
    assert (await stages_of(c, users, campaign))["inspect"] == "passed"

    admin = await users("admin")
    events = (await c.get(f"{API}/audit", params={"subject": f"submission:{sub['id']}"}, headers=admin)).json()["items"]
    [audited] = [e for e in events if e["action"] == "gate.override"]
    assert (audited["after"]["reason"], list(audited["after"]["checks"])) == (reason, ["public_notice"])
    rows = sheet_rows(await c.get(f"{API}/ledgers/obligations.xlsx", params={"campaign": campaign["id"]}, headers=admin))
    [row] = [x for x in rows if x["事项"] == "党建示范点总结申报"]
    assert row["例外批准（审查项不符合）"] == f"在乡镇范围内公示不符合，县委组织部复查验收例外批准：{reason}"
    assessment = (await c.get(f"{API}/assessments/QX01/{campaign['year']}", headers=admin)).json()
    assert [(o["gate"], o["check"], o["reason"], o["by"]) for o in assessment["overrides"]] == [
        ("党建示范点申报审批（六个不批）", "在乡镇范围内公示", reason, "县委组织部组织科")]

    with Session(demo_county) as s:
        township = s.exec(select(OrgUnit).where(OrgUnit.code == "QX01")).one()
        listed = overrides(s, as_user(s, "admin"), township_id=township.id or 0, year=2026)
        assert [(x["submission_id"], x["gate_name"], x["reason"], x["decided_by"]) for x in listed] == [
            (sub["id"], "党建示范点申报审批（六个不批）", reason, "县委组织部组织科")]
        assert overrides(s, as_user(s, "admin"), township_id=township.id or 0, year=2025) == []
        assert overrides(s, as_user(s, "qx02-liaison"), township_id=township.id or 0, year=2026) == []
        assert len(s.exec(select(GateOverride)).all()) == 1

    await sign_in(c, "qx01-liaison")
    page = (await c.get(f"/submissions/{sub['id']}", headers=HTML)).text
    assert "<h2>例外批准</h2>" in page and reason in page


async def test_only_an_administrator_overrides_and_only_what_failed(
        anon: httpx.AsyncClient, users: Users, clock: FakeClock) -> None:
    c = anon
    campaign = await launch(c, users, "five_good_model_site")
    sub = await model_site_application(c, users, clock, campaign, data=APPLICATION | {"satisfaction_rate": 85})
    r = await decide(c, users, "qx01-secretary", sub, "approve", override_reason="群众意见已经化解")
    assert r.status_code == 403
    assert r.json()["detail"] == "只有县委组织部管理员可以在审查项不符合时例外批准"
    r = await decide(c, users, "qx01-secretary", sub, "return", comment="请补充材料", override_reason="无")
    assert (r.status_code, r.json()["detail"]) == (422, "例外批准理由只用于批准")


# ---- stage order: the plans wait for the list ----------------------------------------------------------------------


async def test_the_planning_gate_waits_for_the_weak_village_list(
        anon: httpx.AsyncClient, users: Users, clock: FakeClock) -> None:
    """Finding: the planning gate passed while no weak-village list was ever submitted. The plans are owed by the
    villages of the approved list, so before it there is no plan to approve and the planning stage cannot pass;
    and a gate that requires another waits for it: the model-site application for its implementation plan."""
    c = anon
    campaign = await launch(c, users, "weak_village_rectification")
    five_good = await launch(c, users, "five_good_model_site")  # in January: its mobilisation stage lies ahead
    assert not [o for o in campaign["obligations"] if o["key"].startswith("village_plan")]
    await move(clock, users, at(dt.date(2025, 10, 27)))
    campaign_now = await refreshed(c, users, campaign)
    assert {s["key"]: s["status"] for s in campaign_now["stages"]}["planning"] != "passed"

    sub = await model_site_application(c, users, clock, five_good, plan=False)
    assert statuses(sub)["requires.implementation_plan"] == "pending"
    r = await decide(c, users, "qx01-secretary", sub, "approve")
    assert r.status_code == 200, r.text  # the township's review may go ahead
    sub = r.json()
    assert statuses(sub)["requires.implementation_plan"] == "failed"
    waiting = ("不能批准：前置关口“创建实施方案审核”（宣传动员阶段）尚未通过，须待其通过后才能批准本关口。"
               "草稿和前面环节的审核可以先进行")
    for extra in ({}, {"override_reason": "时间紧迫，先行审批"}):
        r = await decide(c, users, "admin", sub, "approve", **extra)
        assert (r.status_code, r.json()["detail"]) == (409, waiting)
    assert (await stages_of(c, users, five_good))["inspect"] != "passed"


async def test_a_reviewer_judges_on_the_page(anon: httpx.AsyncClient, users: Users, clock: FakeClock) -> None:
    """The weak-village list's checks are the county's judgement: ticked on the submission page with a note."""
    c = anon
    campaign = await launch(c, users, "weak_village_rectification")
    await move(clock, users, at(dt.date(2025, 9, 26)))
    listed = (await submitted_list(c, users, campaign, {
        "villages": ["QX01003"], "investigation": "逐村过筛子", "committee_meeting_date": "2025-09-24"})).json()
    csrf = await sign_in(c, "admin")
    page = (await c.get(f"/submissions/{listed['id']}", headers=HTML)).text
    assert 'name="verdict"' in page and "待审核人判断" in page
    form = {"csrf_token": csrf, "decision": "approve", "version": version_of(page)}
    refused = await c.post(f"/submissions/{listed['id']}/decide", data=form)
    assert "请对以下审查项作出判断并填写意见后再批准" in (await c.get(refused.headers["location"], headers=HTML)).text
    judged = form | {"verdict": ["committee_decision:yes", "verified:yes"], "note_key": ["committee_decision", "verified"],
                     "note": ["党委会议纪要已附", "经抽查核实"]}
    done = await c.post(f"/submissions/{listed['id']}/decide", data=judged)
    assert "已审核通过" in (await c.get(done.headers["location"], headers=HTML)).text
    r = await act(c, users, "admin", listed["id"], "decisions", decision="approve", version=1)
    assert r.status_code == 409  # decided already
