"""Working-day calendar backed by the official arrangements an administrator loaded."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select as sql_select
from sqlmodel import Session, select

from domain.calendar import CalendarSource, DuePolicy, WorkCalendar, YearArrangement
from domain.errors import ValidationFailed
from models import CalendarYear, Campaign, Obligation
from tasks.audit import SYSTEM, AuditActor, record

_ARRANGEMENTS = sql_select(CalendarYear.year, CalendarYear.holidays, CalendarYear.makeup_workdays)  # type: ignore[call-overload]
_last: tuple[Any, WorkCalendar] | None = None


def load_work_calendar(session: Session) -> WorkCalendar:
    """The working-day calendar of the arrangements loaded. The tick and every page ask for it, and the rows rarely
    change: the calendar built last is reused while they read the same (with the working days it already worked
    out), so a caller pays one small query, not the parsing and the chinese-calendar lookups again."""
    global _last
    rows = tuple((year, tuple(holidays), tuple(makeup)) for year, holidays, makeup in session.execute(_ARRANGEMENTS))
    last = _last
    if last is not None and last[0] == rows:
        return last[1]
    calendar = WorkCalendar({
        year: YearArrangement(
            year=year,
            holidays=frozenset(dt.date.fromisoformat(d) for d in holidays),
            makeup_workdays=frozenset(dt.date.fromisoformat(d) for d in makeup),
        )
        for year, holidays, makeup in rows
    })
    _last = (rows, calendar)
    return calendar


def parse_arrangement(data: Any, source: str) -> YearArrangement:
    """Parse ``{year: 2027, holidays: [...], makeup_workdays: [...]}`` with errors naming the field."""
    if not isinstance(data, dict):
        raise ValidationFailed(f"{source}: expected a mapping with year, holidays, makeup_workdays")
    unknown = set(data) - {"year", "holidays", "makeup_workdays", "note"}
    if unknown:
        raise ValidationFailed(f"{source}: unknown field(s): {', '.join(sorted(unknown))}")
    year = data.get("year")
    if isinstance(year, str) and year.isdigit():
        year = int(year)
    if not isinstance(year, int) or not 1900 <= year <= 2200:
        raise ValidationFailed(f"{source}: year: must be a year such as 2027")
    sets: dict[str, frozenset[dt.date]] = {}
    for name in ("holidays", "makeup_workdays"):
        days = []
        for i, raw in enumerate(data.get(name) or []):
            try:
                days.append(raw if isinstance(raw, dt.date) else dt.date.fromisoformat(str(raw)))
            except ValueError:
                raise ValidationFailed(f"{source}: {name}[{i}]: '{raw}' is not a date (YYYY-MM-DD)") from None
        sets[name] = frozenset(days)
    try:
        return YearArrangement(year=year, holidays=sets["holidays"], makeup_workdays=sets["makeup_workdays"])
    except ValueError as exc:
        raise ValidationFailed(f"{source}: {exc}") from None


def read_arrangement_file(path: Path) -> YearArrangement:
    try:
        # BaseLoader keeps scalars as text, so a bad date is reported by field, not by the YAML parser.
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.BaseLoader)  # noqa: S506
    except yaml.YAMLError as exc:
        raise ValidationFailed(f"{path.name}: not valid YAML: {exc}") from None
    return parse_arrangement(data, path.name)


def save_arrangement(session: Session, arrangement: YearArrangement, now: dt.datetime, note: str | None = None,
                     *, by: AuditActor = SYSTEM) -> None:
    """Store a year's official arrangement (an audit event of ``by``); :func:`reapply_year` moves the deadlines."""
    old = session.get(CalendarYear, arrangement.year)
    before = None if old is None else {"holidays": list(old.holidays), "makeup_workdays": list(old.makeup_workdays)}
    row = old or CalendarYear(year=arrangement.year, loaded_at=now)
    row.holidays = sorted(d.isoformat() for d in arrangement.holidays)
    row.makeup_workdays = sorted(d.isoformat() for d in arrangement.makeup_workdays)
    row.note = note
    row.loaded_at = now
    session.add(row)
    record(session, by, "calendar.load", ("calendar_year", arrangement.year), now=now, before=before,
           after={"holidays": row.holidays, "makeup_workdays": row.makeup_workdays, "note": note})


def reapply_year(session: Session, year: int) -> int:
    """After a year's official arrangement is loaded, move the open deadlines of that year onto it.

    Only obligations not yet submitted move; the "no official data" warning for the year is dropped.
    Returns how many due dates changed.
    """
    calendar = load_work_calendar(session)
    changed = 0
    rows = session.exec(
        select(Obligation).where(
            Obligation.nominal_due_on >= dt.date(year, 1, 1),
            Obligation.nominal_due_on <= dt.date(year, 12, 31),
            Obligation.status.in_(["scheduled", "open"]),  # type: ignore[attr-defined]
        )
    )
    for obligation in rows:
        due_on = calendar.adjust(obligation.nominal_due_on, DuePolicy(obligation.policy))
        if due_on != obligation.due_on:
            obligation.due_on = due_on
            obligation.opens_on = min(obligation.opens_on, due_on)
            obligation.version += 1
            session.add(obligation)
            changed += 1
    stale = WorkCalendar().warnings([year]) if calendar.source(year) is CalendarSource.LOADED else []
    if stale:
        for campaign in session.exec(select(Campaign)):
            if stale[0] in campaign.calendar_warnings:
                campaign.calendar_warnings = [w for w in campaign.calendar_warnings if w != stale[0]]
                session.add(campaign)
    return changed
