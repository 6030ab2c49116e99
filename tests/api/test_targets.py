"""Targets are evaluated, not only displayed (issue 15, finding "every targets: entry is display-only"): each
target of a campaign is computed from the figures QX01 submitted (and the org data) and reads met, not met or no
data, with the value, the villages or periods that fall short, the evidence and the document, through
``GET /api/v1/campaigns/{id}/targets`` and on the campaign's page."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
from sqlalchemy.engine import Engine

from core.clock import FakeClock
from tests.support.clock import at
from tests.support.review_chain import API, Users, launch, move, obligation
from tests.support.targets import accepted, approve, cadres_year, listed_and_planned, submitted_with_file, targets_of
from tests.support.web import page_text, sign_in
from tests.support.work_records import record_visits

QX01_VILLAGES = [f"QX01{n:03d}" for n in range(1, 11)]


async def test_weak_village_targets_are_judged_on_the_acceptance_figures_and_the_plans(
        anon: httpx.AsyncClient, users: Users, clock: FakeClock, demo_county: Engine) -> None:
    """000 §二.2: ≥ 2 activists in every listed village, ≥ 1 new member a year and no village two years running
    without one (read from the 2024 campaign too); §二.4 a helping unit per village (its plan); §二(一) 80% five-good."""
    c = anon
    earlier = await listed_and_planned(c, users, clock, 2024)
    campaign = await listed_and_planned(c, users, clock, 2025)
    await accepted(c, users, clock, earlier, {"new_members_by_village": {"QX01003": 2, "QX01007": 0},
                                              "activists_by_village": {"QX01003": 2, "QX01007": 2}})
    before = await targets_of(c, users, campaign["id"])
    assert (before["activists"]["status"], before["activists"]["status_label"]) == ("no_data", "无数据")
    assert before["activists"]["evidence"] == ["尚无审核通过的“整顿验收销号申请”"]
    assert before["county_leader_contacts"]["status"] == "met"  # the plans are in already

    acceptance = await accepted(c, users, clock, campaign, {
        "activists_by_village": {"QX01003": 3, "QX01007": 1}, "new_members_by_village": {"QX01003": 0, "QX01007": 0},
        "five_good_villages": QX01_VILLAGES[:8]})
    found = await targets_of(c, users, campaign["id"])

    activists = found["activists"]
    assert (activists["status"], activists["status_label"]) == ("not_met", "未达标")
    assert (activists["requirement"], activists["value"], activists["shortfalls"]) == \
        ("每个整顿村 ≥ 2", "1/2 个村达到", ["新何湾村：1"])
    assert activists["evidence"] == [f"整顿验收销号申请（编号{acceptance['id']}，2026年11月20日审核通过）“各村入党积极分子人数”"]
    assert activists["source"] == "000_a28a7778217e042c.txt §二.2"

    assert found["new_members"]["shortfalls"] == ["老陈山村：0", "新何湾村：0"]
    # 老陈山村 had 2 new members in 2024: only 新何湾村 is blank two years running.
    gap = found["no_blank_two_years"]
    assert (gap["status"], gap["shortfalls"]) == ("not_met", ["新何湾村：0（此前：0）"])
    assert gap["value"] == "连续2年未达到的村 1 个（共 2 个村）"

    assert (found["helping_units"]["status"], found["helping_units"]["shortfalls"]) == ("not_met", ["新何湾村：0"])
    assert found["helping_units"]["evidence"][0].startswith("老陈山村的软弱涣散村党组织整顿“一村一策”表（编号")
    assert found["county_leader_contacts"]["status"] == "met"
    five_good = found["five_good_rate"]
    assert (five_good["status"], five_good["value"], five_good["figure"]) == ("met", "80%（8/10个村）", 80.0)


async def test_targets_follow_the_township_scope(
        anon: httpx.AsyncClient, users: Users, clock: FakeClock, demo_county: Engine) -> None:
    campaign = await launch(anon, users, "weak_village_rectification")
    for who, status in (("qx01-liaison", 200), ("qx01-secretary", 200), ("observer", 200), ("county-reviewer", 200),
                        ("qx02-liaison", 404), ("qx02-secretary", 404)):
        r = await anon.get(f"{API}/campaigns/{campaign['id']}/targets", headers=await users(who))
        assert r.status_code == status, (who, r.text)
    r = await anon.get(f"{API}/campaigns/{campaign['id']}/targets", headers=await users("qx02-liaison"))
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["detail"] == f"没有编号为 {campaign['id']} 的督办任务"
    nobody = await anon.get(f"{API}/campaigns/{campaign['id']}/targets")
    assert nobody.status_code == 401


async def test_cadres_targets_read_the_annual_summary_the_half_year_reports_and_the_org_data(
        anon: httpx.AsyncClient, users: Users, clock: FakeClock, demo_county: Engine) -> None:
    """003 §二: 75% cross-appointment, 90% secretaries chairing, 2 reserve cadres and 1 new member in every
    village, 30,000 yuan collective income (the org data), +6% farmer income; §三(一) 3 leader visits a half-year."""
    reserve = {code: 2 for code in QX01_VILLAGES}
    new_members = {code: 1 for code in QX01_VILLAGES[:9]}  # 朱孙冲村 left out
    campaign = await cadres_year(anon, users, clock, 2025, visits=(4, 2), summary={
        "cross_appointment_rate": 80, "secretary_chair_rate": 85.5, "reserve_cadres_by_village": reserve,
        "new_members_by_village": new_members, "farmer_income_growth": -2})
    found = await targets_of(anon, users, campaign["id"])

    visits = found["leader_visits"]
    assert (visits["status"], visits["value"], visits["shortfalls"]) == \
        ("not_met", "赵建国2025年上半年：4次；赵建国2025年下半年：2次", ["赵建国2025年下半年：2次"])
    assert visits["evidence"] == ["领导到点记录：赵建国2025年上半年到点4次", "领导到点记录：赵建国2025年下半年到点2次"]
    assert (found["cross_appointment"]["status"], found["cross_appointment"]["value"]) == ("met", "80%")
    assert (found["secretary_is_chair"]["status"], found["secretary_is_chair"]["value"]) == ("not_met", "85.5%")
    assert (found["farmer_income_growth"]["status"], found["farmer_income_growth"]["value"]) == ("not_met", "-2%")
    assert found["reserve_cadres"]["status"] == "met"
    assert (found["new_members"]["status"], found["new_members"]["value"]) == \
        ("no_data", "9/10 个村达到，1 个村无数据（朱孙冲村）")

    income = found["collective_income"]
    assert (income["status"], income["value"]) == ("not_met", "5/10 个村达到")
    assert income["shortfalls"] == ["前何庄村：22000元", "老陈山村：8000元", "林后沟村：8000元", "林罗山村：22000元",
                                    "朱孙冲村：15000元"]
    assert income["evidence"] == ["组织机构数据“村集体经济年纯收入”"]
    assert income["requirement"] == "每个村 ≥ 30000元"


async def test_five_good_figures_of_the_self_check_and_a_target_the_document_leaves_blank(
        anon: httpx.AsyncClient, users: Users, clock: FakeClock, demo_county: Engine) -> None:
    """002 §二(二): 10 activists, 3 new members all under 30, 1 woman; "每年培训农民xx人次" has no number yet."""
    campaign = await launch(anon, users, "five_good_model_site")
    await move(clock, users, at(dt.date(2026, 1, 10)))
    sub = await submitted_with_file(anon, users, obligation(campaign, "self_check_summary"), {
        "score": 88, "summary": "对照评分表逐项自查", "problems_and_fixes": "电教设备不足，3月底前配齐", "archives_filed": True,
        "activists": 10, "new_members": 3, "new_members_under_30": 2, "new_women_members": 1,
        "farmer_training_attendance": 150, "unposted_participation_rate": 82.5}, "score_sheet")
    await approve(anon, users, sub, "qx01-secretary")  # the self-check summary goes to the township (submit_to: 乡党委)
    found = await targets_of(anon, users, campaign["id"], who="qx01-liaison")
    assert [found[k]["status"] for k in ("activists", "new_members", "new_members_under_30", "new_women_members")] == \
        ["met", "met", "not_met", "met"]
    assert found["new_members_under_30"]["shortfalls"] == ["2"]
    assert (found["unposted_member_participation"]["status"], found["unposted_member_participation"]["value"]) == \
        ("met", "82.5%")
    blank = found["farmer_training_attendance"]
    assert (blank["status"], blank["status_label"], blank["value"]) == ("unset", "目标值待设定", "150次")
    assert blank["requirement"] == "全乡镇（目标值待设定）"
    assert found["public_satisfaction"]["evidence"] == ["尚无审核通过的“党建示范点总结申报”"]
    assert found["education_films"]["status"] == "no_data"  # not reported in the self-check


async def test_a_percentage_on_another_scale_is_refused_with_what_to_write(
        anon: httpx.AsyncClient, users: Users, clock: FakeClock, demo_county: Engine) -> None:
    campaign = await launch(anon, users, "five_good_model_site")
    r = await anon.post(f"{API}/submissions", headers=await users("qx01-liaison"), json={
        "obligation_id": obligation(campaign, "self_check_summary")["id"], "data": {"star_household_rate": 0.8 * 100 + 100}})
    assert r.status_code == 422, r.text
    assert r.json()["errors"] == [{"field": "data.star_household_rate",
                                   "message": "“农户创星率（%）”应在0到100之间（按百分数填写，如 90 表示 90%）"}]
    weak = await launch(anon, users, "weak_village_rectification")
    r = await anon.post(f"{API}/submissions", headers=await users("qx01-liaison"), json={
        "obligation_id": obligation(weak, "acceptance_application")["id"],
        "data": {"new_members_by_village": {"QX01003": 1, "QX02001": 2}}})
    assert r.status_code == 422, r.text
    assert r.json()["errors"] == [{"field": "data.new_members_by_village",
                                   "message": "“各村本年度发展党员人数”中的村编码不属于本乡镇：QX02001"}]


async def test_the_campaign_page_lists_each_target_with_its_status_and_evidence(
        anon: httpx.AsyncClient, users: Users, clock: FakeClock, demo_county: Engine) -> None:
    campaign = await cadres_year(anon, users, clock, 2025, visits=(3, 3), summary={"cross_appointment_rate": 70})
    await sign_in(anon, "qx01-liaison")
    text = await page_text(anon, f"/campaigns/{campaign['id']}")
    assert "<h2>目标完成情况</h2>" in text
    assert '<td>村“两委”干部交叉任职比例</td><td>全乡镇 ≥ 75%</td><td>70%</td>' in text
    assert '<td class="tg-not_met">未达标</td>' in text and '<td class="tg-met">达标</td>' in text
    assert "组织机构数据“村集体经济年纯收入”" in text
    assert "003_0d1c8490fe7db56e.txt §三(一)" in text
    await sign_in(anon, "admin")
    declared = await page_text(anon, "/admin/definitions", key="weak_village_rectification")
    assert "<li>不连续两年出现发展党员空白村：每个整顿村 ≥ 1，不得连续2年未达到" in declared
    assert "取自 acceptance_application.new_members_by_village · 000_a28a7778217e042c.txt §二.2" in declared


async def test_the_dashboard_shows_each_townships_targets(
        anon: httpx.AsyncClient, users: Users, clock: FakeClock, demo_county: Engine) -> None:
    await cadres_year(anon, users, clock, 2025, visits=(3, 3), summary={"cross_appointment_rate": 70})
    await sign_in(anon, "county-reviewer")
    text = await page_text(anon, "/dashboard", pick="cadres_in_villages|2025")
    assert "<h2>各乡镇目标完成情况</h2>" in text
    assert '<th title="003_0d1c8490fe7db56e.txt §二(一)">村“两委”干部交叉任职比例</th>' in text
    assert '<a href="/assessments/QX01/2025">青石镇</a>' in text
    assert '<td class="tg-not_met" title="70%">未达标</td>' in text
    assert '<td class="tg-met" title="赵建国2025年上半年：3次；赵建国2025年下半年：3次">达标</td>' in text


async def test_the_dashboard_judges_the_targets_again_after_any_change_and_only_then(
        anon: httpx.AsyncClient, users: Users, clock: FakeClock, demo_county: Engine,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The judgements are remembered between requests (the page is read far more often than anything changes),
    but never past a change: the request after a visit is recorded shows it."""
    from tasks import targets

    judged = []
    evaluate = targets._evaluate
    monkeypatch.setattr(targets, "_evaluate", lambda *a: judged.append(1) or evaluate(*a))
    await cadres_year(anon, users, clock, 2025, visits=(3, 2), summary={"cross_appointment_rate": 70})
    await sign_in(anon, "county-reviewer")
    short = '<td class="tg-not_met" title="赵建国2025年上半年：3次；赵建国2025年下半年：2次">未达标</td>'
    for _ in range(2):
        assert short in await page_text(anon, "/dashboard", pick="cadres_in_villages|2025")
    assert len(judged) == 1
    await record_visits(anon, users, "QX01-L1", [dt.date(2025, 12, 20)])
    text = await page_text(anon, "/dashboard", pick="cadres_in_villages|2025")
    assert '<td class="tg-met" title="赵建国2025年上半年：3次；赵建国2025年下半年：3次">达标</td>' in text
    assert short not in text and len(judged) == 2


