"""The yearly assessment of the stationing programme (003 四(五) "一年一考核"): each cadre's 工作鉴定, drafted by
the township where the cadre's team stood in the year's approved plan and approved (审定) by the Organisation
Department, and each dispatching unit's assessment — did it send and keep its cadres — with the one-grade
downgrade of a unit that did not."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from domain.errors import InvalidTransition, NotFound, PermissionDenied, ValidationFailed
from domain.stationing import StationingRules
from domain.stationing_assessment import MemberFacts, final_rating, unit_dispatch
from domain.vocabulary import AppraisalStatus, UnitRating
from models import (
    Cadre,
    CadreAssessment,
    DiaryEntry,
    OrgUnit,
    PlanStatus,
    StationingPlan,
    StationingTeam,
    TeamMember,
    UnitAssessment,
)
from tasks.accounts import Principal
from tasks.audit import append_event
from tasks.locking import Audit, require_version, save_versioned
from tasks.registry import get_definitions
from tasks.scope import visible

DEFINITION = "cadres_in_villages"
EDITABLE = (AppraisalStatus.DRAFT, AppraisalStatus.RETURNED)


def stationing_rules() -> StationingRules:
    """The ``stationing:`` settings of the cadres-in-villages definition (the defaults of 003 when absent)."""
    definition = get_definitions().get(DEFINITION)
    return (definition.stationing if definition else None) or StationingRules()


def approved_members(session: Session, year: int) -> Any:
    """``(TeamMember, StationingTeam, village)`` rows of the approved plan of ``year`` (a statement)."""
    return (select(TeamMember, StationingTeam, OrgUnit)
            .join(StationingTeam, col(TeamMember.team_id) == StationingTeam.id)
            .join(StationingPlan, col(StationingTeam.plan_id) == StationingPlan.id)
            .join(OrgUnit, col(StationingTeam.village_id) == OrgUnit.id)
            .where(StationingPlan.year == year, StationingPlan.status == PlanStatus.APPROVED))


def diary_count(session: Session, cadre_id: int, year: int) -> int:
    """How many entries of the cadre's 《工作日记》 fall in ``year``."""
    stmt = select(func.count()).select_from(DiaryEntry).where(
        DiaryEntry.cadre_id == cadre_id, col(DiaryEntry.entry_date) >= dt.date(year, 1, 1),
        col(DiaryEntry.entry_date) <= dt.date(year, 12, 31))
    return int(session.exec(stmt).one())


# ---- the cadre's 工作鉴定 ----------------------------------------------------------------------------------


def _require_township_role(principal: Principal) -> None:
    """003 四(五) "驻村干部的考核由各镇党委统一组织": the township's liaison or reviewer drafts the 工作鉴定."""
    user = principal.user
    if user.role not in ("submitter", "reviewer") or (user.role == "reviewer" and user.level == "county"):
        raise PermissionDenied("驻村干部的工作鉴定由驻点所在乡镇起草，县委组织部审定；您的角色无权起草")


def stationed_cadre(session: Session, principal: Principal, code: str, year: int) -> tuple[Cadre, OrgUnit]:
    """The cadre and the village of their team in the approved plan of ``year``; 404 alike for a cadre who
    does not exist, was not stationed that year, or was stationed in a township the caller may not see."""
    cadre = session.exec(select(Cadre).where(Cadre.code == code)).first()
    found = session.exec(approved_members(session, year).where(TeamMember.cadre_id == cadre.id)).first() if cadre else None
    village = found[2] if found else None
    visible(principal, village, village.parent_id if village else None,
            f"{year}年已审定的选派安排表中没有驻村干部 {code}（或不在您的乡镇驻村）")
    assert cadre is not None and village is not None
    return cadre, village


def _assessment(session: Session, principal: Principal, code: str, year: int) -> CadreAssessment:
    cadre = session.exec(select(Cadre).where(Cadre.code == code)).first()
    row = session.exec(select(CadreAssessment).where(CadreAssessment.cadre_id == cadre.id,
                                                     CadreAssessment.year == year)).first() if cadre else None
    return visible(principal, row, row.township_id if row else None, f"驻村干部 {code} 没有{year}年度的工作鉴定")


