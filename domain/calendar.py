"""China's working-day calendar and due-date arithmetic.

Statutory holidays and make-up working days (调休) come from ``chinese-calendar``.
For a year it has no data for, an administrator may load the State Council's
official arrangement; failing that, weekends-only is used and a warning says so.
Rules for "by the 20th" (20日前) come from 000_a28a7778217e042c.txt.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache

import chinese_calendar


class DuePolicy(StrEnum):
    """What to do when a nominal due date is not a working day."""

    KEEP = "keep"
    PREVIOUS_WORKDAY = "previous_workday"
    NEXT_WORKDAY = "next_workday"


class CalendarSource(StrEnum):
    LOADED = "loaded"  # an administrator loaded the official arrangement
    BUNDLED = "bundled"  # chinese-calendar ships the official arrangement
    WEEKENDS_ONLY = "weekends_only"  # no data: Saturdays and Sundays only


@dataclass(frozen=True)
class YearArrangement:
    """The official holiday arrangement of one year (国务院办公厅关于部分节假日安排的通知)."""

    year: int
    holidays: frozenset[dt.date] = field(default_factory=frozenset)
    makeup_workdays: frozenset[dt.date] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        both = self.holidays & self.makeup_workdays
        if both:
            raise ValueError(f"{min(both).isoformat()} is listed both as a holiday and as a make-up working day")
        for day in self.holidays | self.makeup_workdays:
            if day.year != self.year:
                raise ValueError(f"{day.isoformat()} is not in year {self.year}")


@lru_cache(maxsize=256)
def bundled_year_supported(year: int) -> bool:
    """True when chinese-calendar has the official arrangement for ``year``."""
    try:
        chinese_calendar.is_workday(dt.date(year, 1, 1))
    except NotImplementedError:
        return False
    return True


class WorkCalendar:
    """Answers "is this a working day in China?" for any date, never raising for unknown years."""

    def __init__(self, loaded: Mapping[int, YearArrangement] | None = None) -> None:
        self._loaded = dict(loaded or {})
        # chinese-calendar costs ~20 µs a lookup; a batch launch asks about the same days thousands of times.
        self._workday: dict[dt.date, bool] = {}
        self._added: dict[tuple[dt.date, int], dt.date] = {}  # the escalation ladder asks for the same sums every tick

    def source(self, year: int) -> CalendarSource:
        if year in self._loaded:
            return CalendarSource.LOADED
        if bundled_year_supported(year):
            return CalendarSource.BUNDLED
        return CalendarSource.WEEKENDS_ONLY

    def is_workday(self, day: dt.date) -> bool:
        cached = self._workday.get(day)
        if cached is None:
            cached = self._workday[day] = self._is_workday(day)
        return cached

    def _is_workday(self, day: dt.date) -> bool:
        source = self.source(day.year)
        if source is CalendarSource.LOADED:
            arrangement = self._loaded[day.year]
            if day in arrangement.makeup_workdays:
                return True
            if day in arrangement.holidays:
                return False
            return day.weekday() < 5
        if source is CalendarSource.BUNDLED:
            return bool(chinese_calendar.is_workday(day))
        return day.weekday() < 5

    def warnings(self, years: Iterable[int]) -> list[str]:
        """Human-readable warnings for the years computed without official data."""
        return [
            f"{year}年的法定节假日和调休安排尚未载入，按仅周末休息计算；"
            f"请管理员载入国务院办公厅公布的{year}年节假日安排后重新核对截止日期。"
            for year in sorted(set(years))
            if self.source(year) is CalendarSource.WEEKENDS_ONLY
        ]

    def adjust(self, day: dt.date, policy: DuePolicy) -> dt.date:
        """Move a nominal due date onto a working day according to ``policy``."""
        policy = DuePolicy(policy)  # a plain string must not silently mean next_workday
        if policy is DuePolicy.KEEP or self.is_workday(day):
            return day
        step = -1 if policy is DuePolicy.PREVIOUS_WORKDAY else 1
        while not self.is_workday(day):
            day += dt.timedelta(days=step)
        return day

    def add_workdays(self, day: dt.date, count: int) -> dt.date:
        """The working day ``count`` working days after (or, if negative, before) ``day``.

        ``count == 0`` returns ``day`` itself, working day or not.
        """
        found = self._added.get((day, count))
        if found is None:
            found = self._added[(day, count)] = self._add_workdays(day, count)
        return found

    def _add_workdays(self, day: dt.date, count: int) -> dt.date:
        step = 1 if count > 0 else -1
        remaining = abs(count)
        while remaining:
            day += dt.timedelta(days=step)
            if self.is_workday(day):
                remaining -= 1
        return day

    def workdays_between(self, start: dt.date, end: dt.date) -> int:
        """Working days in the half-open interval (start, end]; negative when end < start."""
        if end < start:
            return -self.workdays_between(end, start)
        days = (end - start).days
        return sum(1 for i in range(1, days + 1) if self.is_workday(start + dt.timedelta(days=i)))


def quarter_of(day: dt.date) -> int:
    return (day.month - 1) // 3 + 1


def last_day_of_month(year: int, month: int) -> int:
    if month == 12:
        return 31
    return (dt.date(year, month + 1, 1) - dt.timedelta(days=1)).day


def quarterly_report_due(
    year: int,
    quarter: int,
    calendar: WorkCalendar,
    *,
    day: int = 20,
    policy: DuePolicy = DuePolicy.PREVIOUS_WORKDAY,
) -> dt.date:
    """Due date of a quarterly report: day ``day`` of the quarter's last month (每季度最后一个月的20日前).

    Source: 000_a28a7778217e042c.txt. "By the 20th" means the report must arrive by then, so a
    non-working 20th moves to the previous working day by default.
    """
    if quarter not in (1, 2, 3, 4):
        raise ValueError(f"quarter must be 1..4, not {quarter}")
    return calendar.adjust(dt.date(year, quarter * 3, day), policy)


def reminder_dates(
    due_on: dt.date, offsets: Iterable[int], unit: str, calendar: WorkCalendar
) -> list[tuple[int, dt.date]]:
    """The days to remind on before ``due_on``: ``(offset, day)`` pairs, earliest first.

    ``unit`` is ``"workdays"`` (offsets count China's working days, so a reminder "3 working days
    before" skips a holiday week) or ``"days"`` (calendar days). Offset 0 is the due day itself.
    """
    if unit not in ("workdays", "days"):
        raise ValueError(f"unit must be 'workdays' or 'days', not {unit!r}")
    out = {}
    for offset in set(offsets):
        if offset < 0:
            raise ValueError(f"a reminder offset cannot be negative: {offset}")
        day = calendar.add_workdays(due_on, -offset) if unit == "workdays" else due_on - dt.timedelta(days=offset)
        out[offset] = day
    return sorted(((o, d) for o, d in out.items()), key=lambda pair: (pair[1], -pair[0]))
