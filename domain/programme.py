"""The three-year programme of 003 and what follows from its calendar: which batch a year's plan is, where a
cadre stands against the arrival day, and which villages stay in the programme after a failed acceptance.

Pure rules, no I/O and no clock: the caller passes the day. Sources: 003_0d1c8490fe7db56e.txt 前言 ("从*年1月开始，
用3年时间"), §三(二) ("首批驻村干部要在*年1月8日前到挂钩联系点"), §四(五) ("一年一考核，三年一验收" and
"继续安排领导干部挂点和派出干部驻村，直至验收合格")."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from domain.vocabulary import ArrivalStatus, ProgrammeStatus

COUNTY = "county"


def programme_years(start_year: int, years: int) -> list[int]:
    """The campaign years of a programme starting in ``start_year`` (three by default, 003 前言)."""
    return list(range(start_year, start_year + years))


def batch_of(start_year: int, year: int) -> int:
    """The batch of a year's plan: 1 for the programme's first year (003 §三(二) 首批), then 2, 3 and on."""
    return year - start_year + 1


def programme_status(start_year: int, years: int, year: int, carried: int) -> ProgrammeStatus:
    """Where a programme stands in ``year``: not begun, running, or past its years — still carrying over while
    ``carried`` villages that failed acceptance keep their teams (003 §四(五) 直至验收合格)."""
    if year < start_year:
        return ProgrammeStatus.UPCOMING
    if year < start_year + years:
        return ProgrammeStatus.RUNNING
    return ProgrammeStatus.CARRYING_OVER if carried else ProgrammeStatus.ENDED


@dataclass(frozen=True)
class Arrival:
    """A cadre against the arrival day: the status and how many calendar days late (0 unless late or missing)."""

    status: ArrivalStatus
    days_late: int


def arrival(due_on: dt.date, arrived_on: dt.date | None, left_on: dt.date | None, today: dt.date) -> Arrival:
    """A cadre's arrival (003 §三(二)): on time when on site by ``due_on``, late (迟到, with the days) after it,
    awaited until ``due_on`` passes, then missing; a cadre who left early shows as such."""
    if left_on is not None:
        return Arrival(ArrivalStatus.LEFT, max((arrived_on - due_on).days, 0) if arrived_on else 0)
    if arrived_on is not None:
        late = (arrived_on - due_on).days
        return Arrival(ArrivalStatus.LATE, late) if late > 0 else Arrival(ArrivalStatus.ON_TIME, 0)
    if today <= due_on:
        return Arrival(ArrivalStatus.AWAITED, 0)
    return Arrival(ArrivalStatus.MISSING, (today - due_on).days)


@dataclass(frozen=True)
class Verdict:
    """One acceptance verdict on a village (分级验收): the year, who judged (township | county), and the result."""

    year: int
    level: str
    passed: bool
    note: str = ""


def still_failing(verdicts: Iterable[Verdict], year: int) -> Verdict | None:
    """The failed county-level verdict that keeps a village in the programme in ``year``: the latest county
    verdict of an earlier year, if it failed (a later pass ends the carry-over, 003 §四(五) 直至验收合格)."""
    earlier = [v for v in verdicts if v.level == COUNTY and v.year < year]
    if not earlier:
        return None
    latest = max(earlier, key=lambda v: v.year)
    return None if latest.passed else latest
