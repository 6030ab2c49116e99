"""Escalations (督办), the official documents they produce, and accountability cases (问责)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Query, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session

from api.deps import ClockDep, CurrentPrincipal, SessionDep
from api.routes.problems import READ, WRITE
from api.types import CleanStr, DbId, DbOffset
from domain.errors import NotFound
from domain.triggers import TriggerKey
from models import Campaign, Escalation
from tasks import accountability as cases
from tasks import escalation as service
from tasks import review as submissions
from tasks.accounts import Principal
from tasks.reads import cases as case_reads
from tasks.reads import documents as document_reads
from tasks.reads import escalations as reads
from tasks.reads import stationing_assessment as stationing_reads
from tasks.registry import definition_of

router = APIRouter(prefix="/api/v1", tags=["escalations"], responses=READ)

Status = Literal["open", "escalated", "resolved", "confirmed", "dismissed", "live"]
Trigger = TriggerKey  # the keys of domain.triggers.TRIGGERS


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


# ---- escalations -----------------------------------------------------------------------------------


@router.get("/escalations", summary="Escalation steps, filtered by level, township, status and trigger")
def list_escalations(session: SessionDep, principal: CurrentPrincipal,
                     level: Annotated[int | None, Query(ge=1, le=20)] = None,
                     township: Annotated[CleanStr | None, Query(max_length=32, description="township code")] = None,
                     status: Status | None = None, trigger: Trigger | None = None,
                     campaign: Annotated[DbId | None, Query()] = None,
                     limit: Annotated[int, Query(ge=1, le=500)] = 100,
                     offset: Annotated[DbOffset, Query()] = 0) -> dict[str, Any]:
    return reads.list_escalations(session, principal, level=level, township=township, status=status, trigger=trigger,
                                  campaign=campaign, limit=limit, offset=offset).as_dict()


@router.get("/escalations/ledger", summary="County-wide ledger: live escalations per level and cases per township")
def escalation_ledger(session: SessionDep, principal: CurrentPrincipal) -> dict[str, Any]:
    return reads.escalation_ledger(session, principal)


@router.get("/escalations/{escalation_id}", summary="One escalation step with its document and history")
def get_escalation(escalation_id: DbId, session: SessionDep, principal: CurrentPrincipal) -> dict[str, Any]:
    return reads.get_escalation(session, principal, escalation_id)


def _acted(session: Session, principal: Principal, esc: Escalation) -> dict[str, Any]:
    session.commit()
    return reads.get_escalation(session, principal, esc.id or 0)


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
    return case_reads.present_case(session, case)


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
    esc = service.mark_unverified(session, principal, clock.now(), sub, definition_of(campaign),
                                  campaign, body.comment)
    return _acted(session, principal, esc)


# ---- documents -------------------------------------------------------------------------------------


@router.get("/documents", summary="Official documents issued, newest first")
def list_documents(session: SessionDep, principal: CurrentPrincipal,
                   year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
                   limit: Annotated[int, Query(ge=1, le=500)] = 100) -> dict[str, Any]:
    return {"items": document_reads.list_documents(session, principal, year=year, limit=limit)}


@router.get("/documents/{document_id}", summary="An official document: number, addressee, body")
def get_document(document_id: DbId, session: SessionDep, principal: CurrentPrincipal) -> dict[str, Any]:
    return document_reads.get_document(session, principal, document_id)


@router.get("/documents/{document_id}/html", response_class=HTMLResponse, summary="The document in its official layout")
def document_html(document_id: DbId, session: SessionDep, principal: CurrentPrincipal) -> HTMLResponse:
    doc = document_reads.load_document(session, principal, document_id)
    return HTMLResponse(doc.html, headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"})


@router.get("/documents/{document_id}/pdf", response_class=Response, summary="The document as PDF")
def document_pdf(document_id: DbId, session: SessionDep, principal: CurrentPrincipal) -> Response:
    doc = document_reads.load_document(session, principal, document_id)
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
    return case_reads.list_cases(session, principal, status=status, township=township, limit=limit,
                                 offset=offset).as_dict()


@router.get("/cases/{case_id}", summary="One accountability case with its evidence")
def get_case(case_id: DbId, session: SessionDep, principal: CurrentPrincipal) -> dict[str, Any]:
    return case_reads.get_case(session, principal, case_id)


@router.post("/cases/{case_id}/decision", summary="The administrator's decision (诫勉谈话, 通报批评, 歇职 …)", responses=WRITE)
def decide_case(case_id: DbId, body: CaseDecision, session: SessionDep, principal: CurrentPrincipal,
                clock: ClockDep) -> dict[str, Any]:
    case = cases.decide(session, principal, clock.now(), case_id, decision=body.decision, note=body.note,
                        rating_year=body.rating_year, suspension_days=body.suspension_days, version=body.version)
    session.commit()
    session.refresh(case)
    return case_reads.present_case(session, case)


@router.post("/cases/{case_id}/close", summary="Close a decided case once carried out", responses=WRITE)
def close_case(case_id: DbId, body: CaseClose, session: SessionDep, principal: CurrentPrincipal,
               clock: ClockDep) -> dict[str, Any]:
    case = cases.close(session, principal, clock.now(), case_id, note=body.note, version=body.version)
    session.commit()
    session.refresh(case)
    return case_reads.present_case(session, case)


@router.get("/ratings/consequences",
            summary="What year-end ratings must respect: per township (items) and per dispatching unit (units)")
def rating_consequences(session: SessionDep, principal: CurrentPrincipal,
                        year: Annotated[int, Query(ge=2000, le=2100)]) -> dict[str, Any]:
    """``items``: the townships whose decided cases cap their rating; ``units``: the dispatching units that did
    not send and keep their cadres that year, downgraded one grade (003 四(五))."""
    return {"year": year, "items": cases.rating_consequences(session, principal, year),
            "units": stationing_reads.unit_consequences(session, principal, year)}
