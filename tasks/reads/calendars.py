"""The official holiday arrangements loaded, year by year."""

from __future__ import annotations

from sqlmodel import Session, col, select

from models import CalendarYear


def calendar_years(session: Session) -> list[CalendarYear]:
    """Every year's arrangement loaded, oldest first."""
    return list(session.exec(select(CalendarYear).order_by(col(CalendarYear.year))))
