"""China working-day calendar against real dates.

Every expected date below is a literal taken from the State Council's published holiday
arrangements (国务院办公厅关于部分节假日安排的通知) for 2024, 2025 and 2026, cross-checked
by hand against a wall calendar; none is recomputed by the code under test.
"""

from __future__ import annotations

import datetime as dt

import chinese_calendar
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.calendar import (
    CalendarSource,
    DuePolicy,
    WorkCalendar,
    YearArrangement,
    quarterly_report_due,
)

D = dt.date.fromisoformat
KEEP = DuePolicy.KEEP
PREV = DuePolicy.PREVIOUS_WORKDAY
NEXT = DuePolicy.NEXT_WORKDAY

CAL = WorkCalendar()


# --------------------------------------------------------------------------- quarterly due dates

QUARTERLY = [
    # year, quarter, policy, expected          nominal day 20 / why
    (2024, 1, KEEP, "2024-03-20"),  # Wed, working day
    (2024, 1, PREV, "2024-03-20"),
    (2024, 1, NEXT, "2024-03-20"),
    (2024, 2, KEEP, "2024-06-20"),  # Thu, working day
    (2024, 2, PREV, "2024-06-20"),
    (2024, 2, NEXT, "2024-06-20"),
    (2024, 3, KEEP, "2024-09-20"),  # Fri, working day
    (2024, 3, PREV, "2024-09-20"),
    (2024, 3, NEXT, "2024-09-20"),
    (2024, 4, KEEP, "2024-12-20"),  # Fri, working day
    (2024, 4, PREV, "2024-12-20"),
    (2024, 4, NEXT, "2024-12-20"),
    (2025, 1, KEEP, "2025-03-20"),  # Thu, working day
    (2025, 1, PREV, "2025-03-20"),
    (2025, 1, NEXT, "2025-03-20"),
    (2025, 2, KEEP, "2025-06-20"),  # Fri, working day
    (2025, 2, PREV, "2025-06-20"),
    (2025, 2, NEXT, "2025-06-20"),
    (2025, 3, KEEP, "2025-09-20"),  # Sat, weekend
    (2025, 3, PREV, "2025-09-19"),  # Fri
    (2025, 3, NEXT, "2025-09-22"),  # Mon
    (2025, 4, KEEP, "2025-12-20"),  # Sat, weekend
    (2025, 4, PREV, "2025-12-19"),  # Fri
    (2025, 4, NEXT, "2025-12-22"),  # Mon
    (2026, 1, KEEP, "2026-03-20"),  # Fri, working day
    (2026, 1, PREV, "2026-03-20"),
    (2026, 1, NEXT, "2026-03-20"),
    (2026, 2, KEEP, "2026-06-20"),  # Sat inside Dragon Boat Festival 06-19 (Fri)..06-21 (Sun)
    (2026, 2, PREV, "2026-06-18"),  # Thu: Fri 06-19 is the festival itself
    (2026, 2, NEXT, "2026-06-22"),  # Mon
    (2026, 3, KEEP, "2026-09-20"),  # Sun, but a make-up working day for National Day 2026
    (2026, 3, PREV, "2026-09-20"),
    (2026, 3, NEXT, "2026-09-20"),
    (2026, 4, KEEP, "2026-12-20"),  # Sun, weekend
    (2026, 4, PREV, "2026-12-18"),  # Fri
    (2026, 4, NEXT, "2026-12-21"),  # Mon
]


def test_quarterly_table_is_complete() -> None:
    assert len(QUARTERLY) == 36
    assert {(y, q, p) for y, q, p, _ in QUARTERLY} == {
        (y, q, p) for y in (2024, 2025, 2026) for q in (1, 2, 3, 4) for p in DuePolicy
    }


@pytest.mark.parametrize(("year", "quarter", "policy", "expected"), QUARTERLY)
def test_quarterly_report_due(year: int, quarter: int, policy: DuePolicy, expected: str) -> None:
    assert quarterly_report_due(year, quarter, CAL, policy=policy) == D(expected)


