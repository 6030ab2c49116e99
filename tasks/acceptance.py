"""The graded acceptance at the end of a three-year programme (003 四(五) "三年一验收"): the township, then the
county, accept each village (县区乡镇验收村); the county accepts each township once its villages have a county
verdict (市县区验收乡镇). A village that fails keeps its leader and its team and is carried into the next plan
"直至验收合格"; it is accepted again in a later year (the verdict's year is its row's year)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlmodel import Session, col, select

from core.clock import china_date
from domain.errors import Conflict, InvalidTransition, NotFound, PermissionDenied, ValidationFailed
from domain.stationing_assessment import (
    Verdict,
    acceptance_status,
    township_verdict_problem,
    village_verdict_problem,
)
from domain.vocabulary import AcceptanceStatus, zh_date
from models import Acceptance, OrgUnit, Programme
from tasks.accounts import Principal
from tasks.audit import append_event
from tasks.scope import may_see_unit
from tasks.stationing import carried_villages
from tasks.stationing_assessment import stationing_rules


def programme_or_404(session: Session, programme_id: int) -> Programme:
    programme = session.get(Programme, programme_id)
    if programme is None:
        raise NotFound(f"没有编号为 {programme_id} 的驻村工作计划（三年）")
    return programme


def opens_on(programme: Programme) -> dt.date:
    """The first day of the acceptance: ``acceptance_opens`` of the programme's last year."""
    return stationing_rules().acceptance_open_on(programme.start_year + programme.years - 1)


def verdicts(session: Session, programme_id: int | None = None) -> dict[tuple[int, str], list[Acceptance]]:
    """Every verdict by (subject id, level), oldest first; of one programme when given."""
    stmt = select(Acceptance).order_by(col(Acceptance.year), col(Acceptance.id))
    if programme_id is not None:
        stmt = stmt.where(Acceptance.programme_id == programme_id)
    out: dict[tuple[int, str], list[Acceptance]] = {}
    for row in session.exec(stmt):
        out.setdefault((row.subject_id, row.level), []).append(row)
    return out


def _as_verdicts(rows: list[Acceptance]) -> list[Verdict]:
    return [Verdict(r.year, r.passed) for r in rows]


def held_village_ids(session: Session) -> set[int]:
    """Villages whose latest county verdict failed and have not passed since: they keep their leader and team
    and must be in the next plan (003 四(五) "继续安排领导干部挂点和派出干部驻村，直至验收合格"); the rule is the
    plan's (``tasks.stationing.carried_villages``)."""
    return set(carried_villages(session))


def _level(principal: Principal, subject: OrgUnit) -> str:
    user = principal.user
    if user.role == "admin" or (user.role == "reviewer" and user.level == "county"):
        return "county"
    if user.role == "reviewer" and subject.kind == "village":
        return "township"
    raise PermissionDenied("验收由乡镇党委（验收村）和县委组织部（验收村和乡镇）进行；您的角色无权记录验收结论")


def _subject(session: Session, principal: Principal, code: str) -> OrgUnit:
    unit = session.exec(select(OrgUnit).where(OrgUnit.code == code)).first()
    if unit is None or unit.kind not in ("village", "township") or not may_see_unit(principal, unit):
        raise NotFound(f"没有编码为 {code} 的村或乡镇（或不在您的乡镇）")
    return unit


def _order_problem(session: Session, programme_id: int, subject: OrgUnit, level: str, year: int) -> str | None:
    found = verdicts(session, programme_id)
    county = _as_verdicts(found.get((subject.id or 0, "county"), []))
    if acceptance_status(county) == AcceptanceStatus.PASSED:
        return f"{subject.name}已验收合格"
    if any(v.year == year for v in _as_verdicts(found.get((subject.id or 0, level), []))):
        return f"{subject.name}本年度已有{'乡镇' if level == 'township' else '县'}验收结论"
    if subject.kind == "village":
        township = found.get((subject.id or 0, "township"), [])
        return village_verdict_problem(level, _as_verdicts(township)[-1] if township else None, year)
    villages = session.exec(select(OrgUnit).where(OrgUnit.parent_id == subject.id, OrgUnit.kind == "village")
                            .order_by(col(OrgUnit.code)))
    return township_verdict_problem([v.name for v in villages if (v.id or 0, "county") not in found])


def record_verdict(session: Session, principal: Principal, now: dt.datetime, programme_id: int,
                   data: dict[str, Any]) -> Acceptance:
    """Record one verdict of the graded acceptance (003 四(五)), from ``acceptance_opens`` of the programme's
    last year on; failing needs a note saying what falls short."""
    programme = programme_or_404(session, programme_id)
    subject = _subject(session, principal, data["subject"])
    level = _level(principal, subject)
    if not data["passed"] and not data.get("note"):
        raise ValidationFailed("验收不合格须写明原因和整改要求（note）", errors=[{"field": "note", "message": "required"}])
    today = china_date(now)
    if today < opens_on(programme):
        raise InvalidTransition(f"{programme.name}从{zh_date(opens_on(programme))}起验收，现在还不能记录验收结论")
    problem = _order_problem(session, programme_id, subject, level, today.year)
    if problem:
        raise Conflict(problem)
    row = Acceptance(programme_id=programme_id, subject_id=subject.id or 0, level=level, year=today.year,
                     passed=data["passed"], note=data.get("note") or "", decided_by=principal.user.id, decided_at=now)
    session.add(row)
    session.flush()
    township_id = subject.id if subject.kind == "township" else subject.parent_id
    append_event(session, actor_id=principal.user.id, actor=principal.user.username, action="acceptance.record",
                 subject_type="acceptance", subject_id=row.id or 0, township_id=township_id, before=None,
                 after={"subject": subject.code, "level": level, "year": row.year, "passed": row.passed,
                        "note": row.note}, now=now)
    return row
