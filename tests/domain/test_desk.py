"""The desk's pure rules: traffic lights from the calendar, periodic feedback dates, when an extension may be asked
for, lateness and the yearly score with its rule."""

from __future__ import annotations

import datetime as dt

from domain.calendar import WorkCalendar
from domain.desk import (
    ScoreWeights,
    TownshipRecord,
    best_and_worst,
    days_late,
    extension_problem,
    feedback_dates,
    light,
    ranked,
    score,
)
from domain.vocabulary import ItemFeedback, Light

CAL = WorkCalendar()
FRIDAY = dt.date(2025, 3, 14)


def test_the_light_is_red_past_the_deadline_yellow_near_it_green_before() -> None:
    assert light("open", FRIDAY, dt.date(2025, 3, 17), CAL, yellow_workdays=3) is Light.RED
    assert light("missed", FRIDAY, dt.date(2025, 3, 15), CAL, yellow_workdays=3) is Light.RED
    assert light("open", FRIDAY, dt.date(2025, 3, 11), CAL, yellow_workdays=3) is Light.YELLOW  # 3 working days
    assert light("open", FRIDAY, dt.date(2025, 3, 10), CAL, yellow_workdays=3) is Light.GREEN  # 4 working days
    assert light("open", FRIDAY, dt.date(2025, 3, 3), CAL, yellow_workdays=3, feedback_behind=True) is Light.YELLOW
    assert light("submitted", FRIDAY, dt.date(2025, 3, 17), CAL, yellow_workdays=3) is Light.GREEN
    assert light("met", FRIDAY, dt.date(2025, 3, 17), CAL, yellow_workdays=3) is None
    assert light("late", FRIDAY, dt.date(2025, 3, 17), CAL, yellow_workdays=3) is None


def test_the_yellow_window_counts_working_days_not_calendar_days() -> None:
    monday = dt.date(2025, 3, 17)
    assert light("open", monday, FRIDAY, CAL, yellow_workdays=1) is Light.YELLOW  # the weekend does not count
    assert light("open", monday, dt.date(2025, 3, 13), CAL, yellow_workdays=1) is Light.GREEN


def test_feedback_falls_on_each_period_end_before_the_deadline() -> None:
    start, due = dt.date(2025, 3, 3), dt.date(2025, 5, 20)
    assert feedback_dates(ItemFeedback.ONCE, start, due) == []
    assert feedback_dates(ItemFeedback.MONTHLY, start, due) == [dt.date(2025, 3, 31), dt.date(2025, 4, 30)]
    assert feedback_dates(ItemFeedback.QUARTERLY, start, dt.date(2025, 9, 1)) == [dt.date(2025, 3, 31),
                                                                                   dt.date(2025, 6, 30)]
    weekly = feedback_dates(ItemFeedback.WEEKLY, start, dt.date(2025, 3, 21))
    assert weekly == [dt.date(2025, 3, 7), dt.date(2025, 3, 14)]  # Fridays; the deadline's own week has the report
    assert feedback_dates(ItemFeedback.MONTHLY, dt.date(2025, 3, 31), dt.date(2025, 5, 31)) == [dt.date(2025, 4, 30)]


def test_an_extension_is_asked_for_before_the_deadline_within_the_allowance() -> None:
    args = {"today": dt.date(2025, 3, 12), "due_on": FRIDAY, "proposed_on": dt.date(2025, 3, 21), "granted": 0,
            "allowed": 1, "pending": False, "done": False}
    assert extension_problem(**args) is None  # type: ignore[arg-type]
    assert "已过" in (extension_problem(**args | {"today": dt.date(2025, 3, 17)}) or "")  # type: ignore[arg-type]
    assert "最多可延期1次" in (extension_problem(**args | {"granted": 1}) or "")  # type: ignore[arg-type]
    assert "正在审核" in (extension_problem(**args | {"pending": True}) or "")  # type: ignore[arg-type]
    assert "须晚于" in (extension_problem(**args | {"proposed_on": FRIDAY}) or "")  # type: ignore[arg-type]
    assert "已办结" in (extension_problem(**args | {"done": True}) or "")  # type: ignore[arg-type]


def test_lateness_and_the_score_with_its_rule() -> None:
    assert days_late(FRIDAY, dt.date(2025, 3, 17)) == 3
    assert days_late(FRIDAY, dt.date(2025, 3, 10)) == 0 and days_late(FRIDAY, None) == 0
    weights = ScoreWeights()
    assert score(TownshipRecord(assigned=2, on_time=2), weights) == 100.0
    assert score(TownshipRecord(assigned=2, on_time=1, late=1, extensions=1), weights) == 79.0
    assert score(TownshipRecord(assigned=1, open=1, overdue=1, levels=4), weights) == 47.0  # 60 + 0 − 5 − 8
    assert score(TownshipRecord(assigned=0), weights) == 100.0  # nothing due yet
    assert score(TownshipRecord(assigned=9, overdue=9, levels=30, cases=3), weights) == 0.0
    assert "按期办结率" in weights.rule() and "问责案件数" in weights.rule()
    ranking = ranked([("甲镇", TownshipRecord(assigned=1, on_time=1)), ("乙镇", TownshipRecord(assigned=1, overdue=1))],
                     weights)
    assert ranking == [("甲镇", 100.0), ("乙镇", 55.0)]
    assert best_and_worst(ranking) == (["甲镇"], ["乙镇"])
    assert best_and_worst([("甲镇", 90.0)]) == (["甲镇"], [])