def test_quarterly_report_due_defaults_to_previous_workday() -> None:
    assert quarterly_report_due(2025, 3, CAL) == D("2025-09-19")
    assert quarterly_report_due(2026, 2, CAL) == D("2026-06-18")
    assert quarterly_report_due(2026, 3, CAL) == D("2026-09-20")


def test_quarterly_report_due_custom_day() -> None:
    # 2025-09-15 is a Monday; 2025-12-14 is a Sunday.
    assert quarterly_report_due(2025, 3, CAL, day=15) == D("2025-09-15")
    assert quarterly_report_due(2025, 4, CAL, day=14) == D("2025-12-12")
    assert quarterly_report_due(2025, 4, CAL, day=14, policy=NEXT) == D("2025-12-15")


@pytest.mark.parametrize("quarter", [0, 5, -1])
def test_quarterly_report_due_rejects_bad_quarter(quarter: int) -> None:
    with pytest.raises(ValueError, match="quarter"):
        quarterly_report_due(2025, quarter, CAL)


# --------------------------------------------------------------------------- golden weeks

NATIONAL_DAY_2025_HOLIDAYS = [f"2025-10-0{i}" for i in range(1, 9)]  # Wed 10-01 .. Wed 10-08
SPRING_FESTIVAL_2024_HOLIDAYS = [f"2024-02-{i}" for i in range(10, 18)]  # Sat 02-10 .. Sat 02-17
SPRING_FESTIVAL_2026_HOLIDAYS = [f"2026-02-{i}" for i in range(15, 24)]  # Sun 02-15 .. Mon 02-23
SPRING_FESTIVAL_2025_HOLIDAYS = [
    "2025-01-28", "2025-01-29", "2025-01-30", "2025-01-31",
    "2025-02-01", "2025-02-02", "2025-02-03", "2025-02-04",
]  # Tue 01-28 .. Tue 02-04
NATIONAL_DAY_2026_HOLIDAYS = [f"2026-10-0{i}" for i in range(1, 8)]  # Thu 10-01 .. Wed 10-07

HOLIDAYS = (
    NATIONAL_DAY_2025_HOLIDAYS
    + SPRING_FESTIVAL_2024_HOLIDAYS
    + SPRING_FESTIVAL_2025_HOLIDAYS
    + SPRING_FESTIVAL_2026_HOLIDAYS
    + NATIONAL_DAY_2026_HOLIDAYS
    + ["2026-06-19", "2025-01-01", "2026-01-01"]
)

MAKEUP_WORKDAYS = [
    "2025-09-28",  # Sun, National Day 2025
    "2025-10-11",  # Sat, National Day 2025
    "2024-02-04",  # Sun, Spring Festival 2024
    "2024-02-18",  # Sun, Spring Festival 2024
    "2025-01-26",  # Sun, Spring Festival 2025
    "2025-02-08",  # Sat, Spring Festival 2025
    "2026-02-14",  # Sat, Spring Festival 2026
    "2026-02-28",  # Sat, Spring Festival 2026
    "2026-09-20",  # Sun, National Day 2026
    "2026-10-10",  # Sat, National Day 2026
]

ORDINARY_WEEKENDS = ["2025-09-27", "2025-10-12", "2024-02-03", "2024-02-24", "2026-03-01", "2026-10-11"]
ORDINARY_WEEKDAYS = ["2025-09-29", "2025-09-30", "2025-10-09", "2024-02-09", "2024-02-19", "2026-02-24"]


@pytest.mark.parametrize("day", HOLIDAYS)
def test_statutory_holidays_are_not_workdays(day: str) -> None:
    assert CAL.is_workday(D(day)) is False


@pytest.mark.parametrize("day", MAKEUP_WORKDAYS)
def test_makeup_weekend_days_are_workdays(day: str) -> None:
    assert D(day).weekday() >= 5  # the table really lists Saturdays and Sundays
    assert CAL.is_workday(D(day)) is True


@pytest.mark.parametrize("day", ORDINARY_WEEKENDS)
def test_ordinary_weekends_are_not_workdays(day: str) -> None:
    assert CAL.is_workday(D(day)) is False