def _audit(principal: Principal, action: str, row: CadreAssessment, before: dict[str, Any] | None,
           now: dt.datetime) -> Audit:
    return Audit(principal=principal, action=action, subject_type="cadre_assessment", township_id=row.township_id,
                 before=before, now=now, after=lambda: {"status": row.status, "grade": row.grade, "version": row.version})


def save_cadre_assessment(session: Session, principal: Principal, now: dt.datetime, code: str, year: int,
                          data: dict[str, Any]) -> CadreAssessment:
    """The township drafts (or revises, while draft or returned) the cadre's 工作鉴定 of ``year``. The work
    diary is 实绩考核的依据之一 (003 四(三)): a cadre with no diary entry that year cannot be appraised."""
    _require_township_role(principal)
    cadre, village = stationed_cadre(session, principal, code, year)
    entries = diary_count(session, cadre.id or 0, year)
    if entries == 0:
        raise ValidationFailed(f"{cadre.name}{year}年没有工作日记。工作日记是驻村干部实绩考核的依据之一"
                               "（003 §四(三)），请先记好工作日记再起草工作鉴定",
                               errors=[{"field": "diary", "message": "no entries"}])
    values: dict[str, Any] = {"appraisal": data["appraisal"], "grade": data["grade"], "diary_entries": entries,
              "drafted_by": principal.user.id, "drafted_at": now}
    row = session.exec(select(CadreAssessment).where(CadreAssessment.cadre_id == cadre.id,
                                                     CadreAssessment.year == year)).first()
    if row is None:
        row = CadreAssessment(cadre_id=cadre.id or 0, year=year, township_id=village.parent_id or 0, **values)
        session.add(row)
        session.flush()
        append_event(session, actor_id=principal.user.id, actor=principal.user.username, action="cadre_assessment.draft",
                     subject_type="cadre_assessment", subject_id=row.id or 0, township_id=row.township_id,
                     before=None, after={"cadre": code, "year": year, "grade": row.grade}, now=now)
        return row
    if row.status not in EDITABLE:
        raise InvalidTransition(f"{cadre.name}{year}年度的工作鉴定{AppraisalStatus.label_of(row.status)}，不能再修改")
    expected = require_version(row, data.get("version"), what="工作鉴定")
    save_versioned(session, row, expected, values | {"status": AppraisalStatus.DRAFT}, what="工作鉴定",
                   audit=_audit(principal, "cadre_assessment.draft", row, {"grade": row.grade}, now))
    return row


def submit_cadre_assessment(session: Session, principal: Principal, now: dt.datetime, code: str, year: int,
                            version: int | None) -> CadreAssessment:
    """The township sends the 工作鉴定 to the Organisation Department for approval (审定)."""
    _require_township_role(principal)
    row = _assessment(session, principal, code, year)
    if row.status not in EDITABLE:
        raise InvalidTransition(f"工作鉴定{AppraisalStatus.label_of(row.status)}，不能再提交")
    expected = require_version(row, version, what="工作鉴定")
    save_versioned(session, row, expected, {"status": AppraisalStatus.SUBMITTED}, what="工作鉴定",
                   audit=_audit(principal, "cadre_assessment.submit", row, {"status": row.status}, now))
    return row


