"""Reminder days before a deadline, counted in China's working days or calendar days."""

from __future__ import annotations

import datetime as dt

import pytest

from domain.calendar import WorkCalendar, reminder_dates

CAL = WorkCalendar()


def test_working_day_offsets_skip_the_national_day_week() -> None:
    # Weak-village list due Friday 2025-10-10 (000): 1–8 Oct are holidays, Sat 11 Oct is a make-up day.
    assert reminder_dates(dt.date(2025, 10, 10), [7, 3, 1, 0], "workdays", CAL) == [
        (7, dt.date(2025, 9, 24)),  # Sun 28 Sep is a make-up working day
        (3, dt.date(2025, 9, 29)),
        (1, dt.date(2025, 10, 9)),
        (0, dt.date(2025, 10, 10)),
    ]


def test_make_up_sunday_counts_as_a_working_day() -> None:
    # 2025-09-28 (Sunday) is a make-up working day, so it is 2 working days before 30 Sep.
    assert reminder_dates(dt.date(2025, 9, 30), [2], "workdays", CAL) == [(2, dt.date(2025, 9, 28))]


def test_calendar_day_offsets() -> None:
    assert reminder_dates(dt.date(2026, 3, 20), [7, 0], "days", CAL) == [
        (7, dt.date(2026, 3, 13)),
        (0, dt.date(2026, 3, 20)),
    ]


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        reminder_dates(dt.date(2026, 3, 20), [1], "weeks", CAL)
    with pytest.raises(ValueError):
        reminder_dates(dt.date(2026, 3, 20), [-1], "days", CAL)