@pytest.mark.parametrize("day", ORDINARY_WEEKDAYS)
def test_ordinary_weekdays_next_to_holidays_are_workdays(day: str) -> None:
    assert CAL.is_workday(D(day)) is True


def test_2026_spring_festival_matches_official_arrangement() -> None:
    # 国办发明电〔2025〕7号: 2月15日至23日放假调休，共9天；2月14日（周六）、2月28日（周六）上班。
    for day in SPRING_FESTIVAL_2026_HOLIDAYS:
        assert chinese_calendar.get_holiday_detail(D(day)) == (True, "Spring Festival")
    for day in ("2026-02-14", "2026-02-28"):
        assert chinese_calendar.get_holiday_detail(D(day)) == (False, "Spring Festival")
    assert chinese_calendar.get_holiday_detail(D("2026-02-13")) == (False, None)
    assert chinese_calendar.get_holiday_detail(D("2026-02-24")) == (False, None)


def test_bundled_years_report_bundled_source() -> None:
    for year in (2004, 2024, 2025, 2026):
        assert CAL.source(year) is CalendarSource.BUNDLED


ADJUST_CASES = [
    # day, policy, expected
    ("2025-10-01", PREV, "2025-09-30"),
    ("2025-10-01", NEXT, "2025-10-09"),
    ("2025-10-05", PREV, "2025-09-30"),
    ("2025-10-08", NEXT, "2025-10-09"),
    ("2025-10-08", KEEP, "2025-10-08"),
    ("2025-09-27", NEXT, "2025-09-28"),  # Sat -> make-up Sun
    ("2025-10-12", PREV, "2025-10-11"),  # Sun -> make-up Sat
    ("2025-10-11", PREV, "2025-10-11"),  # make-up Sat stays
    ("2025-09-28", NEXT, "2025-09-28"),  # make-up Sun stays
    ("2024-02-10", PREV, "2024-02-09"),
    ("2024-02-10", NEXT, "2024-02-18"),  # make-up Sun right after the block
    ("2024-02-17", PREV, "2024-02-09"),
    ("2024-02-17", NEXT, "2024-02-18"),
    ("2024-02-03", NEXT, "2024-02-04"),  # Sat -> make-up Sun
    ("2025-01-28", PREV, "2025-01-27"),
    ("2025-01-28", NEXT, "2025-02-05"),
    ("2025-01-25", NEXT, "2025-01-26"),  # Sat -> make-up Sun
    ("2026-02-15", PREV, "2026-02-14"),  # make-up Sat right before the block
    ("2026-02-15", NEXT, "2026-02-24"),
    ("2026-02-23", PREV, "2026-02-14"),
    ("2026-02-23", NEXT, "2026-02-24"),
    ("2026-10-04", PREV, "2026-09-30"),
    ("2026-10-04", NEXT, "2026-10-08"),
    ("2026-09-27", PREV, "2026-09-24"),  # Mid-Autumn 09-25..09-27
    ("2026-09-25", NEXT, "2026-09-28"),
    ("2025-01-01", PREV, "2024-12-31"),  # across a year boundary
    ("2024-12-31", NEXT, "2024-12-31"),
]


@pytest.mark.parametrize(("day", "policy", "expected"), ADJUST_CASES)
def test_adjust_over_holiday_blocks(day: str, policy: DuePolicy, expected: str) -> None:
    assert CAL.adjust(D(day), policy) == D(expected)


@pytest.mark.parametrize("day", ["2025-10-01", "2024-02-12", "2026-02-18", "2025-09-27"])
def test_keep_never_moves(day: str) -> None:
    assert CAL.adjust(D(day), KEEP) == D(day)


def test_policy_parsed_from_config_string() -> None:
    assert CAL.adjust(D("2025-10-03"), DuePolicy("previous_workday")) == D("2025-09-30")
    assert CAL.adjust(D("2025-10-03"), DuePolicy("next_workday")) == D("2025-10-09")
    assert CAL.adjust(D("2025-10-03"), DuePolicy("keep")) == D("2025-10-03")


# --------------------------------------------------------------------------- add_workdays / between