def decide_cadre_assessment(session: Session, principal: Principal, now: dt.datetime, code: str, year: int,
                            decision: str, note: str | None, version: int | None) -> CadreAssessment:
    """The Organisation Department approves (审定, then it is on the cadre's record) or returns the 工作鉴定
    (003 四(五) "由县委组织部审定后记入其个人档案"); nobody decides on what they drafted."""
    row = _assessment(session, principal, code, year)  # 404 before 403: ids of other townships stay hidden
    principal.require_role("admin")
    if row.drafted_by == principal.user.id:
        raise PermissionDenied("不能审定自己起草的工作鉴定")
    if row.status != AppraisalStatus.SUBMITTED:
        raise InvalidTransition(f"工作鉴定{AppraisalStatus.label_of(row.status)}，只有待审定的工作鉴定可以审定或退回")
    if decision == "return" and not note:
        raise ValidationFailed("退回工作鉴定须写明需要修改的地方（note）", errors=[{"field": "note", "message": "required"}])
    expected = require_version(row, version, what="工作鉴定")
    status = AppraisalStatus.APPROVED if decision == "approve" else AppraisalStatus.RETURNED
    save_versioned(session, row, expected, {"status": status, "decided_by": principal.user.id, "decided_at": now,
                                            "decision_note": note}, what="工作鉴定",
                   audit=_audit(principal, f"cadre_assessment.{decision}", row, {"status": row.status}, now))
    return row


# ---- the dispatching unit's assessment --------------------------------------------------------------------


def dispatching_unit(session: Session, code: str) -> OrgUnit:
    unit = session.exec(select(OrgUnit).where(OrgUnit.code == code, OrgUnit.kind == "unit")).first()
    if unit is None:
        raise NotFound(f"没有编码为 {code} 的派出单位")
    return unit


def unit_facts(session: Session, unit: OrgUnit, year: int) -> list[MemberFacts]:
    """The unit's cadres in the approved plan of ``year`` (the members of the teams it sends), each with
    whether a cadre who left early was replaced in the same team."""
    rows = list(session.exec(approved_members(session, year).where(StationingTeam.unit_id == unit.id)))
    names = {c.id: c.name for c in session.exec(select(Cadre).where(
        col(Cadre.id).in_([m.cadre_id for m, _, _ in rows])))} if rows else {}
    facts = []
    for member, team, village in rows:
        refilled = member.left_on is not None and any(
            m.team_id == team.id and m.id != member.id and m.arrived_on is not None and m.arrived_on >= member.left_on
            for m, _, _ in rows)
        facts.append(MemberFacts(name=names.get(member.cadre_id, ""), village=village.name,
                                 arrived_on=member.arrived_on, left_on=member.left_on, refilled=refilled))
    return facts


def save_unit_assessment(session: Session, principal: Principal, now: dt.datetime, code: str, year: int,
                         proposed: UnitRating, version: int | None) -> UnitAssessment:
    """An administrator records the unit's proposed rating of ``year``; whether the unit sent and kept its
    cadres is computed from the approved plan, and a unit that did not is downgraded one grade (003 四(五))."""
    principal.require_role("admin")
    unit = dispatching_unit(session, code)
    dispatch = unit_dispatch(unit.name, unit.establishment_size, unit.unit_level == "county",
                             unit_facts(session, unit, year), stationing_rules())
    values: dict[str, Any] = {"dispatch_completed": dispatch.completed, "shortfall": dispatch.shortfall,
              "proposed_rating": proposed.value, "final_rating": final_rating(proposed, dispatch.completed).value,
              "decided_by": principal.user.id, "decided_at": now}
    row = session.exec(select(UnitAssessment).where(UnitAssessment.unit_id == unit.id,
                                                    UnitAssessment.year == year)).first()
    if row is None:
        row = UnitAssessment(unit_id=unit.id or 0, year=year, **values)
        session.add(row)
        session.flush()
        append_event(session, actor_id=principal.user.id, actor=principal.user.username, action="unit_assessment.save",
                     subject_type="unit_assessment", subject_id=row.id or 0, township_id=None, before=None,
                     after={"unit": code, "year": year, **values, "decided_at": now.isoformat()}, now=now)
        return row
    expected = require_version(row, version, what="派出单位考核")
    save_versioned(session, row, expected, values, what="派出单位考核", audit=Audit(
        principal=principal, action="unit_assessment.save", subject_type="unit_assessment", township_id=None,
        before={"proposed_rating": row.proposed_rating, "final_rating": row.final_rating},
        after=lambda: {"proposed_rating": row.proposed_rating, "final_rating": row.final_rating}, now=now))
    return row
