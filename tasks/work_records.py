"""The stationing programme's work records, written (003 §三(一), §四(三)(六)): a cadre's 《工作日记》, a team's
monthly record, a leader's visit to the contact village, and the quarterly written reports of townships and
dispatching units to the 县委基层办 with their review. Each write is checked, audited and committed by the caller.

Who writes: a diary entry and a monthly record, the liaison (submitter) of the village's township or an
administrator; a visit, the liaison of the leader's township or an administrator (基层办); a quarterly report, an
account of the reporting township or dispatching unit or an administrator; its review, the 基层办 (an administrator
or a county reviewer) who did not submit it. The plan of a year is the approved one (``PlanStatus.APPROVED``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from domain import work_records as rules
from domain.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from domain.vocabulary import UnitReportStatus
from models import (
    Cadre,
    DiaryEntry,
    Leader,
    LeaderVisit,
    OrgUnit,
    PlanStatus,
    StationingPlan,
    StationingTeam,
    TeamMember,
    TeamMonthlyRecord,
    UnitReport,
)
from tasks.accounts import Principal
from tasks.audit import append_event, jsonable
from tasks.locking import Audit, require_version, save_versioned
from tasks.scope import may_see_unit, visible

REPORTING_KINDS = ("township", "unit")
WRITERS = ("admin", "submitter")


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, errors=[{"field": field, "message": message}])


def _unit(session: Session, code: str, what: str = "组织") -> OrgUnit:
    unit = session.exec(select(OrgUnit).where(OrgUnit.code == code)).first()
    if unit is None:
        raise _invalid("unit", f"{what}编码 {code} 不存在")
    return unit


def _audit(session: Session, principal: Principal, now: dt.datetime, action: str, subject: str, subject_id: int,
           township_id: int | None, after: dict[str, Any]) -> None:
    user = principal.user
    append_event(session, actor_id=user.id, actor=user.username, action=action, subject_type=subject,
                 subject_id=subject_id, township_id=township_id, before=None, after=jsonable(after), now=now)


def _may_write_for(principal: Principal, township_id: int | None) -> None:
    """An administrator (基层办), or the liaison of the township concerned."""
    user = principal.user
    if user.role == "admin" or (user.role == "submitter" and user.org_unit_id == township_id):
        return
    raise PermissionDenied("只有该乡镇的党建联络员或县委基层办可以登记")


def approved_membership(session: Session, cadre_id: int, year: int) -> tuple[StationingTeam, TeamMember] | None:
    """The cadre's team and membership in the approved stationing plan of ``year``, if any."""
    row = session.exec(
        select(StationingTeam, TeamMember)
        .join(TeamMember, col(TeamMember.team_id) == StationingTeam.id)
        .join(StationingPlan, col(StationingTeam.plan_id) == StationingPlan.id)
        .where(StationingPlan.year == year, StationingPlan.status == PlanStatus.APPROVED, TeamMember.cadre_id == cadre_id)
    ).first()
    return (row[0], row[1]) if row else None


def add_diary(session: Session, principal: Principal, now: dt.datetime, today: dt.date,
              data: dict[str, Any]) -> DiaryEntry:
    """One entry of a cadre's 《工作日记》 (003 §四(三)), in the village of the cadre's team of the approved plan of
    the entry's year, for a day the cadre was on site."""
    principal.require_role(*WRITERS)
    cadre = session.exec(select(Cadre).where(Cadre.code == data["cadre"])).first()
    if cadre is None:
        raise _invalid("cadre", f"驻村干部编码 {data['cadre']} 不存在")
    entry_date: dt.date = data["entry_date"]
    found = approved_membership(session, cadre.id or 0, entry_date.year)
    if found is None:
        raise _invalid("cadre", f"{cadre.name}不在{entry_date.year}年已批准的选派安排表中，不能记驻村工作日记")
    team, member = found
    village = session.get(OrgUnit, team.village_id)
    township_id = village.parent_id if village else None
    _may_write_for(principal, township_id)
    problem = rules.diary_date_problem(entry_date, today, member.arrived_on, member.left_on)
    if problem:
        raise _invalid("entry_date", problem)
    entry = DiaryEntry(cadre_id=cadre.id or 0, village_id=team.village_id, entry_date=entry_date, place=data["place"],
                       work=data["work"], help_given=data.get("help_given"), results=data.get("results"),
                       created_by=principal.user.id, created_at=now)
    session.add(entry)
    session.flush()
    _audit(session, principal, now, "diary.add", "diary_entry", entry.id or 0, township_id,
           {"cadre": cadre.code, "entry_date": entry_date, "village": village.code if village else None})
    return entry


def _team_of(session: Session, village: OrgUnit, year: int) -> StationingTeam:
    team = session.exec(
        select(StationingTeam).join(StationingPlan, col(StationingTeam.plan_id) == StationingPlan.id)
        .where(StationingPlan.year == year, StationingPlan.status == PlanStatus.APPROVED,
               StationingTeam.village_id == village.id)).first()
    if team is None:
        raise _invalid("village", f"{year}年已批准的选派安排表中{village.name}没有驻村工作组")
    return team