ADD_CASES = [
    # start, count, expected
    ("2025-10-10", -3, "2025-09-29"),  # 10-09, 09-30, 09-29
    ("2025-10-10", -1, "2025-10-09"),
    ("2025-10-10", -2, "2025-09-30"),
    ("2025-09-30", 1, "2025-10-09"),
    ("2025-09-30", 3, "2025-10-11"),  # 10-09, 10-10, make-up Sat 10-11
    ("2025-09-30", 4, "2025-10-13"),
    ("2025-09-26", 1, "2025-09-28"),  # make-up Sun
    ("2025-10-05", -1, "2025-09-30"),
    ("2025-10-05", 1, "2025-10-09"),
    ("2024-02-09", 1, "2024-02-18"),  # make-up Sun after Spring Festival 2024
    ("2024-02-09", -1, "2024-02-08"),
    ("2024-02-18", -1, "2024-02-09"),
    ("2024-02-05", -1, "2024-02-04"),  # make-up Sun before Spring Festival 2024
    ("2026-02-13", 1, "2026-02-14"),
    ("2026-02-13", 2, "2026-02-24"),
    ("2026-02-24", -1, "2026-02-14"),
    ("2026-02-24", -2, "2026-02-13"),
    ("2024-12-31", 1, "2025-01-02"),  # 2025-01-01 is New Year's Day
    ("2025-01-02", -1, "2024-12-31"),
]


@pytest.mark.parametrize(("start", "count", "expected"), ADD_CASES)
def test_add_workdays(start: str, count: int, expected: str) -> None:
    assert CAL.add_workdays(D(start), count) == D(expected)


@pytest.mark.parametrize("day", ["2025-10-03", "2025-10-10", "2025-09-27", "2027-01-02"])
def test_add_zero_workdays_returns_the_day_itself(day: str) -> None:
    assert CAL.add_workdays(D(day), 0) == D(day)


BETWEEN_CASES = [
    # start, end, count of working days in (start, end]
    ("2025-09-30", "2025-10-09", 1),
    ("2025-09-30", "2025-10-08", 0),
    ("2025-09-26", "2025-10-13", 7),  # 09-28, 09-29, 09-30, 10-09, 10-10, 10-11, 10-13
    ("2024-02-09", "2024-02-19", 2),  # 02-18, 02-19
    ("2024-02-03", "2024-02-18", 7),  # 02-04 .. 02-09 (6) + 02-18
    ("2026-02-13", "2026-02-28", 6),  # 02-14, 02-24 .. 02-27, 02-28
    ("2025-10-10", "2025-10-10", 0),
    ("2025-10-01", "2025-10-02", 0),
]


@pytest.mark.parametrize(("start", "end", "expected"), BETWEEN_CASES)
def test_workdays_between_is_antisymmetric(start: str, end: str, expected: int) -> None:
    assert CAL.workdays_between(D(start), D(end)) == expected
    assert CAL.workdays_between(D(end), D(start)) == -expected


def test_backward_round_trip_from_a_holiday() -> None:
    # Documented half-open semantics: one working day before the holiday 2025-10-05 is 09-30, yet no
    # working day lies in (09-30, 10-05], so the backward count from a non-working day is 0, not -1.
    assert CAL.add_workdays(D("2025-10-05"), -1) == D("2025-09-30")
    assert CAL.workdays_between(D("2025-10-05"), D("2025-09-30")) == 0
    assert CAL.add_workdays(D("2025-10-05"), 1) == D("2025-10-09")
    assert CAL.workdays_between(D("2025-10-05"), D("2025-10-09")) == 1


def test_workdays_between_sign() -> None:
    assert CAL.workdays_between(D("2025-10-09"), D("2025-10-13")) == 3
    assert CAL.workdays_between(D("2025-10-13"), D("2025-10-09")) == -3
    assert CAL.workdays_between(D("2025-10-13"), D("2025-10-13")) == 0


# --------------------------------------------------------------------------- years without data

@pytest.mark.parametrize("year", [2027, 2030, 2003])
def test_year_without_data_is_weekends_only(year: int) -> None:
    assert CAL.source(year) is CalendarSource.WEEKENDS_ONLY


