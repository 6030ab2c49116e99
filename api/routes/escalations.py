"""Escalations (督办), the official documents they produce, and accountability cases (问责)."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Query, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func
from sqlmodel import Session, col, select

from api.deps import ClockDep, CurrentPrincipal, SessionDep
from api.routes.problems import READ, WRITE
from api.types import CleanStr, DbId, DbOffset
from domain import accountability as case_rules
from domain.definitions import DOCUMENT_KINDS, TRIGGER_LABELS
from domain.errors import NotFound, ValidationFailed
from models import AccountabilityCase, Campaign, Escalation, OfficialDocument, OrgUnit
from tasks import accountability as cases
from tasks import escalation as service
from tasks import review as submissions
from tasks.accounts import Principal
from tasks.registry import get_definitions

router = APIRouter(prefix="/api/v1", tags=["escalations"], responses=READ)

Status = Literal["open", "escalated", "resolved", "confirmed", "dismissed", "live"]
Trigger = Literal["overdue", "zero_report", "unverified", "returns_exceeded", "measures_overdue", "relapse"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class InterviewRecord(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "interview_on": "2027-04-08", "place": "县委组织部会议室", "outcome": "镇党委书记说明了原因，承诺4月15日前报送", "version": 1}]})

    interview_on: dt.date = Field(description="the day of the interview (约谈)")
    place: CleanStr | None = Field(default=None, max_length=200)
    outcome: CleanStr | None = Field(default=None, max_length=4000, description="what was said and promised; after the day")
    version: DbId


class CountyCheck(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "note": "经实地核查，该镇青石村、石桥村班子长期不团结，应列未列", "version": 1}]})

    note: CleanStr = Field(min_length=1, max_length=2000, description="what the county's check found")
    version: DbId


class CaseDecision(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "decision": "admonishment", "note": "对镇党委书记进行诫勉谈话", "version": 1}]})

    decision: Literal["admonishment", "criticism", "rating_downgrade", "suspension", "no_action"]
    note: CleanStr = Field(min_length=1, max_length=4000)
    rating_year: int | None = Field(default=None, ge=2000, le=2100, description="the year whose rating it affects")
    suspension_days: int | None = Field(default=None, ge=1, le=365)
    version: DbId


class CaseClose(Strict):
    note: CleanStr = Field(min_length=1, max_length=4000, description="how the decision was carried out")
    version: DbId


class UnverifiedMark(Strict):
    comment: CleanStr = Field(min_length=1, max_length=2000, description="what the county's check found")


# ---- views -----------------------------------------------------------------------------------------


def _units(session: Session, ids: set[int]) -> dict[int, OrgUnit]:
    return {u.id or 0: u for u in session.exec(select(OrgUnit).where(col(OrgUnit.id).in_(ids)))} if ids else {}


def escalation_public(esc: Escalation, units: dict[int, OrgUnit], documents: dict[int, OfficialDocument],
                      case_ids: dict[int, int]) -> dict[str, Any]:
    township = units.get(esc.township_id)
    subject = units.get(esc.subject_id or 0)
    document = documents.get(esc.document_id or 0)
    return {
        "id": esc.id, "campaign_id": esc.campaign_id, "township": township.code if township else None,
        "township_name": township.name if township else None, "subject": subject.code if subject else None,
        "subject_name": subject.name if subject else None, "trigger": esc.trigger,
        "trigger_label": TRIGGER_LABELS.get(esc.trigger, esc.trigger), "level": esc.level, "level_key": esc.level_key,
        "level_name": esc.level_name or esc.level_key, "status": esc.status,
        "status_label": service.STATUS_LABELS.get(esc.status, esc.status), "reason": esc.reason,
        "evidence": esc.evidence or {}, "obligation_id": esc.obligation_id, "submission_id": esc.submission_id,
        "rectification_id": esc.rectification_id, "due_on": esc.due_on, "new_due_on": esc.new_due_on,
        "document": _document_ref(document) if document else None,
        "interview": {"on": esc.interview_on, "place": esc.interview_place, "outcome": esc.interview_outcome}
        if esc.interview_on else None,
        "resolution": esc.resolution, "days_late": esc.days_late, "resolved_at": esc.resolved_at,
        "case_id": case_ids.get(esc.id or 0), "created_at": esc.created_at, "version": esc.version,
    }


def _document_ref(doc: OfficialDocument) -> dict[str, Any]:
    return {"id": doc.id, "kind": doc.kind, "kind_label": DOCUMENT_KINDS.get(doc.kind, doc.kind),
            "doc_number": doc.doc_number, "title": doc.title, "issued_on": doc.issued_on,
            "html_url": f"/api/v1/documents/{doc.id}/html", "pdf_url": f"/api/v1/documents/{doc.id}/pdf"}


def _present(session: Session, rows: list[Escalation]) -> list[dict[str, Any]]:
    units = _units(session, {e.township_id for e in rows} | {e.subject_id for e in rows if e.subject_id})
    doc_ids = [e.document_id for e in rows if e.document_id]
    documents = {d.id or 0: d for d in session.exec(select(OfficialDocument).where(col(OfficialDocument.id).in_(doc_ids)))} if doc_ids else {}
    ids = [e.id for e in rows]
    case_ids = {c.escalation_id: c.id or 0 for c in session.exec(
        select(AccountabilityCase).where(col(AccountabilityCase.escalation_id).in_(ids)))} if ids else {}
    return [escalation_public(e, units, documents, case_ids) for e in rows]


def case_public(case: AccountabilityCase, units: dict[int, OrgUnit]) -> dict[str, Any]:
    township = units.get(case.township_id)
    return {
        "id": case.id, "campaign_id": case.campaign_id, "township": township.code if township else None,
        "township_name": township.name if township else None, "escalation_id": case.escalation_id,
        "obligation_id": case.obligation_id, "trigger": case.trigger,
        "trigger_label": TRIGGER_LABELS.get(case.trigger, case.trigger), "target_unit": township.name if township else None,
        "target_persons": case.target_persons, "reason": case.reason, "evidence": case.evidence, "status": case.status,
        "status_label": case_rules.STATUS_LABELS.get(case.status, case.status), "decision": case.decision,
        "decision_label": case_rules.DECISIONS.get(case.decision or ""), "decision_note": case.decision_note,
        "suspension_days": case.suspension_days, "rating_effect": case.rating_effect,
        "rating_effect_label": case_rules.RATING_EFFECT_LABELS.get(case.rating_effect or ""),
        "rating_year": case.rating_year, "decided_at": case.decided_at, "closed_at": case.closed_at,
        "close_note": case.close_note, "created_at": case.created_at, "version": case.version,
    }


def _township_id(session: Session, code: str | None) -> int | None:
    if code is None:
        return None
    unit = session.exec(select(OrgUnit).where(OrgUnit.code == code, OrgUnit.kind == "township")).first()
    if unit is None:
        raise ValidationFailed(f"没有编码为 {code} 的乡镇", errors=[{"field": "township", "message": "unknown township"}])
    return unit.id


def query_escalations(session: Session, principal: Principal, *, level: int | None = None, township: str | None = None,
                      status: str | None = None, trigger: str | None = None, campaign: int | None = None) -> Any:
    stmt = select(Escalation)
    if principal.townships is not None:
        stmt = stmt.where(col(Escalation.township_id).in_(principal.townships))
    town = _township_id(session, township)
    if town is not None:
        stmt = stmt.where(Escalation.township_id == town)
    if level is not None:
        stmt = stmt.where(Escalation.level == level)
    if status == "live":
        stmt = stmt.where(col(Escalation.status).in_(service.LIVE))
    elif status is not None:
        stmt = stmt.where(Escalation.status == status)
    if trigger is not None:
        stmt = stmt.where(Escalation.trigger == trigger)
    if campaign is not None:
        stmt = stmt.where(Escalation.campaign_id == campaign)
    return stmt


# ---- escalations -----------------------------------------------------------------------------------


@router.get("/escalations", summary="Escalation steps, filtered by level, township, status and trigger")
def list_escalations(session: SessionDep, principal: CurrentPrincipal,
                     level: Annotated[int | None, Query(ge=1, le=20)] = None,
                     township: Annotated[CleanStr | None, Query(max_length=32, description="township code")] = None,
                     status: Status | None = None, trigger: Trigger | None = None,
                     campaign: Annotated[DbId | None, Query()] = None,
                     limit: Annotated[int, Query(ge=1, le=500)] = 100,
                     offset: Annotated[DbOffset, Query()] = 0) -> dict[str, Any]:
    stmt = query_escalations(session, principal, level=level, township=township, status=status, trigger=trigger,
                             campaign=campaign)
    total = session.exec(select(func.count()).select_from(stmt.subquery())).one()
    rows = list(session.exec(stmt.order_by(col(Escalation.created_at).desc(), col(Escalation.id).desc())
                             .limit(limit).offset(offset)))
    return {"items": _present(session, rows), "total": total, "limit": limit, "offset": offset}


@router.get("/escalations/ledger", summary="County-wide ledger: live escalations per level and cases per township")
def escalation_ledger(session: SessionDep, principal: CurrentPrincipal) -> dict[str, Any]:
    stmt = select(Escalation).where(col(Escalation.status).in_([*service.LIVE, "confirmed"]))
    case_stmt = select(AccountabilityCase)
    towns_stmt = select(OrgUnit).where(OrgUnit.kind == "township")
    if principal.townships is not None:
        stmt = stmt.where(col(Escalation.township_id).in_(principal.townships))
        case_stmt = case_stmt.where(col(AccountabilityCase.township_id).in_(principal.townships))
        towns_stmt = towns_stmt.where(col(OrgUnit.id).in_(principal.townships))
    live: dict[int, Counter[str]] = defaultdict(Counter)
    frontier = [e for e in session.exec(stmt) if e.status != "escalated"]
    for esc in frontier:
        live[esc.township_id][esc.level_name or esc.level_key] += 1
    case_counts: dict[int, Counter[str]] = defaultdict(Counter)
    for case in session.exec(case_stmt):
        case_counts[case.township_id][case.status] += 1
    rows = []
    for town in session.exec(towns_stmt.order_by(col(OrgUnit.code))):
        levels = live.get(town.id or 0, Counter())
        counts = case_counts.get(town.id or 0, Counter())
        rows.append({"township": town.code, "township_name": town.name, "open_escalations": sum(levels.values()),
                     "by_level": dict(levels), "cases_open": counts["open"], "cases_decided": counts["decided"],
                     "cases_closed": counts["closed"]})
    return {"items": rows, "open_escalations": sum(r["open_escalations"] for r in rows),
            "cases_open": sum(r["cases_open"] for r in rows)}


@router.get("/escalations/{escalation_id}", summary="One escalation step with its document and history")
def get_escalation(escalation_id: DbId, session: SessionDep, principal: CurrentPrincipal) -> dict[str, Any]:
    esc = service.load(session, principal, escalation_id)
    [out] = _present(session, [esc])
    where: list[Any] = [Escalation.campaign_id == esc.campaign_id, Escalation.trigger == esc.trigger]
    for column, value in ((Escalation.obligation_id, esc.obligation_id), (Escalation.rectification_id, esc.rectification_id),
                          (Escalation.submission_id, esc.submission_id)):
        if value is not None:
            where.append(column == value)
    history = list(session.exec(select(Escalation).where(*where).order_by(col(Escalation.level), col(Escalation.id))))
    out["history"] = [{"id": h.id, "level": h.level, "level_name": h.level_name or h.level_key, "status": h.status,
                       "created_at": h.created_at} for h in history]
    return out


def _acted(session: Session, principal: Principal, esc: Escalation) -> dict[str, Any]:
    session.commit()
    return get_escalation(esc.id or 0, session, principal)


@router.post("/escalations/{escalation_id}/interview", summary="约谈: record the interview's date, place and outcome", responses=WRITE)
def record_interview(escalation_id: DbId, body: InterviewRecord, session: SessionDep, principal: CurrentPrincipal,
                     clock: ClockDep) -> dict[str, Any]:
    esc = service.record_interview(session, principal, clock.now(), escalation_id, interview_on=body.interview_on,
                                   place=body.place, outcome=body.outcome, version=body.version)
    return _acted(session, principal, esc)


@router.post("/escalations/{escalation_id}/confirm", status_code=201,
             summary="The county's check confirms it (核实属实): open an accountability case", responses=WRITE)
def confirm_escalation(escalation_id: DbId, body: CountyCheck, session: SessionDep, principal: CurrentPrincipal,
                       clock: ClockDep, response: Response) -> dict[str, Any]:
    case = service.confirm(session, principal, clock.now(), escalation_id, note=body.note, version=body.version)
    session.commit()
    session.refresh(case)
    response.headers["Location"] = f"/api/v1/cases/{case.id}"
    return case_public(case, _units(session, {case.township_id}))


@router.post("/escalations/{escalation_id}/dismiss", summary="The county's check finds nothing to answer for", responses=WRITE)
def dismiss_escalation(escalation_id: DbId, body: CountyCheck, session: SessionDep, principal: CurrentPrincipal,
                       clock: ClockDep) -> dict[str, Any]:
    esc = service.dismiss(session, principal, clock.now(), escalation_id, note=body.note, version=body.version)
    return _acted(session, principal, esc)


@router.post("/submissions/{submission_id}/unverified", status_code=201,
             summary="A county reviewer marks a report as not verified (不经调查核实，随意上报)", responses=WRITE)
def mark_unverified(submission_id: DbId, body: UnverifiedMark, session: SessionDep, principal: CurrentPrincipal,
                    clock: ClockDep) -> dict[str, Any]:
    sub = submissions.load_submission(session, principal, submission_id)
    campaign = session.get(Campaign, sub.campaign_id)
    if campaign is None:
        raise NotFound(f"没有编号为 {submission_id} 的材料")
    esc = service.mark_unverified(session, principal, clock.now(), sub, get_definitions()[campaign.definition_key],
                                  campaign, body.comment)
    return _acted(session, principal, esc)


# ---- documents -------------------------------------------------------------------------------------


def _document(session: Session, principal: Principal, document_id: int) -> OfficialDocument:
    doc = session.get(OfficialDocument, document_id)
    if doc is None or not principal.can_see(doc.township_id):
        raise NotFound(f"没有编号为 {document_id} 的公文")
    return doc


@router.get("/documents", summary="Official documents issued, newest first")
def list_documents(session: SessionDep, principal: CurrentPrincipal,
                   year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
                   limit: Annotated[int, Query(ge=1, le=500)] = 100) -> dict[str, Any]:
    stmt = select(OfficialDocument)
    if principal.townships is not None:
        stmt = stmt.where(col(OfficialDocument.township_id).in_(principal.townships))
    if year is not None:
        stmt = stmt.where(OfficialDocument.year == year)
    rows = session.exec(stmt.order_by(col(OfficialDocument.year).desc(), col(OfficialDocument.number).desc()).limit(limit))
    return {"items": [_document_ref(d) | {"escalation_id": d.escalation_id} for d in rows]}


@router.get("/documents/{document_id}", summary="An official document: number, addressee, body")
def get_document(document_id: DbId, session: SessionDep, principal: CurrentPrincipal) -> dict[str, Any]:
    doc = _document(session, principal, document_id)
    return _document_ref(doc) | {"issuer": doc.issuer, "addressee": doc.addressee, "body": doc.body,
                                 "escalation_id": doc.escalation_id, "sha256": doc.sha256}


@router.get("/documents/{document_id}/html", response_class=HTMLResponse, summary="The document in its official layout")
def document_html(document_id: DbId, session: SessionDep, principal: CurrentPrincipal) -> HTMLResponse:
    doc = _document(session, principal, document_id)
    return HTMLResponse(doc.html, headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"})


@router.get("/documents/{document_id}/pdf", response_class=Response, summary="The document as PDF")
def document_pdf(document_id: DbId, session: SessionDep, principal: CurrentPrincipal) -> Response:
    doc = _document(session, principal, document_id)
    name = f"{doc.doc_number} {doc.title}.pdf"
    return Response(doc.pdf, media_type="application/pdf", headers={
        "Content-Disposition": f"inline; filename*=UTF-8''{quote(name)}", "X-Content-Type-Options": "nosniff"})


# ---- accountability cases --------------------------------------------------------------------------


@router.get("/cases", summary="Accountability cases (问责)")
def list_cases(session: SessionDep, principal: CurrentPrincipal,
               status: Literal["open", "decided", "closed"] | None = None,
               township: Annotated[CleanStr | None, Query(max_length=32)] = None,
               limit: Annotated[int, Query(ge=1, le=500)] = 100,
               offset: Annotated[DbOffset, Query()] = 0) -> dict[str, Any]:
    stmt = select(AccountabilityCase)
    if principal.townships is not None:
        stmt = stmt.where(col(AccountabilityCase.township_id).in_(principal.townships))
    town = _township_id(session, township)
    if town is not None:
        stmt = stmt.where(AccountabilityCase.township_id == town)
    if status is not None:
        stmt = stmt.where(AccountabilityCase.status == status)
    total = session.exec(select(func.count()).select_from(stmt.subquery())).one()
    rows = list(session.exec(stmt.order_by(col(AccountabilityCase.id).desc()).limit(limit).offset(offset)))
    units = _units(session, {c.township_id for c in rows})
    return {"items": [case_public(c, units) for c in rows], "total": total, "limit": limit, "offset": offset}


@router.get("/cases/{case_id}", summary="One accountability case with its evidence")
def get_case(case_id: DbId, session: SessionDep, principal: CurrentPrincipal) -> dict[str, Any]:
    case = cases.load(session, principal, case_id)
    return case_public(case, _units(session, {case.township_id}))


@router.post("/cases/{case_id}/decision", summary="The administrator's decision (诫勉谈话, 通报批评, 歇职 …)", responses=WRITE)
def decide_case(case_id: DbId, body: CaseDecision, session: SessionDep, principal: CurrentPrincipal,
                clock: ClockDep) -> dict[str, Any]:
    case = cases.decide(session, principal, clock.now(), case_id, decision=body.decision, note=body.note,
                        rating_year=body.rating_year, suspension_days=body.suspension_days, version=body.version)
    session.commit()
    session.refresh(case)
    return case_public(case, _units(session, {case.township_id}))


@router.post("/cases/{case_id}/close", summary="Close a decided case once carried out", responses=WRITE)
def close_case(case_id: DbId, body: CaseClose, session: SessionDep, principal: CurrentPrincipal,
               clock: ClockDep) -> dict[str, Any]:
    case = cases.close(session, principal, clock.now(), case_id, note=body.note, version=body.version)
    session.commit()
    session.refresh(case)
    return case_public(case, _units(session, {case.township_id}))


@router.get("/ratings/consequences", summary="What year-end ratings must respect, per township")
def rating_consequences(session: SessionDep, principal: CurrentPrincipal,
                        year: Annotated[int, Query(ge=2000, le=2100)]) -> dict[str, Any]:
    return {"year": year, "items": cases.rating_consequences(session, principal, year)}