async def test_the_township_enters_a_number_per_village_on_the_form(
        anon: httpx.AsyncClient, users: Users, clock: FakeClock, demo_county: Engine) -> None:
    campaign = await launch(anon, users, "weak_village_rectification")
    ob = obligation(campaign, "acceptance_application")
    path = f"/obligations/{ob['id']}/form"
    csrf = await sign_in(anon, "qx01-liaison", path)
    assert '<label for="f_activists_by_village.QX01003">老陈山村</label>' in await page_text(anon, path)
    wrong = await anon.post(path, data={"csrf_token": csrf, "action": "save", "f_activists_by_village.QX01003": "3",
                                        "f_new_members_by_village.QX01007": "-1"})
    assert wrong.status_code == 422
    assert "“各村本年度发展党员人数”中 QX01007 的数字应为不小于0的整数" in wrong.text
    assert 'id="f_activists_by_village.QX01003" name="f_activists_by_village.QX01003" type="text" inputmode="decimal" ' \
           'size="8" value="3"' in wrong.text  # what was typed stays
    saved = await anon.post(path, data={"csrf_token": csrf, "action": "save", "f_activists_by_village.QX01003": "3",
                                        "f_activists_by_village.QX01007": " ", "f_new_members_by_village.QX01007": "0"})
    assert saved.status_code == 303, saved.text
    sid = saved.headers["location"].rsplit("/", 1)[1]
    r = await anon.get(f"{API}/submissions/{sid}", headers=await users("qx01-liaison"))
    assert {k: r.json()["data"][k] for k in ("activists_by_village", "new_members_by_village")} == \
        {"activists_by_village": {"QX01003": 3}, "new_members_by_village": {"QX01007": 0}}
    assert "QX01003：3" in await page_text(anon, f"/submissions/{sid}")
