"""The checks of a gate, evaluated without I/O (domain/gate_checks.py): 001's six no-approvals (六个不批) on the
shipped five-good application gate, stage order (``requires:``), the reviewer's judgements and the verdict."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from domain import gate_checks as rules
from domain.definitions import Definition, Gate, load_definitions
from domain.errors import Conflict, PermissionDenied, ValidationFailed
from domain.vocabulary import CheckStatus

DEFINITIONS = Path(__file__).resolve().parents[2] / "definitions"
FIVE_GOOD: Definition = load_definitions(DEFINITIONS)["five_good_model_site"]
GATE: Gate = FIVE_GOOD.gate("application")
LABELS = {f.key: f.label for f in FIVE_GOOD.form("application").fields}

APPLICATION: dict[str, Any] = {
    "summary": "创建工作总结", "self_check_score": 92, "public_notice_from": "2026-02-02",
    "public_notice_to": "2026-02-09", "satisfaction_rate": 93.5, "no_veto_events": True,
    "village_appearance": "四栏三室二牌一基地齐全", "responsibility_systems": "责任制健全",
}
APPROVED_SELF_CHECK = rules.SelfCheck(submission_id=7, status="approved", decided_on=dt.date(2026, 1, 12), score=92)
PLAN_PASSED = rules.Prerequisite("implementation_plan", "创建实施方案审核", "宣传动员", True, "已通过")


def facts(data: dict[str, Any] | None = None, *, final: bool = True, on: str = "2026-03-04",
          applied: str = "2026-03-02", self_checks: tuple[rules.SelfCheck, ...] = (APPROVED_SELF_CHECK,),
          prerequisites: tuple[rules.Prerequisite, ...] = (PLAN_PASSED,)) -> rules.GateFacts:
    return rules.GateFacts(data=APPLICATION | (data or {}), labels=LABELS, decision_on=dt.date.fromisoformat(on),
                           applied_on=dt.date.fromisoformat(applied), final=final, self_checks={"self_check": self_checks},
                           prerequisites=prerequisites)


def check(key: str, **changes: Any) -> Any:
    found = next(c for c in GATE.checks if c.key == key)
    return found.model_copy(update=changes)


def by_key(items: list[rules.CheckItem]) -> dict[str, tuple[str, str]]:
    return {i.key: (str(i.status), i.reason) for i in items}


# ---- 六个不批(一) the self-check -----------------------------------------------------------------------------------


def test_a_self_check_approved_before_the_application_passes() -> None:
    found = rules.self_check(check("self_check"), facts())
    assert (found.status, found.reason) == (CheckStatus.PASSED, "自查总结已于2026年1月12日审核通过，自查得分92")
    assert found.evidence == {"self_check": 7, "approved_on": "2026-01-12", "score": 92}


@pytest.mark.parametrize(("self_checks", "reason"), [
    ((), "申报前没有审核通过的自查总结（自查总结：未报送）"),
    ((dataclasses.replace(APPROVED_SELF_CHECK, status="in_review", decided_on=None),),
     "申报前没有审核通过的自查总结（自查总结：审核中）"),
    ((dataclasses.replace(APPROVED_SELF_CHECK, decided_on=dt.date(2026, 3, 3)),),
     "申报前没有审核通过的自查总结（自查总结：已通过）（2026年3月3日才审核通过，晚于申报）"),
])
def test_no_self_check_approved_before_the_application_fails(self_checks: tuple[rules.SelfCheck, ...], reason: str) -> None:
    found = rules.self_check(check("self_check"), facts(self_checks=self_checks))
    assert (found.status, found.reason) == (CheckStatus.FAILED, reason)


def test_the_score_the_application_repeats_must_be_the_approved_one() -> None:
    found = rules.self_check(check("self_check"), facts({"self_check_score": 98}))
    assert (found.status, found.reason) == (
        CheckStatus.FAILED, "“自查得分”填写98分，与审核通过的自查总结（92分）不一致")


def test_a_minimum_score_applies_when_the_county_sets_one() -> None:
    assert rules.self_check(check("self_check", min_score=90), facts()).status is CheckStatus.PASSED
    found = rules.self_check(check("self_check", min_score=95), facts())
    assert (found.status, found.reason) == (CheckStatus.FAILED, "自查得分92，低于95分")


# ---- 六个不批(二) the public notice -------------------------------------------------------------------------------


def test_a_notice_over_before_the_decision_with_no_length_set_is_the_reviewers_to_confirm() -> None:
    found = rules.public_notice(check("public_notice"), facts())
    assert found.status is CheckStatus.NEEDS_JUDGEMENT
    assert found.reason == ("公示2026年2月2日至2026年2月9日，共8天，已在审批前结束；公示天数未作统一规定，请核实公示期是否足够并确认")
    assert found.evidence == {"start": "2026-02-02", "end": "2026-02-09", "days": 8, "required_days": None}


@pytest.mark.parametrize(("days", "status", "reason"), [
    (7, CheckStatus.PASSED, "公示2026年2月2日至2026年2月9日，共8天，不少于7天，已在审批前结束"),
    (8, CheckStatus.PASSED, "公示2026年2月2日至2026年2月9日，共8天，不少于8天，已在审批前结束"),
    (10, CheckStatus.FAILED, "公示2026年2月2日至2026年2月9日，共8天，少于规定的10天"),
])
def test_the_notice_lasts_the_days_the_county_sets(days: int, status: CheckStatus, reason: str) -> None:
    found = rules.public_notice(check("public_notice", days=days), facts())
    assert (found.status, found.reason) == (status, reason)


def test_a_notice_ending_before_it_starts_fails() -> None:
    found = rules.public_notice(check("public_notice"), facts({"public_notice_from": "2026-02-09", "public_notice_to": "2026-02-02"}))
    assert (found.status, found.reason) == (CheckStatus.FAILED, "公示2026年2月9日至2026年2月2日：结束日期早于开始日期")


def test_a_notice_still_running_waits_at_the_township_and_fails_at_the_county() -> None:
    running = {"public_notice_from": "2026-02-26", "public_notice_to": "2026-03-04"}
    reason = "公示2026年2月26日至2026年3月4日，共7天，公示期到2026年3月4日尚未结束，须公示期满后再审批"
    assert rules.public_notice(check("public_notice"), facts(running, final=False)).status is CheckStatus.PENDING
    found = rules.public_notice(check("public_notice"), facts(running))
    assert (found.status, found.reason) == (CheckStatus.FAILED, reason)


def test_a_notice_without_dates_fails() -> None:
    found = rules.public_notice(check("public_notice"), facts({"public_notice_to": None}))
    assert (found.status, found.reason) == (CheckStatus.FAILED, "未填写“公示结束日期”，无法核实公示")


# ---- 六个不批(三)(四) satisfaction and the four one-vote vetoes --------------------------------------------------------


@pytest.mark.parametrize(("rate", "status", "reason"), [
    (93.5, CheckStatus.PASSED, "群众满意率93.5%，达到90%"),
    (90, CheckStatus.PASSED, "群众满意率90%，达到90%"),
    (85, CheckStatus.FAILED, "群众满意率85%，低于90%"),
    (None, CheckStatus.FAILED, "未填写“群众满意率（%）”"),
])
def test_satisfaction_reaches_the_shipped_90_percent(rate: float | None, status: CheckStatus, reason: str) -> None:
    found = rules.satisfaction(check("satisfaction"), facts({"satisfaction_rate": rate}))
    assert (found.status, found.reason) == (status, reason)


def test_satisfaction_without_a_threshold_is_the_reviewers_to_confirm() -> None:
    found = rules.satisfaction(check("satisfaction", threshold=None), facts())
    assert (found.status, found.reason) == (
        CheckStatus.NEEDS_JUDGEMENT, "群众满意率93.5%；满意率标准未作统一规定，请确认是否达到要求")


def test_a_declared_veto_event_fails_and_none_declared_waits_for_the_county_recheck() -> None:
    found = rules.veto(check("veto"), facts({"no_veto_events": False}))
    assert (found.status, found.reason) == (CheckStatus.FAILED, "申报材料声明出现了“四个一票否决”现象")
    found = rules.veto(check("veto"), facts())
    assert found.status is CheckStatus.NEEDS_JUDGEMENT
    assert found.reason.startswith("申报材料声明未出现“四个一票否决”现象；请在复查验收中会同纪检、政法、计生、团委、妇联")


# ---- the checklist, the judgements and the verdict -----------------------------------------------------------------


def test_the_checklist_puts_the_gates_required_first_before_the_six_no_approvals() -> None:
    items = rules.evaluate(GATE, facts())
    assert [i.key for i in items] == ["requires.implementation_plan", "self_check", "public_notice", "satisfaction",
                                      "veto", "village_appearance", "responsibility_systems"]
    assert [str(i.status) for i in items] == ["passed", "passed", "needs_judgement", "passed", "needs_judgement",
                                              "needs_judgement", "needs_judgement"]
    township = rules.evaluate(GATE, facts(final=False))
    assert [str(i.status) for i in township][2:] == ["pending", "passed", "pending", "pending", "pending"]
    assert township[5].reason == "须由审核人对照材料作出判断并填写意见（由终审环节判断）"


def test_judgements_settle_what_needs_them_and_a_no_fails_any_check() -> None:
    ticks = {"village_appearance": rules.Tick(True, "实地查看，四栏三室二牌一基地齐全"),
             "satisfaction": rules.Tick(False, "抽查走访发现满意率数据不实"),
             "self_check": rules.Tick(True, "同意")}
    items = by_key(rules.evaluate(GATE, facts(), ticks))
    assert items["village_appearance"] == ("passed", "审核人确认符合：实地查看，四栏三室二牌一基地齐全")
    assert items["satisfaction"] == ("failed", "审核人判断不符合：抽查走访发现满意率数据不实")
    assert items["self_check"][0] == "passed"  # a yes does not change what the data showed
    failing = by_key(rules.evaluate(GATE, facts({"satisfaction_rate": 80}), {"satisfaction": rules.Tick(True, "同意")}))
    assert failing["satisfaction"] == ("failed", "群众满意率80%，低于90%")  # only an override passes a failed check


def test_the_reviewers_judgements_need_a_known_check_and_a_note() -> None:
    assert rules.read_ticks(GATE, {"veto": {"confirmed": True, "note": " 复查未发现 "}}) == {"veto": rules.Tick(True, "复查未发现")}
    with pytest.raises(ValidationFailed) as caught:
        rules.read_ticks(GATE, {"veto": {"confirmed": True, "note": "  "}})
    assert caught.value.detail == "对审查项“无党风廉政、社会稳定、计划生育、安全生产“四个一票否决”现象”的判断必须填写意见，说明依据"
    with pytest.raises(ValidationFailed) as caught:
        rules.read_ticks(GATE, {"weight": {"confirmed": True, "note": "x"}})
    assert caught.value.errors == [{"field": "checks.weight", "message": "unknown check"}]


def _all_judged(**extra: rules.Tick) -> dict[str, rules.Tick]:
    return {key: rules.Tick(True, "已核实") for key in ("public_notice", "veto", "village_appearance", "responsibility_systems")} | extra


def test_the_verdict() -> None:
    items = rules.evaluate(GATE, facts(), _all_judged())
    assert rules.refusal(items, final=True, admin=False, override_reason=None) is None

    undecided = rules.refusal(rules.evaluate(GATE, facts()), final=True, admin=True, override_reason=None)
    assert isinstance(undecided, ValidationFailed) and undecided.status == 422
    assert [e["field"] for e in undecided.errors] == [
        "checks.public_notice", "checks.veto", "checks.village_appearance", "checks.responsibility_systems"]

    failed = rules.evaluate(GATE, facts({"satisfaction_rate": 80}), _all_judged())
    refused = rules.refusal(failed, final=True, admin=True, override_reason=None)
    assert isinstance(refused, Conflict) and refused.detail == (
        "审查项不符合，不能批准：“书面征求群众意见，群众满意率达到要求”——群众满意率80%，低于90%。"
        "请退回修改或不予通过；确需例外批准的，由县委组织部管理员写明理由")
    assert isinstance(rules.refusal(failed, final=True, admin=False, override_reason="情况特殊"), PermissionDenied)
    assert rules.refusal(failed, final=True, admin=True, override_reason="经部务会研究同意") is None
    assert [i.key for i in rules.overridden(failed)] == ["satisfaction"]
    nothing = rules.refusal(items, final=True, admin=True, override_reason="经部务会研究同意")
    assert isinstance(nothing, ValidationFailed) and nothing.detail == "没有不符合的审查项，无需例外批准，请删除例外批准理由"


def test_a_gate_required_first_holds_the_last_level_back_and_no_override_passes_it() -> None:
    waiting = dataclasses.replace(PLAN_PASSED, passed=False, status_label="已逾期")
    township = rules.evaluate(GATE, facts(final=False, prerequisites=(waiting,)))
    assert (str(township[0].status), rules.refusal(township, final=False, admin=False, override_reason=None)) == ("pending", None)
    county = rules.evaluate(GATE, facts(prerequisites=(waiting,)), _all_judged())
    refused = rules.refusal(county, final=True, admin=True, override_reason="先行审批")
    assert isinstance(refused, Conflict) and refused.detail == (
        "不能批准：前置关口“创建实施方案审核”（宣传动员阶段）尚未通过，须待其通过后才能批准本关口。草稿和前面环节的审核可以先进行")
    assert refused.errors == [{"field": "checks.requires.implementation_plan", "message": county[0].reason}]
