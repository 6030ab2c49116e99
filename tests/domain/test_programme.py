"""The programme's calendar rules (003_0d1c8490fe7db56e.txt 前言, §三(二), §四(五))."""

from __future__ import annotations

import datetime as dt

from domain.programme import Verdict, arrival, batch_of, programme_status, programme_years, still_failing
from domain.vocabulary import ArrivalStatus, ProgrammeStatus

DUE = dt.date(2027, 1, 8)


def test_three_years_and_their_batches() -> None:
    assert programme_years(2027, 3) == [2027, 2028, 2029]
    assert [batch_of(2027, y) for y in (2027, 2028, 2030)] == [1, 2, 4]


def test_programme_status_carries_over_only_with_failed_villages() -> None:
    assert programme_status(2027, 3, 2026, 0) is ProgrammeStatus.UPCOMING
    assert programme_status(2027, 3, 2029, 0) is ProgrammeStatus.RUNNING
    assert programme_status(2027, 3, 2030, 2) is ProgrammeStatus.CARRYING_OVER
    assert programme_status(2027, 3, 2030, 0) is ProgrammeStatus.ENDED


def test_arrival_on_time_late_awaited_missing_and_left() -> None:
    assert arrival(DUE, dt.date(2027, 1, 8), None, dt.date(2027, 2, 1)).status is ArrivalStatus.ON_TIME
    assert arrival(DUE, dt.date(2027, 1, 11), None, dt.date(2027, 2, 1)) == arrival(
        DUE, dt.date(2027, 1, 11), None, DUE).__class__(ArrivalStatus.LATE, 3)
    assert arrival(DUE, None, None, DUE).status is ArrivalStatus.AWAITED
    assert arrival(DUE, None, None, dt.date(2027, 1, 10)).days_late == 2
    assert arrival(DUE, DUE, dt.date(2027, 6, 1), dt.date(2027, 7, 1)).status is ArrivalStatus.LEFT


def test_a_village_stays_until_a_later_county_pass() -> None:
    failed = Verdict(2029, "county", False, "未达标")
    assert still_failing([failed], 2030) == failed
    assert still_failing([failed], 2029) is None  # not before the verdict's year
    assert still_failing([failed, Verdict(2030, "county", True)], 2031) is None
    assert still_failing([failed, Verdict(2030, "township", True)], 2031) == failed  # only the county's verdict counts
