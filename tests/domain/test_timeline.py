"""The campaign page's timeline: stages, months, statutory holidays and today as fractions of the span."""

from __future__ import annotations

import datetime as dt

import pytest

from domain.calendar import WorkCalendar
from domain.timeline import campaign_timeline

STAGES = [(dt.date(2026, 9, 1), dt.date(2026, 10, 10)), (dt.date(2026, 10, 11), dt.date(2026, 10, 24)),
          (dt.date(2026, 10, 25), dt.date(2027, 9, 30))]


def test_the_span_runs_from_the_first_month_to_the_last() -> None:
    line = campaign_timeline(STAGES, WorkCalendar(), dt.date(2026, 12, 7))
    assert (line.start, line.end) == (dt.date(2026, 9, 1), dt.date(2027, 9, 30))
    assert len(line.months) == 13 and line.months[0].x == 0
    assert sum(m.width for m in line.months) == pytest.approx(1)
    assert line.stages[0].x == 0 and line.stages[2].x + line.stages[2].width == pytest.approx(1)
    assert line.today == pytest.approx((dt.date(2026, 12, 7) - dt.date(2026, 9, 1)).days / 395)


def test_statutory_holidays_are_shaded_and_weekends_alone_are_not() -> None:
    line = campaign_timeline(STAGES, WorkCalendar(), dt.date(2026, 12, 7))
    starts = [h.start for h in line.holidays]
    assert dt.date(2026, 10, 1) in starts  # 国庆节
    assert any(h.start <= dt.date(2026, 9, 25) <= h.end for h in line.holidays)  # 中秋节
    assert not any(h.start == dt.date(2026, 9, 5) for h in line.holidays)  # an ordinary weekend


def test_today_outside_the_span_is_not_marked() -> None:
    assert campaign_timeline(STAGES, WorkCalendar(), dt.date(2028, 1, 1)).today is None