WEEKENDS_ONLY_DAYS = [
    ("2027-01-01", True),  # Fri — New Year's Day in reality, but no data yet
    ("2027-01-02", False),  # Sat
    ("2027-01-03", False),  # Sun
    ("2027-02-08", True),  # Mon
    ("2027-10-01", True),  # Fri — National Day in reality, but no data yet
    ("2027-10-02", False),  # Sat
    ("2030-01-01", True),  # Tue
    ("2030-06-15", False),  # Sat
    ("2030-10-05", False),  # Sat
    ("2030-10-06", False),  # Sun
    ("2030-10-01", True),  # Tue
]


@pytest.mark.parametrize(("day", "expected"), WEEKENDS_ONLY_DAYS)
def test_year_without_data_falls_back_to_monday_to_friday(day: str, expected: bool) -> None:
    assert CAL.is_workday(D(day)) is expected


WEEKENDS_ONLY_ADJUST = [
    ("2027-03-20", PREV, "2027-03-19"),  # Sat
    ("2027-03-20", NEXT, "2027-03-22"),
    ("2027-03-20", KEEP, "2027-03-20"),
    ("2027-06-20", PREV, "2027-06-18"),  # Sun
    ("2027-06-20", NEXT, "2027-06-21"),
    ("2027-01-02", PREV, "2027-01-01"),
    ("2030-06-15", NEXT, "2030-06-17"),
    ("2030-10-05", PREV, "2030-10-04"),
    ("2004-01-01", PREV, "2003-12-31"),  # bundled holiday -> into a year without data
    ("2004-01-01", NEXT, "2004-01-02"),
]


@pytest.mark.parametrize(("day", "policy", "expected"), WEEKENDS_ONLY_ADJUST)
def test_adjust_in_year_without_data(day: str, policy: DuePolicy, expected: str) -> None:
    assert CAL.adjust(D(day), policy) == D(expected)


def test_quarterly_due_in_year_without_data_never_raises() -> None:
    for year in (2027, 2030):
        for quarter in (1, 2, 3, 4):
            for policy in DuePolicy:
                quarterly_report_due(year, quarter, CAL, policy=policy)
    assert quarterly_report_due(2027, 1, CAL) == D("2027-03-19")
    assert quarterly_report_due(2027, 4, CAL) == D("2027-12-20")  # Mon


def test_warnings_one_per_year_without_data() -> None:
    warnings = CAL.warnings([2030, 2027, 2025, 2027, 2026])
    assert len(warnings) == 2
    assert "2027年" in warnings[0]
    assert "2030年" in warnings[1]
    for text in warnings:
        assert "法定节假日" in text
        assert "仅周末" in text
        assert "国务院办公厅" in text


def test_no_warnings_for_bundled_years() -> None:
    assert CAL.warnings([2025]) == []
    assert CAL.warnings([2024, 2025, 2026]) == []
    assert CAL.warnings([]) == []


# --------------------------------------------------------------------------- loaded arrangement

ARRANGEMENT_2027 = YearArrangement(
    2027,
    holidays=frozenset(D(f"2027-10-0{i}") for i in range(1, 8)),  # Fri 10-01 .. Thu 10-07
    makeup_workdays=frozenset({D("2027-09-26"), D("2027-10-09")}),  # Sun, Sat
)


@pytest.fixture
def loaded() -> WorkCalendar:
    return WorkCalendar({2027: ARRANGEMENT_2027})


def test_loaded_year_source(loaded: WorkCalendar) -> None:
    assert loaded.source(2027) is CalendarSource.LOADED
    assert loaded.source(2025) is CalendarSource.BUNDLED
    assert loaded.source(2028) is CalendarSource.WEEKENDS_ONLY


def test_loaded_holiday_and_makeup(loaded: WorkCalendar) -> None:
    assert loaded.is_workday(D("2027-10-01")) is False  # Fri, loaded holiday
    assert loaded.is_workday(D("2027-10-04")) is False  # Mon, loaded holiday
    assert loaded.is_workday(D("2027-10-09")) is True  # Sat, loaded make-up day
    assert loaded.is_workday(D("2027-09-26")) is True  # Sun, loaded make-up day
    assert loaded.is_workday(D("2027-10-08")) is True  # Fri, ordinary
    assert loaded.is_workday(D("2027-10-16")) is False  # Sat, ordinary weekend
    assert loaded.is_workday(D("2027-10-17")) is False  # Sun, ordinary weekend
    # the same days without the arrangement
    assert CAL.is_workday(D("2027-10-01")) is True
    assert CAL.is_workday(D("2027-10-09")) is False


