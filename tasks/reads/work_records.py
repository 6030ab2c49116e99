"""The work records as the caller may see them (003 §三(一), §四(三)(六)): diary entries and monthly team records
by the township of their village, leaders' visits by the leader's township, quarterly reports by the reporting
township (a dispatching unit's account sees its own unit's; county-wide roles see all), and who is late with a
quarter's report (逾期未报)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from domain import work_records as rules
from domain.calendar import WorkCalendar, quarterly_report_due
from domain.vocabulary import UnitReportStatus, zh_date
from models import (
    Cadre,
    DiaryEntry,
    Leader,
    LeaderVisit,
    OrgUnit,
    StationingTeam,
    TeamMonthlyRecord,
    UnitReport,
)
from tasks.accounts import Principal
from tasks.reads import Page, fetch_page, where_given
from tasks.scope import scoped

EVERY = 2**31 - 1


def list_diaries(session: Session, principal: Principal, *, cadre: str | None = None, village: str | None = None,
                 start: dt.date | None = None, end: dt.date | None = None, township: str | None = None,
                 limit: int = 200, offset: int = 0) -> Page[dict[str, Any]]:
    """Diary entries, newest first: date, township, village, cadre and unit, place, work, help, results."""
    vil, town, unit = aliased(OrgUnit), aliased(OrgUnit), aliased(OrgUnit)
    stmt = (select(DiaryEntry, Cadre, vil, town, unit)  # type: ignore[call-overload]
            .join(Cadre, col(DiaryEntry.cadre_id) == Cadre.id).join(vil, col(DiaryEntry.village_id) == vil.id)
            .join(town, col(vil.parent_id) == town.id).join(unit, col(Cadre.unit_id) == unit.id))
    stmt = scoped(stmt, principal, vil.parent_id)
    stmt = where_given(stmt, (Cadre.code, cadre), (vil.code, village), (town.code, township))
    if start is not None:
        stmt = stmt.where(col(DiaryEntry.entry_date) >= start)
    if end is not None:
        stmt = stmt.where(col(DiaryEntry.entry_date) <= end)
    rows, total = fetch_page(session, stmt, col(DiaryEntry.entry_date).desc(), col(DiaryEntry.id).desc(),
                             limit=limit, offset=offset)
    items = [{"id": e.id, "entry_date": e.entry_date.isoformat(), "township": t.code, "township_name": t.name,
              "village": v.code, "village_name": v.name, "cadre": c.code, "cadre_name": c.name, "unit": u.code,
              "unit_name": u.name, "place": e.place, "work": e.work, "help_given": e.help_given, "results": e.results}
             for e, c, v, t, u in rows]
    return Page(items, total, limit, offset)


def list_monthly(session: Session, principal: Principal, *, village: str | None = None, year: int | None = None,
                 township: str | None = None, record_id: int | None = None, limit: int = 200,
                 offset: int = 0) -> Page[dict[str, Any]]:
    """Teams' monthly records, latest month first (``record_id``: only that record, as its writer answers it)."""
    vil, town = aliased(OrgUnit), aliased(OrgUnit)
    stmt = (select(TeamMonthlyRecord, vil, town)
            .join(StationingTeam, col(TeamMonthlyRecord.team_id) == StationingTeam.id)
            .join(vil, col(StationingTeam.village_id) == vil.id).join(town, col(vil.parent_id) == town.id))
    stmt = scoped(stmt, principal, vil.parent_id)
    stmt = where_given(stmt, (vil.code, village), (TeamMonthlyRecord.year, year), (town.code, township),
                       (TeamMonthlyRecord.id, record_id))
    rows, total = fetch_page(session, stmt, col(TeamMonthlyRecord.year).desc(), col(TeamMonthlyRecord.month).desc(),
                             col(vil.code), limit=limit, offset=offset)
    items = [{"id": r.id, "village": v.code, "village_name": v.name, "township": t.code, "township_name": t.name,
              "year": r.year, "month": r.month, "work": r.work, "problems_solved": r.problems_solved,
              "next_steps": r.next_steps, "version": r.version} for r, v, t in rows]
    return Page(items, total, limit, offset)


def _half_counts(session: Session, leader_ids: set[int]) -> dict[tuple[int, rules.HalfYear], int]:
    counts: dict[tuple[int, rules.HalfYear], int] = {}
    if leader_ids:
        for leader_id, day in session.exec(select(col(LeaderVisit.leader_id), col(LeaderVisit.visited_on))
                                           .where(col(LeaderVisit.leader_id).in_(leader_ids))):
            key = (leader_id, rules.half_year_of(day))
            counts[key] = counts.get(key, 0) + 1
    return counts


