"""The work records of the stationing programme (003 §三(一), §四(三)(六)): pure rules, no I/O and no clock.

- a cadre's 《工作日记》 is kept while the cadre is on site: no entry for a day to come, before the cadre arrived
  or after the cadre left (003 §四(三) "坚持记好驻村工作日记");
- a county leader visits the contact village at least ``leader_min_visits`` times each half-year (003 §三(一)
  "县领导每半年到挂钩联系点不少于3次"); the tick checks each half-year once it has ended;
- townships and dispatching units report in writing to the 县委基层办 each quarter (003 §四(六)), by the same
  day the definition's quarterly rule sets (the 20th of the quarter's last month, previous workday)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

HALF_NAMES = {1: "上半年", 2: "下半年"}


@dataclass(frozen=True, order=True)
class HalfYear:
    """One half of a year: ``half`` 1 is January–June, 2 is July–December."""

    year: int
    half: int

    @property
    def first_day(self) -> dt.date:
        return dt.date(self.year, 1 if self.half == 1 else 7, 1)

    @property
    def last_day(self) -> dt.date:
        return dt.date(self.year, 6, 30) if self.half == 1 else dt.date(self.year, 12, 31)

    @property
    def label(self) -> str:
        """``2027年上半年``."""
        return f"{self.year}年{HALF_NAMES[self.half]}"

    @property
    def code(self) -> str:
        """``2027H1``: the half-year in keys."""
        return f"{self.year}H{self.half}"

    def contains(self, day: dt.date) -> bool:
        return self.first_day <= day <= self.last_day


def half_year_of(day: dt.date) -> HalfYear:
    """The half-year ``day`` falls in."""
    return HalfYear(day.year, 1 if day.month <= 6 else 2)


def last_ended_half_year(today: dt.date) -> HalfYear:
    """The latest half-year that has ended by ``today``: on or after 1 July, the first half of the year; from
    1 January, the second half of the year before (the tick checks it on its first run on or after that day)."""
    return HalfYear(today.year, 1) if today.month >= 7 else HalfYear(today.year - 1, 2)


def too_few_visits(visits: int, minimum: int) -> bool:
    """Whether a county leader's visits in a half-year fall short of the minimum (003 §三(一): 不少于3次)."""
    return visits < minimum


def visits_reason(post: str, name: str, period: HalfYear, visits: int, minimum: int) -> str:
    """The escalation's reason: ``县委常委张三2027年上半年到挂钩联系点2次，少于3次``."""
    return f"{post}{name}{period.label}到挂钩联系点{visits}次，少于{minimum}次"


def leader_visits_key(leader_code: str, period: HalfYear) -> str:
    """The unique key of a leader's escalation for one half-year: ``leader_visits:QX01-L1:2027H1``."""
    return f"leader_visits:{leader_code}:{period.code}"


def diary_date_problem(entry_date: dt.date, today: dt.date, arrived_on: dt.date | None,
                       left_on: dt.date | None) -> str | None:
    """What is wrong with the date of a diary entry, in Chinese; None when it may be written for that day.
    An entry is for a day the cadre was on site: not a day to come, not before arrival, not after leaving."""
    if entry_date > today:
        return f"日记日期{_zh(entry_date)}晚于今天，不能预先填写"
    if arrived_on is None:
        return "该驻村干部尚未登记到岗日期，请先登记到岗后再记工作日记"
    if entry_date < arrived_on:
        return f"日记日期{_zh(entry_date)}早于该驻村干部到岗日期{_zh(arrived_on)}"
    if left_on is not None and entry_date > left_on:
        return f"日记日期{_zh(entry_date)}晚于该驻村干部离岗日期{_zh(left_on)}"
    return None


def visit_date_problem(visited_on: dt.date, today: dt.date) -> str | None:
    """A visit is recorded after it happened, never ahead of time."""
    if visited_on > today:
        return f"到点日期{_zh(visited_on)}晚于今天，只能登记已经进行的调研指导"
    return None


def month_problem(year: int, month: int, today: dt.date) -> str | None:
    """A team's monthly record is for a month of the year that has begun (1–12, not a month to come)."""
    if not 1 <= month <= 12:
        return "月份应为1至12"
    if (year, month) > (today.year, today.month):
        return f"{year}年{month}月尚未开始，不能预先填写月度工作记录"
    return None


def quarter_problem(year: int, quarter: int, today: dt.date) -> str | None:
    """A quarterly report is for a quarter that has begun."""
    if not 1 <= quarter <= 4:
        return "季度应为1至4"
    if dt.date(year, quarter * 3 - 2, 1) > today:
        return f"{year}年第{quarter}季度尚未开始，不能预先报送"
    return None


def quarter_bounds(year: int, quarter: int) -> tuple[dt.date, dt.date]:
    """The first and last day of a quarter."""
    first = dt.date(year, quarter * 3 - 2, 1)
    following = dt.date(year + 1, 1, 1) if quarter == 4 else dt.date(year, quarter * 3 + 1, 1)
    return first, following - dt.timedelta(days=1)


COUNT_LABELS = {
    "cadres_stationed": "驻村干部人数", "cadres_arrived": "已到岗人数", "diary_entries": "本季度工作日记篇数",
    "monthly_records": "本季度工作组月度记录份数", "leader_visits": "本季度领导到挂钩联系点次数",
}
"""The counts a quarterly report carries, drawn from the records when it is submitted (003 §四(六))."""


def _zh(day: dt.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"
