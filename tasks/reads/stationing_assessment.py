"""The stationing programme's assessments and acceptance as the caller may see them (003 四(五)): cadres'
工作鉴定 (scoped to the township that drafted them), a cadre's record, the dispatching units' assessments
(county-wide, like the units) and the graded acceptance of a programme (the caller's townships)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from domain.errors import NotFound
from domain.stationing_assessment import Verdict, acceptance_status
from domain.vocabulary import AcceptanceStatus, AppraisalStatus, CadreGrade, UnitRating
from models import (
    Acceptance,
    Cadre,
    CadreAssessment,
    OrgUnit,
    StationingPlan,
    StationingTeam,
    TeamMember,
    UnitAssessment,
)
from tasks.acceptance import opens_on, programme_or_404, verdicts
from tasks.accounts import Principal
from tasks.reads import Page, fetch_page, where_given
from tasks.reads.org_units import townships
from tasks.scope import in_scope, scoped, visible
from tasks.stationing_assessment import diary_count

EVERY = 2**31 - 1


def cadre_assessment_public(row: CadreAssessment, cadre: Cadre, unit: OrgUnit, town: OrgUnit) -> dict[str, Any]:
    return {
        "cadre": cadre.code, "cadre_name": cadre.name, "unit": unit.code, "unit_name": unit.name,
        "township": town.code, "township_name": town.name, "year": row.year, "appraisal": row.appraisal,
        "grade": row.grade, "grade_label": CadreGrade.label_of(row.grade), "diary_entries": row.diary_entries,
        "status": row.status, "status_label": AppraisalStatus.label_of(row.status), "drafted_at": row.drafted_at,
        "decided_at": row.decided_at, "decision_note": row.decision_note, "version": row.version,
    }


def list_cadre_assessments(session: Session, principal: Principal, *, year: int | None = None,
                           township: str | None = None, status: str | None = None, limit: int = 200,
                           offset: int = 0) -> Page[dict[str, Any]]:
    """The 工作鉴定 of the caller's townships, by year, township and cadre code."""
    unit, town = aliased(OrgUnit), aliased(OrgUnit)
    stmt = (select(CadreAssessment, Cadre, unit, town).join(Cadre, col(CadreAssessment.cadre_id) == Cadre.id)
            .join(unit, col(Cadre.unit_id) == unit.id).join(town, col(CadreAssessment.township_id) == town.id))
    stmt = where_given(scoped(stmt, principal, CadreAssessment.township_id),
                       (CadreAssessment.year, year), (town.code, township), (CadreAssessment.status, status))
    rows, total = fetch_page(session, stmt, col(CadreAssessment.year), col(town.code), col(Cadre.code),
                             limit=limit, offset=offset)
    return Page([cadre_assessment_public(*r) for r in rows], total, limit, offset)


def cadre_assessment(session: Session, principal: Principal, code: str, year: int) -> dict[str, Any]:
    found = list_cadre_assessments(session, principal, year=year, limit=EVERY).items
    row = next((a for a in found if a["cadre"] == code), None)
    if row is None:
        raise NotFound(f"驻村干部 {code} 没有{year}年度的工作鉴定")
    return row


def cadre_record(session: Session, principal: Principal, code: str) -> dict[str, Any]:
    """A cadre's record (个人档案): the teams they were in by year (village, unit, arrival, leaving), the diary
    entries of each year and the approved 工作鉴定. A township sees the cadre when the cadre is its own or was
    stationed in one of its villages, and only those years."""
    cadre = session.exec(select(Cadre).where(Cadre.code == code)).first()
    village, sender = aliased(OrgUnit), aliased(OrgUnit)
    stmt = (select(StationingPlan.year, TeamMember, village, sender)
            .join(StationingTeam, col(TeamMember.team_id) == StationingTeam.id)
            .join(StationingPlan, col(StationingTeam.plan_id) == StationingPlan.id)
            .join(village, col(StationingTeam.village_id) == village.id)
            .join(sender, col(StationingTeam.unit_id) == sender.id)
            .where(TeamMember.cadre_id == (cadre.id if cadre else -1), StationingPlan.status == "approved"))
    teams = list(session.exec(scoped(stmt, principal, village.parent_id).order_by(col(StationingPlan.year))))
    if cadre is None or not teams:  # a township's own cadre, never stationed yet, is still its own
        cadre = visible(principal, cadre, cadre.unit_id if cadre else None, f"没有编码为 {code} 的驻村干部（或不在您的乡镇）")
    approved = list_cadre_assessments(session, principal, status=AppraisalStatus.APPROVED, limit=EVERY).items
    return {"cadre": cadre.code, "name": cadre.name, "post": cadre.post, "years": [{
        "year": year, "village": v.code, "village_name": v.name, "unit": s.code, "unit_name": s.name,
        "arrived_on": m.arrived_on, "left_on": m.left_on, "left_reason": m.left_reason,
        "diary_entries": diary_count(session, cadre.id or 0, year),
    } for year, m, v, s in teams], "appraisals": [a for a in approved if a["cadre"] == code]}


