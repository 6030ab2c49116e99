"""Submissions, their review chains, attachments, to-dos and review queues."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Query, Response, UploadFile
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session, col, select

from api.deps import ClockDep, CurrentPrincipal, SessionDep
from api.routes.problems import READ, UPLOAD, WRITE
from api.types import CleanStr, DbId, DbOffset
from core.clock import local_today
from domain import review as rules
from domain.definitions import ReviewSpec
from domain.errors import NotFound, ValidationFailed
from models import Attachment, Campaign, Obligation, OrgUnit, Review, Stage, Submission, SubmissionRound, User
from tasks import review as service
from tasks.accounts import Principal

router = APIRouter(prefix="/api/v1", tags=["submissions"], responses=READ)

MAX_ATTACHMENT = 10 * 1024 * 1024
ALLOWED_TYPES = {
    "application/pdf": b"%PDF",
    "image/jpeg": b"\xff\xd8\xff",
    "image/png": b"\x89PNG",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": b"PK",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": b"PK",
}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SubmissionCreate(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "obligation_id": 12, "data": {"basic_situation": "……", "results": "……", "main_problems": "……", "next_steps": "……"},
        "submit": True,
    }]})

    obligation_id: DbId
    subject: CleanStr | None = Field(default=None, max_length=32, description="village code, for per-village material such as 一村一策")
    data: dict[str, Any] = Field(default_factory=dict)
    submit: bool = Field(default=False, description="submit at once instead of saving a draft")


class SubmissionUpdate(Strict):
    data: dict[str, Any]
    version: DbId


class VersionOnly(Strict):
    version: DbId


class Decision(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"decision": "return", "comment": "存在问题不够精准，请逐项列明并明确整改时限", "version": 3},
        {"decision": "approve", "version": 4},
    ]})

    decision: Literal["approve", "return", "reject"]
    comment: CleanStr | None = Field(default=None, max_length=4000)
    version: DbId


class VetoRequest(Strict):
    check: CleanStr = Field(min_length=1, max_length=64)
    comment: CleanStr = Field(min_length=1, max_length=4000)
    version: DbId


def _user_names(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return {u.id or 0: u.display_name for u in session.exec(select(User).where(col(User.id).in_(ids)))}


def submission_public(session: Session, principal: Principal, sub: Submission, detail: bool = True,
                      spec: ReviewSpec | None = None) -> dict[str, Any]:
    if spec is None:
        _, spec = service.review_spec(session, sub)
    township = session.get(OrgUnit, sub.township_id)
    subject = session.get(OrgUnit, sub.subject_id)
    obligation = session.get(Obligation, sub.obligation_id) if sub.obligation_id else None
    level = spec.chain[sub.current_level] if sub.status == "in_review" else None
    out: dict[str, Any] = {
        "id": sub.id, "campaign_id": sub.campaign_id, "obligation_id": sub.obligation_id, "title": sub.title,
        "form": sub.form_key, "gate": sub.gate_key, "township": township.code if township else None,
        "township_name": township.name if township else None, "subject": subject.code if subject else None,
        "subject_name": subject.name if subject else None, "status": sub.status, "round": sub.round,
        "returns": sub.returns, "current_level": sub.current_level,
        "current_level_name": level.name if level else None,
        "chain": [{"level": lv.level, "name": lv.name, "role": lv.role} for lv in spec.chain],
        "max_return_rounds": spec.max_return_rounds, "due_on": obligation.due_on if obligation else None,
        "submitted_at": sub.submitted_at, "decided_at": sub.decided_at, "version": sub.version,
    }
    if not detail:
        return out
    rounds = session.exec(select(SubmissionRound).where(SubmissionRound.submission_id == sub.id).order_by(col(SubmissionRound.round))).all()
    reviews = session.exec(select(Review).where(Review.submission_id == sub.id).order_by(col(Review.id))).all()
    attachments = session.exec(select(Attachment).where(Attachment.submission_id == sub.id).order_by(col(Attachment.id))).all()
    names = _user_names(session, {r.reviewer_id for r in reviews} | {r.submitted_by for r in rounds})
    out |= {
        "data": sub.data,
        "rounds": [{"round": r.round, "data": r.data, "submitted_by": names.get(r.submitted_by), "submitted_at": r.submitted_at} for r in rounds],
        "reviews": [{"round": r.round, "level": r.level, "level_name": r.level_name, "decision": r.decision,
                     "comment": r.comment, "reviewer": names.get(r.reviewer_id), "at": r.created_at} for r in reviews],
        "changes_since_last_round": _diff(rounds[-2].data, rounds[-1].data) if len(rounds) >= 2 else None,
        "attachments": [{"id": a.id, "filename": a.filename, "content_type": a.content_type, "size": a.size,
                         "sha256": a.sha256, "url": f"/api/v1/attachments/{a.id}"} for a in attachments],
    }
    return out


def _diff(old: dict[str, Any], new: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"field": k, "before": old.get(k), "after": new.get(k)} for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]


def _done(session: Session, principal: Principal, sub: Submission) -> dict[str, Any]:
    session.commit()
    session.refresh(sub)
    return submission_public(session, principal, sub)


@router.post("/submissions", status_code=201, summary="Start (and optionally submit) the answer to an obligation", responses=WRITE)
def create_submission(body: SubmissionCreate, session: SessionDep, principal: CurrentPrincipal, clock: ClockDep,
                      response: Response) -> dict[str, Any]:
    sub = service.create_submission(session, principal, clock.now(), obligation_id=body.obligation_id,
                                    subject=body.subject, data=body.data, submit=body.submit)
    response.headers["Location"] = f"/api/v1/submissions/{sub.id}"
    return _done(session, principal, sub)


@router.get("/submissions", summary="Submissions I may see, filtered")
def list_submissions(
    session: SessionDep, principal: CurrentPrincipal,
    campaign: Annotated[DbId | None, Query()] = None,
    status: Annotated[CleanStr | None, Query(max_length=16)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[DbOffset, Query()] = 0,
) -> dict[str, Any]:
    stmt = select(Submission)
    if principal.townships is not None:
        stmt = stmt.where(col(Submission.township_id).in_(principal.townships))
    if campaign is not None:
        stmt = stmt.where(Submission.campaign_id == campaign)
    if status is not None:
        stmt = stmt.where(Submission.status == status)
    rows = session.exec(stmt.order_by(col(Submission.id)).limit(limit).offset(offset)).all()
    return {"items": [submission_public(session, principal, s, detail=False) for s in rows], "limit": limit, "offset": offset}


@router.get("/submissions/{submission_id}", summary="A submission with its rounds, reviews and attachments")
def read_submission(submission_id: DbId, session: SessionDep, principal: CurrentPrincipal) -> dict[str, Any]:
    return submission_public(session, principal, service.load_submission(session, principal, submission_id))


@router.patch("/submissions/{submission_id}", summary="Save a draft (incomplete is fine)", responses=WRITE)
def update_submission(submission_id: DbId, body: SubmissionUpdate, session: SessionDep, principal: CurrentPrincipal,
                      clock: ClockDep) -> dict[str, Any]:
    sub = service.update_draft(session, principal, clock.now(), submission_id, body.data, body.version)
    return _done(session, principal, sub)


@router.post("/submissions/{submission_id}/submit", summary="Submit (or resubmit after a return)", responses=WRITE)
def submit_submission(submission_id: DbId, body: VersionOnly, session: SessionDep, principal: CurrentPrincipal,
                      clock: ClockDep) -> dict[str, Any]:
    sub = service.submit_submission(session, principal, clock.now(), submission_id, body.version)
    return _done(session, principal, sub)


@router.post("/submissions/{submission_id}/withdraw", summary="Withdraw to draft before the first approval", responses=WRITE)
def withdraw_submission(submission_id: DbId, body: VersionOnly, session: SessionDep, principal: CurrentPrincipal,
                        clock: ClockDep) -> dict[str, Any]:
    sub = service.withdraw_submission(session, principal, clock.now(), submission_id, body.version)
    return _done(session, principal, sub)


@router.post("/submissions/{submission_id}/decisions", summary="Approve, return for revision or reject at the current level", responses=WRITE)
def decide(submission_id: DbId, body: Decision, session: SessionDep, principal: CurrentPrincipal,
           clock: ClockDep) -> dict[str, Any]:
    sub = service.decide(session, principal, clock.now(), submission_id, decision=body.decision,
                         comment=body.comment, version=body.version)
    return _done(session, principal, sub)


@router.post("/submissions/{submission_id}/veto", summary="One-vote veto (一票否决) of a gate application", responses=WRITE)
def veto(submission_id: DbId, body: VetoRequest, session: SessionDep, principal: CurrentPrincipal,
         clock: ClockDep) -> dict[str, Any]:
    sub = service.veto_submission(session, principal, clock.now(), submission_id, check=body.check,
                                  comment=body.comment, version=body.version)
    return _done(session, principal, sub)


@router.post("/submissions/{submission_id}/attachments", status_code=201, summary="Attach evidence (PDF, JPEG, PNG, DOCX, XLSX; ≤ 10 MB)", responses=WRITE | UPLOAD)
async def upload_attachment(submission_id: DbId, session: SessionDep, principal: CurrentPrincipal, clock: ClockDep,
                            file: Annotated[UploadFile, File()]) -> dict[str, Any]:
    content = await file.read(MAX_ATTACHMENT + 1)
    if len(content) > MAX_ATTACHMENT:
        raise ValidationFailed("附件不能超过 10 MB", errors=[{"field": "file", "message": "too large"}], status=413)
    if not content:
        raise ValidationFailed("附件是空文件", errors=[{"field": "file", "message": "empty"}])
    ctype = (file.content_type or "").split(";")[0].strip().lower()
    magic = ALLOWED_TYPES.get(ctype)
    if magic is None:
        raise ValidationFailed(f"不支持的附件类型 {ctype or '未知'}；只接受 PDF、JPEG、PNG、DOCX、XLSX",
                               errors=[{"field": "file", "message": "unsupported content type"}], status=415)
    if not content.startswith(magic):
        raise ValidationFailed("附件内容与声明的类型不符", errors=[{"field": "file", "message": "content does not match type"}])
    name = (file.filename or "附件").replace("/", "_").replace("\\", "_")[:255]
    attachment = service.add_attachment(session, principal, clock.now(), submission_id, filename=name,
                                        content_type=ctype, content=content)
    session.commit()
    return {"id": attachment.id, "filename": attachment.filename, "size": attachment.size, "sha256": attachment.sha256,
            "url": f"/api/v1/attachments/{attachment.id}"}


@router.get("/attachments/{attachment_id}", summary="Download an attachment", response_class=Response)
def download_attachment(attachment_id: DbId, session: SessionDep, principal: CurrentPrincipal) -> Response:
    attachment = session.get(Attachment, attachment_id)
    if attachment is None:
        raise NotFound(f"没有编号为 {attachment_id} 的附件")
    try:
        service.load_submission(session, principal, attachment.submission_id)
    except NotFound:
        raise NotFound(f"没有编号为 {attachment_id} 的附件") from None  # outside scope reads as missing
    from urllib.parse import quote

    return Response(attachment.content, media_type=attachment.content_type, headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(attachment.filename)}",
        "X-Content-Type-Options": "nosniff",
    })


@router.get("/todos", summary="My open obligations with what is still missing, soonest first")
def todos(session: SessionDep, principal: CurrentPrincipal, clock: ClockDep,
          limit: Annotated[int, Query(ge=1, le=500)] = 100) -> dict[str, Any]:
    principal.require_role("submitter")
    today = local_today(clock)
    rows = session.exec(
        select(Obligation, Campaign, OrgUnit)
        .join(Campaign, col(Obligation.campaign_id) == Campaign.id)
        .join(OrgUnit, col(Obligation.subject_id) == OrgUnit.id)
        .where(Campaign.township_id == principal.user.org_unit_id,
               col(Obligation.status).in_(["scheduled", "open", "submitted", "missed"]), col(Obligation.opens_on) <= today)
        .order_by(col(Obligation.due_on), col(Obligation.id)).limit(limit)
    ).all()
    subs = {s.obligation_id: s for s in session.exec(select(Submission).where(
        col(Submission.obligation_id).in_([o.id for o, _, _ in rows])))} if rows else {}
    items = []
    for obligation, campaign, subject in rows:
        sub = subs.get(obligation.id)
        items.append({
            "obligation_id": obligation.id, "campaign_id": campaign.id, "title": obligation.title, "kind": obligation.kind,
            "subject": subject.code, "subject_name": subject.name, "period": obligation.period,
            "due_on": obligation.due_on, "days_left": (obligation.due_on - today).days,
            "status": "open" if obligation.status == "scheduled" else obligation.status,
            "submission_id": sub.id if sub else None, "submission_status": sub.status if sub else None,
        })
    return {"items": items}


@router.get("/reviews/queue", summary="Submissions waiting for my decision, by due date")
def review_queue(session: SessionDep, principal: CurrentPrincipal) -> dict[str, Any]:
    principal.require_role("admin", "reviewer")
    stmt = select(Submission).where(Submission.status == "in_review")
    if principal.townships is not None:
        stmt = stmt.where(col(Submission.township_id).in_(principal.townships))
    subs = list(session.exec(stmt))
    # what each row shows, loaded in four queries into the session (kept referenced) instead of per row
    related = [
        *session.exec(select(Campaign).where(col(Campaign.id).in_({s.campaign_id for s in subs}))),
        *session.exec(select(Obligation).where(col(Obligation.id).in_({s.obligation_id for s in subs if s.obligation_id}))),
        *session.exec(select(Stage).where(col(Stage.id).in_({s.stage_id for s in subs if s.stage_id}))),
        *session.exec(select(OrgUnit).where(col(OrgUnit.id).in_({s.township_id for s in subs} | {s.subject_id for s in subs}))),
    ] if subs else []
    items = []
    for sub in subs:
        if principal.user.id in {sub.submitted_by, sub.created_by}:
            continue
        _, spec = service.review_spec(session, sub)
        level = spec.chain[sub.current_level]
        chain_level = rules.ChainLevel(level=level.level, name=level.name, role=level.role)
        if not rules.may_decide_at(principal.actor, chain_level, sub.township_id):
            continue
        items.append(submission_public(session, principal, sub, detail=False, spec=spec))
    del related
    items.sort(key=lambda s: (s["due_on"] or dt.date.max, s["id"]))
    return {"items": items}

