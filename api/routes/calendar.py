"""The working-day calendar in force for a year."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Path

from api.deps import CurrentPrincipal, SessionDep
from api.routes.problems import READ
from tasks.calendar import load_work_calendar

router = APIRouter(prefix="/api/v1/calendar", tags=["calendar"], responses=READ)


@router.get("/{year}", summary="Working-day calendar of a year: its source, warnings and non-working weekdays")
def read_calendar(year: Annotated[int, Path(ge=1900, le=2200)], session: SessionDep, _: CurrentPrincipal) -> dict[str, Any]:
    calendar = load_work_calendar(session)
    day, end = dt.date(year, 1, 1), dt.date(year, 12, 31)
    holidays, makeup = [], []
    while day <= end:
        working = calendar.is_workday(day)
        if day.weekday() < 5 and not working:
            holidays.append(day.isoformat())
        elif day.weekday() >= 5 and working:
            makeup.append(day.isoformat())
        day += dt.timedelta(days=1)
    return {
        "year": year,
        "source": calendar.source(year).value,
        "warnings": calendar.warnings([year]),
        "weekday_holidays": holidays,
        "makeup_workdays": makeup,
    }