def test_loaded_adjust_and_add(loaded: WorkCalendar) -> None:
    assert loaded.adjust(D("2027-10-01"), PREV) == D("2027-09-30")
    assert loaded.adjust(D("2027-10-01"), NEXT) == D("2027-10-08")
    assert loaded.adjust(D("2027-09-25"), NEXT) == D("2027-09-26")
    assert loaded.add_workdays(D("2027-09-30"), 2) == D("2027-10-09")
    assert loaded.workdays_between(D("2027-09-24"), D("2027-10-09")) == 7  # 09-26..09-30, 10-08, 10-09


def test_loaded_year_has_no_warning(loaded: WorkCalendar) -> None:
    assert loaded.warnings([2027]) == []
    warnings = loaded.warnings([2027, 2028])
    assert len(warnings) == 1
    assert "2028年" in warnings[0]


def test_loaded_arrangement_overrides_bundled_data() -> None:
    cal = WorkCalendar({2025: YearArrangement(2025)})
    assert cal.source(2025) is CalendarSource.LOADED
    assert cal.is_workday(D("2025-10-01")) is True  # empty arrangement: only weekends off
    assert cal.is_workday(D("2025-10-11")) is False


def test_arrangement_rejects_day_in_both_sets() -> None:
    with pytest.raises(ValueError, match="2027-10-01"):
        YearArrangement(
            2027,
            holidays=frozenset({D("2027-10-01"), D("2027-10-02")}),
            makeup_workdays=frozenset({D("2027-10-01")}),
        )


@pytest.mark.parametrize(
    ("holidays", "makeup"),
    [
        ({D("2026-10-01")}, set()),
        (set(), {D("2028-01-08")}),
        ({D("2027-10-01"), D("2026-12-31")}, set()),
    ],
)
def test_arrangement_rejects_day_of_another_year(holidays: set[dt.date], makeup: set[dt.date]) -> None:
    with pytest.raises(ValueError, match="not in year 2027"):
        YearArrangement(2027, holidays=frozenset(holidays), makeup_workdays=frozenset(makeup))


# --------------------------------------------------------------------------- properties

dates = st.dates(min_value=dt.date(2004, 1, 1), max_value=dt.date(2030, 12, 31))


@settings(max_examples=400, deadline=None)
@given(day=dates, policy=st.sampled_from(list(DuePolicy)))
def test_adjust_property(day: dt.date, policy: DuePolicy) -> None:
    result = CAL.adjust(day, policy)
    if policy is KEEP:
        assert result == day
    else:
        assert CAL.is_workday(result)
        if CAL.is_workday(day):
            assert result == day
    if policy is PREV:
        assert result <= day
    if policy is NEXT:
        assert result >= day
    assert abs((result - day).days) <= 15


@settings(max_examples=300, deadline=None)
@given(day=dates)
def test_is_workday_matches_source(day: dt.date) -> None:
    if day.year <= 2026:
        assert CAL.is_workday(day) == chinese_calendar.is_workday(day)
    else:
        assert CAL.is_workday(day) == (day.weekday() < 5)


@settings(max_examples=300, deadline=None)
@given(day=dates, count=st.integers(min_value=-40, max_value=40))
def test_add_workdays_inverts_workdays_between(day: dt.date, count: int) -> None:
    end = CAL.add_workdays(day, count)
    # (start, end] counts ``end`` but not ``start``: the round trip is exact going forward, and going
    # backward only from a working day (see test_backward_round_trip_from_a_holiday).
    if count >= 0 or CAL.is_workday(day):
        assert CAL.workdays_between(day, end) == count
    if count:
        assert CAL.is_workday(end)
        assert (end > day) == (count > 0)