def list_visits(session: Session, principal: Principal, *, leader: str | None = None, township: str | None = None,
                year: int | None = None, visit_id: int | None = None, limit: int = 200,
                offset: int = 0) -> Page[dict[str, Any]]:
    """Leaders' visits, newest first, each with the leader's number of visits in its half-year (半年次数)
    (``visit_id``: only that visit, as its writer answers it)."""
    vil, town = aliased(OrgUnit), aliased(OrgUnit)
    stmt = (select(LeaderVisit, Leader, vil, town).join(Leader, col(LeaderVisit.leader_id) == Leader.id)
            .join(vil, col(LeaderVisit.village_id) == vil.id).join(town, col(Leader.township_id) == town.id))
    stmt = scoped(stmt, principal, Leader.township_id)
    stmt = where_given(stmt, (Leader.code, leader), (town.code, township), (LeaderVisit.id, visit_id))
    if year is not None:
        stmt = stmt.where(col(LeaderVisit.visited_on) >= dt.date(year, 1, 1),
                          col(LeaderVisit.visited_on) <= dt.date(year, 12, 31))
    rows, total = fetch_page(session, stmt, col(LeaderVisit.visited_on).desc(), col(LeaderVisit.id).desc(),
                             limit=limit, offset=offset)
    halves = _half_counts(session, {p.id or 0 for _, p, _, _ in rows})
    items = [{"id": x.id, "leader": p.code, "leader_name": p.name, "level": p.level, "post": p.post,
              "township": t.code, "township_name": t.name, "village": v.code, "village_name": v.name,
              "visited_on": x.visited_on.isoformat(), "purpose": x.purpose,
              "half_year": rules.half_year_of(x.visited_on).label,
              "half_year_visits": halves.get((p.id or 0, rules.half_year_of(x.visited_on)), 0)}
             for x, p, v, t in rows]
    return Page(items, total, limit, offset)


def _report_item(r: UnitReport, u: OrgUnit) -> dict[str, Any]:
    counts = {k: r.counts.get(k) for k in rules.COUNT_LABELS if k in r.counts}
    return {"id": r.id, "unit": u.code, "unit_name": u.name, "unit_kind": u.kind, "year": r.year,
            "quarter": r.quarter, "progress": r.progress, "problems": r.problems, "next_steps": r.next_steps,
            "counts": counts, "counts_text": "；".join(f"{rules.COUNT_LABELS[k]}{v}" for k, v in counts.items()),
            "status": r.status, "status_label": UnitReportStatus.label_of(r.status),
            "submitted_at": r.submitted_at.isoformat(), "review_note": r.review_note, "version": r.version}


def list_unit_reports(session: Session, principal: Principal, *, year: int | None = None, quarter: int | None = None,
                      unit: str | None = None, status: str | None = None, limit: int = 200,
                      offset: int = 0) -> Page[dict[str, Any]]:
    """Quarterly reports to the 基层办, latest quarter first."""
    stmt = select(UnitReport, OrgUnit).join(OrgUnit, col(UnitReport.org_unit_id) == OrgUnit.id)
    stmt = scoped(stmt, principal, UnitReport.org_unit_id)
    stmt = where_given(stmt, (UnitReport.year, year), (UnitReport.quarter, quarter), (OrgUnit.code, unit),
                       (UnitReport.status, status))
    rows, total = fetch_page(session, stmt, col(UnitReport.year).desc(), col(UnitReport.quarter).desc(),
                             col(OrgUnit.code), limit=limit, offset=offset)
    return Page([_report_item(r, u) for r, u in rows], total, limit, offset)


def overdue_reporters(session: Session, principal: Principal, year: int, quarter: int, today: dt.date,
                      calendar: WorkCalendar, day: int = 20) -> dict[str, Any]:
    """The quarter's due day (the definition's quarterly rule: the 20th of its last month, previous workday) and,
    once it has passed, the townships and dispatching units the caller may see that have not reported (逾期未报)."""
    due = quarterly_report_due(year, quarter, calendar, day=day)
    reported = set(session.exec(select(UnitReport.org_unit_id).where(UnitReport.year == year,
                                                                     UnitReport.quarter == quarter)))
    stmt = scoped(select(OrgUnit).where(col(OrgUnit.kind).in_(("township", "unit"))), principal, OrgUnit.id)
    late = [{"unit": u.code, "unit_name": u.name, "unit_kind": u.kind}
            for u in session.exec(stmt.order_by(col(OrgUnit.kind).desc(), col(OrgUnit.code)))
            if u.id not in reported] if today > due else []
    return {"year": year, "quarter": quarter, "due_on": due.isoformat(), "due_label": zh_date(due), "overdue": late}
