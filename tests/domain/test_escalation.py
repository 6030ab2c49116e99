"""Escalation levels reached on China's working-day calendar."""

from __future__ import annotations

import datetime as dt

import pytest

from domain import accountability as case_rules
from domain.calendar import WorkCalendar
from domain.definitions import Form
from domain.errors import InvalidTransition, ValidationFailed
from domain.escalation import level_dates, level_reached, zero_report_findings
from domain.hollow import DEFAULT_BOILERPLATE

CAL = WorkCalendar()
LADDER = [1, 3, 5, 5, 10]


def test_levels_count_working_days_over_national_day() -> None:
    # The weak-village list is due Fri 2025-09-30 … use 30 Sep 2025 (Tue): 1–8 Oct are holidays.
    dates = level_dates(dt.date(2025, 9, 30), LADDER, CAL)
    assert dates[:2] == [dt.date(2025, 10, 9), dt.date(2025, 10, 13)]  # Sat 11 Oct is a make-up day


def test_level_reached_by_day() -> None:
    due = dt.date(2025, 12, 19)
    assert level_reached(due, LADDER, CAL, due) == 0
    assert level_reached(due, LADDER, CAL, dt.date(2025, 12, 22)) == 1
    assert level_reached(due, LADDER, CAL, dt.date(2025, 12, 24)) == 1
    assert level_reached(due, LADDER, CAL, dt.date(2025, 12, 25)) == 2
    assert level_reached(due, LADDER, CAL, dt.date(2026, 6, 1)) == 5


def test_a_climb_that_opens_higher_up_skips_the_levels_below() -> None:
    due = dt.date(2025, 12, 19)  # a Friday
    # Opening at level 3 (约谈): reached when 催办 would have come (one working day), then 通报 five later.
    assert level_reached(due, LADDER, CAL, due, start=3) == 0
    assert level_reached(due, LADDER, CAL, dt.date(2025, 12, 22), start=3) == 3
    assert level_reached(due, LADDER, CAL, dt.date(2025, 12, 26), start=3) == 3
    assert level_reached(due, LADDER, CAL, dt.date(2025, 12, 29), start=3) == 4
    # … or after a grace period of its own.
    assert level_reached(due, LADDER, CAL, dt.date(2025, 12, 22), start=3, first_delay=3) == 0
    assert level_reached(due, LADDER, CAL, dt.date(2025, 12, 24), start=3, first_delay=3) == 3
    assert level_reached(due, LADDER, CAL, dt.date(2026, 6, 1), start=3) == 5


def test_zero_delay_level_is_reached_on_the_due_day_plus_nothing() -> None:
    assert level_dates(dt.date(2025, 12, 19), [0, 1], CAL) == [dt.date(2025, 12, 19), dt.date(2025, 12, 22)]


# ---- 零上报 and accountability decisions --------------------------------------------------------------


LIST_FORM = Form.model_validate({"key": "weak_village_list", "name": "名单", "fields": [
    {"key": "villages", "label": "后进薄弱村党组织名单", "type": "villages", "required": False},
    {"key": "investigation", "label": "调查摸底情况", "type": "textarea"},
    {"key": "zero_report_reason", "label": "零上报情况说明", "type": "textarea", "required": False,
     "required_when_empty": "villages"},
]})


def test_an_empty_list_is_a_zero_report_when_weak_villages_are_known() -> None:
    data = {"villages": [], "investigation": "镇党委逐村走访，召开党员座谈会。", "zero_report_reason": "经调查，本镇各村运行正常。"}
    known = {"QX01002": "石桥村（县级C类重点联系村）", "QX01005": "柳塘村（2024年整顿尚未销号，曾反复回潮）"}
    assert zero_report_findings(LIST_FORM, data, boilerplate=DEFAULT_BOILERPLATE, min_chars=4, known_weak_villages=known) == [
        "“后进薄弱村党组织名单”未列出任何村，但本乡镇有已知的后进薄弱村：石桥村（县级C类重点联系村）、"
        "柳塘村（2024年整顿尚未销号，曾反复回潮）"]
    assert zero_report_findings(LIST_FORM, data, boilerplate=DEFAULT_BOILERPLATE, min_chars=4, known_weak_villages={}) == []
    hollow = data | {"zero_report_reason": "无"}
    assert zero_report_findings(LIST_FORM, hollow, boilerplate=DEFAULT_BOILERPLATE, min_chars=4, known_weak_villages={}) == [
        "“后进薄弱村党组织名单”未列出任何村，“零上报情况说明”只填写了“无”，没有实际内容"]
    listed = data | {"villages": ["QX01001", "QX01002"], "investigation": "暂无"}
    assert zero_report_findings(LIST_FORM, listed, boilerplate=DEFAULT_BOILERPLATE, min_chars=4,
                                known_weak_villages={"QX01002": known["QX01002"]}) == ["“调查摸底情况”只填写了“暂无”，没有实际内容"]


def test_a_list_that_leaves_out_a_known_weak_village_is_flagged() -> None:
    """000 §四(三): not only an empty list — a list that names some villages but leaves out one the county knows
    is weak (a key-contact village, one still rectifying, relapsed or failed at acceptance) is flagged too."""
    data = {"villages": ["QX01003"], "investigation": "镇党委逐村走访，召开党员座谈会。"}
    known = {"QX01002": "石桥村（县级C类重点联系村）", "QX01003": "杨柳村（市级B类重点联系村）",
             "QX01005": "柳塘村（2024年整顿尚未销号，验收未通过）"}
    assert zero_report_findings(LIST_FORM, data, boilerplate=DEFAULT_BOILERPLATE, min_chars=4, known_weak_villages=known) == [
        "“后进薄弱村党组织名单”未列入本乡镇已知的后进薄弱村：石桥村（县级C类重点联系村）、柳塘村（2024年整顿尚未销号，验收未通过）"]


def test_case_decisions_and_their_rating_effects() -> None:
    open_case = case_rules.CaseState(status="open")
    decided = case_rules.decide(open_case, "rating_downgrade", "未完成干部派驻任务", 2027)
    assert (decided.status, decided.rating_effect, decided.rating_year) == ("decided", "not_excellent_or_good", 2027)
    talk = case_rules.decide(open_case, "admonishment", "诫勉谈话", 2027)
    assert (talk.rating_effect, talk.rating_year) == (None, None)
    assert case_rules.decide(open_case, "suspension", "歇职一个月", 2027, 30).suspension_days == 30
    with pytest.raises(ValidationFailed):
        case_rules.decide(open_case, "suspension", "歇职", 2027)
    with pytest.raises(ValidationFailed):
        case_rules.decide(open_case, "admonishment", "诫勉", 2027, 5)
    with pytest.raises(ValidationFailed):
        case_rules.decide(open_case, "dismissal", "开除", 2027)
    with pytest.raises(ValidationFailed):
        case_rules.decide(open_case, "criticism", "  ", 2027)
    with pytest.raises(InvalidTransition):
        case_rules.decide(decided, "criticism", "再次决定", 2027)
    with pytest.raises(InvalidTransition):
        case_rules.close(open_case, "未决定不能结案")
    assert case_rules.close(decided, "已在年度考核中执行").status == "closed"