# ---- units ---------------------------------------------------------------------------------------------------


def unit_assessment_public(row: UnitAssessment, unit: OrgUnit) -> dict[str, Any]:
    return {
        "unit": unit.code, "unit_name": unit.name, "unit_level": unit.unit_level,
        "establishment_size": unit.establishment_size, "year": row.year,
        "dispatch_completed": row.dispatch_completed, "shortfall": row.shortfall,
        "proposed_rating": row.proposed_rating, "proposed_label": UnitRating.label_of(row.proposed_rating),
        "final_rating": row.final_rating, "final_label": UnitRating.label_of(row.final_rating),
        "downgraded": row.final_rating != row.proposed_rating, "decided_at": row.decided_at, "version": row.version,
    }


def list_unit_assessments(session: Session, principal: Principal, *, year: int | None = None) -> list[dict[str, Any]]:
    """Every dispatching unit's assessment (county-wide, like the units), by year and unit code."""
    stmt = select(UnitAssessment, OrgUnit).join(OrgUnit, col(UnitAssessment.unit_id) == OrgUnit.id)
    stmt = where_given(stmt, (UnitAssessment.year, year)).order_by(col(UnitAssessment.year), col(OrgUnit.code))
    return [unit_assessment_public(r, u) for r, u in session.exec(stmt)]


def unit_consequences(session: Session, principal: Principal, year: int) -> list[dict[str, Any]]:
    """The units that did not complete their dispatch in ``year``: not rated 优秀 or 良好 and downgraded one
    grade (003 四(五)), for ``GET /api/v1/ratings/consequences`` and the year-end assessment."""
    return [a | {"cap_label": "未完成选派驻村干部任务：当年度不得评定优秀、良好档次，降一档处理"}
            for a in list_unit_assessments(session, principal, year=year) if not a["dispatch_completed"]]


# ---- acceptance -----------------------------------------------------------------------------------------------


def _verdict_public(rows: list[Acceptance]) -> dict[str, Any] | None:
    if not rows:
        return None
    last = rows[-1]
    return {"year": last.year, "passed": last.passed, "note": last.note, "decided_at": last.decided_at}


def _standing(rows: list[Acceptance]) -> dict[str, Any]:
    status = acceptance_status([Verdict(r.year, r.passed) for r in rows])
    return {"status": status.value, "status_label": AcceptanceStatus.label_of(status)}


def acceptance_overview(session: Session, principal: Principal, programme_id: int) -> dict[str, Any]:
    """Per township the caller may see, and per village of it: the latest township and county verdicts and
    the standing (待验收 / 验收合格 / 验收不合格（继续驻村）)."""
    programme = programme_or_404(session, programme_id)
    found = verdicts(session, programme_id)
    towns = townships(session, principal)
    villages = list(session.exec(select(OrgUnit).where(OrgUnit.kind == "village", in_scope(principal, OrgUnit.parent_id))
                                 .order_by(col(OrgUnit.code))))
    out = []
    for town in towns:
        county = found.get((town.id or 0, "county"), [])
        out.append({"township": town.code, "township_name": town.name, "county_verdict": _verdict_public(county),
                    **_standing(county), "villages": [{
                        "village": v.code, "village_name": v.name,
                        "township_verdict": _verdict_public(found.get((v.id or 0, "township"), [])),
                        "county_verdict": _verdict_public(found.get((v.id or 0, "county"), [])),
                        **_standing(found.get((v.id or 0, "county"), [])),
                    } for v in villages if v.parent_id == town.id]})
    return {"programme": {"id": programme.id, "name": programme.name, "start_year": programme.start_year,
                          "years": programme.years}, "opens_on": opens_on(programme), "townships": out}
