"""Escalation levels reached on China's working-day calendar."""

from __future__ import annotations

import datetime as dt

from domain.calendar import WorkCalendar
from domain.escalation import level_dates, level_reached

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


def test_zero_delay_level_is_reached_on_the_due_day_plus_nothing() -> None:
    assert level_dates(dt.date(2025, 12, 19), [0, 1], CAL) == [dt.date(2025, 12, 19), dt.date(2025, 12, 22)]
