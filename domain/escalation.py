"""The escalation ladder: how far an overdue obligation has climbed by a given day.

催办 → 督办 → 约谈 → 通报 → 问责 (004_7c184efb1f3c43f7.txt §一.3, 000_a28a7778217e042c.txt §四(三)).
Each level comes a number of working days after the previous one (the first: after the due date).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from domain.calendar import WorkCalendar


def level_dates(due_on: dt.date, delays: Sequence[int], calendar: WorkCalendar) -> list[dt.date]:
    """The day each level of the ladder is reached when nothing is submitted."""
    out = []
    day = due_on
    for delay in delays:
        day = calendar.add_workdays(day, delay) if delay else day
        out.append(day)
    return out


def level_reached(due_on: dt.date, delays: Sequence[int], calendar: WorkCalendar, today: dt.date) -> int:
    """How many levels an obligation due on ``due_on`` and still missing has reached by ``today`` (0..n)."""
    return sum(1 for day in level_dates(due_on, delays, calendar) if day <= today)