def save_monthly(session: Session, principal: Principal, now: dt.datetime, today: dt.date, village_code: str,
                 year: int, month_text: str, data: dict[str, Any]) -> TeamMonthlyRecord:
    """Create a team's record of one month, or update it at the version the writer read (optimistic lock)."""
    village = session.exec(select(OrgUnit).where(OrgUnit.code == village_code, OrgUnit.kind == "village")).first()
    if village is None or not may_see_unit(principal, village):
        raise NotFound(f"没有编码为 {village_code} 的村")
    principal.require_role(*WRITERS)
    _may_write_for(principal, village.parent_id)
    month = int(month_text) if month_text.isdigit() else 0
    problem = rules.month_problem(year, month, today)
    if problem:
        raise _invalid("month", problem)
    team = _team_of(session, village, year)
    values = {"work": data["work"], "problems_solved": data.get("problems_solved"), "next_steps": data.get("next_steps")}
    row = session.exec(select(TeamMonthlyRecord).where(TeamMonthlyRecord.team_id == team.id,
                                                       TeamMonthlyRecord.year == year,
                                                       TeamMonthlyRecord.month == month)).first()
    if row is None:
        if data.get("version") not in (None, 0):
            raise Conflict(f"{village.name}{year}年{month}月的工作记录尚未填写，请不要带版本号新建")
        row = TeamMonthlyRecord(team_id=team.id or 0, year=year, month=month, created_by=principal.user.id,
                                created_at=now, updated_at=now, **values)
        session.add(row)
        session.flush()
        _audit(session, principal, now, "team_month.create", "team_monthly_record", row.id or 0, village.parent_id,
               {"village": village.code, "year": year, "month": month} | values)
        return row
    version = require_version(row, data.get("version"), what=f"{village.name}{year}年{month}月工作记录")
    save_versioned(session, row, version, values | {"updated_at": now}, what="月度工作记录", audit=Audit(
        principal, "team_month.update", "team_monthly_record", village.parent_id,
        {"work": row.work, "problems_solved": row.problems_solved, "next_steps": row.next_steps}, values, now))
    return row


def add_visit(session: Session, principal: Principal, now: dt.datetime, today: dt.date,
              data: dict[str, Any]) -> LeaderVisit:
    """A leader's visit to the contact village (003 §三(一) 到挂钩联系点调查研究、指导工作)."""
    principal.require_role(*WRITERS)
    leader = session.exec(select(Leader).where(Leader.code == data["leader"])).first()
    if leader is None:
        raise _invalid("leader", f"挂点领导编码 {data['leader']} 不存在")
    _may_write_for(principal, leader.township_id)
    problem = rules.visit_date_problem(data["visited_on"], today)
    if problem:
        raise _invalid("visited_on", problem)
    visit = LeaderVisit(leader_id=leader.id or 0, village_id=leader.village_id, visited_on=data["visited_on"],
                        purpose=data["purpose"], created_by=principal.user.id, created_at=now)
    session.add(visit)
    session.flush()
    _audit(session, principal, now, "leader_visit.add", "leader_visit", visit.id or 0, leader.township_id,
           {"leader": leader.code, "visited_on": visit.visited_on, "purpose": visit.purpose})
    return visit


# ---- quarterly reports to the 基层办 (003 §四(六)) ------------------------------------------------------------


def _count(session: Session, stmt: Any) -> int:
    return int(session.exec(select(func.count()).select_from(stmt.subquery())).one())


def report_counts(session: Session, unit: OrgUnit, year: int, quarter: int) -> dict[str, int]:
    """What the records hold for a township's or a unit's quarter: the cadres stationed in the approved plan of
    the year (a unit: those it sent; a township: those in its villages), how many have arrived by the quarter's
    end, their diary entries and their teams' monthly records in the quarter, and for a township the leaders'
    visits to its villages."""
    first, last = rules.quarter_bounds(year, quarter)
    village = aliased(OrgUnit)
    stmt = (select(TeamMember, StationingTeam)
            .join(StationingTeam, col(TeamMember.team_id) == StationingTeam.id)
            .join(StationingPlan, col(StationingTeam.plan_id) == StationingPlan.id)
            .join(Cadre, col(TeamMember.cadre_id) == Cadre.id)
            .join(village, col(StationingTeam.village_id) == village.id)
            .where(StationingPlan.year == year, StationingPlan.status == PlanStatus.APPROVED))
    stmt = stmt.where(village.parent_id == unit.id) if unit.kind == "township" else stmt.where(Cadre.unit_id == unit.id)
    rows = session.exec(stmt).all()
    cadre_ids = sorted({m.cadre_id for m, _ in rows})
    team_ids = sorted({t.id or 0 for _, t in rows})
    counts = {
        "cadres_stationed": len(cadre_ids),
        "cadres_arrived": len({m.cadre_id for m, _ in rows if m.arrived_on is not None and m.arrived_on <= last}),
        "diary_entries": _count(session, select(DiaryEntry.id).where(
            col(DiaryEntry.cadre_id).in_(cadre_ids), col(DiaryEntry.entry_date) >= first,
            col(DiaryEntry.entry_date) <= last)) if cadre_ids else 0,
        "monthly_records": _count(session, select(TeamMonthlyRecord.id).where(
            col(TeamMonthlyRecord.team_id).in_(team_ids), TeamMonthlyRecord.year == year,
            col(TeamMonthlyRecord.month).between(first.month, last.month))) if team_ids else 0,
    }
    if unit.kind == "township":
        counts["leader_visits"] = _count(session, select(LeaderVisit.id).join(
            OrgUnit, col(LeaderVisit.village_id) == OrgUnit.id).where(
            OrgUnit.parent_id == unit.id, col(LeaderVisit.visited_on) >= first, col(LeaderVisit.visited_on) <= last))
    return counts


def _may_report_for(principal: Principal, unit: OrgUnit) -> None:
    user = principal.user
    if user.role == "admin" or (user.role == "submitter" and user.org_unit_id == unit.id):
        return
    raise PermissionDenied(f"只有{unit.name}的账户或县委基层办可以报送{unit.name}的季度报告")


def submit_unit_report(session: Session, principal: Principal, now: dt.datetime, today: dt.date,
                       data: dict[str, Any]) -> UnitReport:
    """A township's or dispatching unit's written report of a quarter (003 §四(六)), with the counts drawn from
    the records now. A report sent back may be submitted again (at the version it was returned at)."""
    principal.require_role(*WRITERS)
    unit = _unit(session, data["unit"], "报送单位")
    if unit.kind not in REPORTING_KINDS:
        raise _invalid("unit", f"{unit.name}不是乡镇或派出单位，季度报告由乡镇和派出单位报送")
    _may_report_for(principal, unit)
    year, quarter = data["year"], data["quarter"]
    problem = rules.quarter_problem(year, quarter, today)
    if problem:
        raise _invalid("quarter", problem)
    values = {"progress": data["progress"], "problems": data.get("problems"), "next_steps": data.get("next_steps"),
              "counts": report_counts(session, unit, year, quarter), "status": UnitReportStatus.SUBMITTED,
              "submitted_by": principal.user.id, "submitted_at": now}
    row = session.exec(select(UnitReport).where(UnitReport.org_unit_id == unit.id, UnitReport.year == year,
                                                UnitReport.quarter == quarter)).first()
    if row is None:
        row = UnitReport(org_unit_id=unit.id or 0, year=year, quarter=quarter, **values)
        session.add(row)
        session.flush()
        _audit(session, principal, now, "unit_report.submit", "unit_report", row.id or 0, _township_of(unit),
               {"unit": unit.code, "year": year, "quarter": quarter, "counts": values["counts"]})
        return row
    if row.status != UnitReportStatus.RETURNED:
        raise Conflict(f"{unit.name}{year}年第{quarter}季度报告已报送（{UnitReportStatus.label_of(row.status)}），"
                       "只有退回的报告可以重新报送")
    version = require_version(row, data.get("version"), what="季度报告")
    save_versioned(session, row, version, values | {"reviewed_by": None, "reviewed_at": None}, what="季度报告",
                   audit=Audit(principal, "unit_report.resubmit", "unit_report", _township_of(unit),
                               {"status": row.status}, {"counts": values["counts"]}, now))
    return row


def _township_of(unit: OrgUnit) -> int | None:
    return unit.id if unit.kind == "township" else None


def _reporter(session: Session, report_id: int) -> int | None:
    row = session.get(UnitReport, report_id)
    return row.org_unit_id if row else None


def review_unit_report(session: Session, principal: Principal, now: dt.datetime, report_id: int, *, decision: str,
                       note: str | None, version: int | None) -> UnitReport:
    """The 基层办 accepts a quarterly report or sends it back with a note saying what to add; never its submitter."""
    row = visible(principal, session.get(UnitReport, report_id), _reporter(session, report_id),
                  f"没有编号为 {report_id} 的季度报告")
    if not (principal.user.role == "admin" or (principal.user.role == "reviewer" and principal.user.level == "county")):
        raise PermissionDenied("季度报告由县委基层办审阅")
    expected = require_version(row, version, what="季度报告")
    if row.submitted_by == principal.user.id:
        raise PermissionDenied("不能审阅自己报送的季度报告")
    if row.status != UnitReportStatus.SUBMITTED:
        raise Conflict(f"该季度报告{UnitReportStatus.label_of(row.status)}，只有已报送的报告可以审阅")
    if decision == "return" and not (note or "").strip():
        raise _invalid("note", "退回时请写明需要补充或修改的内容")
    status = UnitReportStatus.ACCEPTED if decision == "accept" else UnitReportStatus.RETURNED
    unit = session.get(OrgUnit, row.org_unit_id)
    save_versioned(session, row, expected, {"status": status, "reviewed_by": principal.user.id, "reviewed_at": now,
                                            "review_note": note}, what="季度报告",
                   audit=Audit(principal, f"unit_report.{decision}", "unit_report",
                               _township_of(unit) if unit else None, {"status": row.status},
                               {"status": status, "note": note}, now))
    return row
