"""Submissions, their review chains, attachments, to-dos and review queues."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Query, Response, UploadFile
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session

from api.deps import ClockDep, CurrentPrincipal, ReadSessionDep, SessionDep
from api.routes.problems import READ, UPLOAD, WRITE
from api.types import CleanStr, DbId, DbOffset
from core.clock import local_today
from domain.errors import ValidationFailed
from models import Submission
from tasks import review as service
from tasks.accounts import Principal
from tasks.reads import submissions as reads
from tasks.reads import todos as todo_reads

router = APIRouter(prefix="/api/v1", tags=["submissions"], responses=READ)



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


class CheckJudgement(Strict):
    """The reviewer's judgement of one check of the gate: met or not, and why."""

    confirmed: bool
    note: CleanStr = Field(max_length=2000, description="required: what the reviewer checked")


class Decision(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"decision": "return", "comment": "存在问题不够精准，请逐项列明并明确整改时限", "version": 3},
        {"decision": "approve", "version": 4},
        {"decision": "approve", "version": 5, "checks": {
            "village_appearance": {"confirmed": True, "note": "实地查看，四栏三室二牌一基地齐全"},
            "responsibility_systems": {"confirmed": True, "note": "查阅责任制文件，责任追究落实到人"}}},
        {"decision": "approve", "version": 5, "override_reason": "公示日期填写有误，经核实公示已于审批前满7天"},
    ]})

    decision: Literal["approve", "return", "reject"]
    comment: CleanStr | None = Field(default=None, max_length=4000)
    version: DbId
    checks: dict[Annotated[str, Field(max_length=64)], CheckJudgement] | None = Field(
        default=None, max_length=50, description="judgements of the gate's checks, by check key")
    override_reason: CleanStr | None = Field(
        default=None, max_length=2000, description="administrators only: approve although checks failed, and why")


class VetoRequest(Strict):
    check: CleanStr = Field(min_length=1, max_length=64)
    comment: CleanStr = Field(min_length=1, max_length=4000)
    version: DbId


def _done(session: Session, principal: Principal, sub: Submission, now: dt.datetime) -> dict[str, Any]:
    session.commit()
    session.refresh(sub)
    return reads.submission_public(session, sub, now=now)


@router.post("/submissions", status_code=201, summary="Start (and optionally submit) the answer to an obligation", responses=WRITE)
def create_submission(body: SubmissionCreate, session: SessionDep, principal: CurrentPrincipal, clock: ClockDep,
                      response: Response) -> dict[str, Any]:
    sub = service.create_submission(session, principal, clock.now(), obligation_id=body.obligation_id,
                                    subject=body.subject, data=body.data, submit=body.submit)
    response.headers["Location"] = f"/api/v1/submissions/{sub.id}"
    return _done(session, principal, sub, clock.now())


@router.get("/submissions", summary="Submissions I may see, filtered")
def list_submissions(
    session: ReadSessionDep, principal: CurrentPrincipal,
    campaign: Annotated[DbId | None, Query()] = None,
    status: Annotated[CleanStr | None, Query(max_length=16)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[DbOffset, Query()] = 0,
) -> dict[str, Any]:
    items = reads.list_submissions(session, principal, campaign=campaign, status=status, limit=limit, offset=offset)
    return {"items": items, "limit": limit, "offset": offset}


@router.get("/submissions/{submission_id}", summary="A submission with its rounds, reviews and attachments")
def read_submission(submission_id: DbId, session: ReadSessionDep, principal: CurrentPrincipal,
                    clock: ClockDep) -> dict[str, Any]:
    return reads.get_submission(session, principal, submission_id, now=clock.now())


@router.patch("/submissions/{submission_id}", summary="Save a draft (incomplete is fine)", responses=WRITE)
def update_submission(submission_id: DbId, body: SubmissionUpdate, session: SessionDep, principal: CurrentPrincipal,
                      clock: ClockDep) -> dict[str, Any]:
    sub = service.update_draft(session, principal, clock.now(), submission_id, body.data, body.version)
    return _done(session, principal, sub, clock.now())


@router.post("/submissions/{submission_id}/submit", summary="Submit (or resubmit after a return)", responses=WRITE)
def submit_submission(submission_id: DbId, body: VersionOnly, session: SessionDep, principal: CurrentPrincipal,
                      clock: ClockDep) -> dict[str, Any]:
    sub = service.submit_submission(session, principal, clock.now(), submission_id, body.version)
    return _done(session, principal, sub, clock.now())


@router.post("/submissions/{submission_id}/withdraw", summary="Withdraw to draft before the first approval", responses=WRITE)
def withdraw_submission(submission_id: DbId, body: VersionOnly, session: SessionDep, principal: CurrentPrincipal,
                        clock: ClockDep) -> dict[str, Any]:
    sub = service.withdraw_submission(session, principal, clock.now(), submission_id, body.version)
    return _done(session, principal, sub, clock.now())


@router.post("/submissions/{submission_id}/decisions", summary="Approve, return for revision or reject at the current level", responses=WRITE)
def decide(submission_id: DbId, body: Decision, session: SessionDep, principal: CurrentPrincipal,
           clock: ClockDep) -> dict[str, Any]:
    checks = {k: v.model_dump() for k, v in body.checks.items()} if body.checks else None
    sub = service.decide(session, principal, clock.now(), submission_id, decision=body.decision, comment=body.comment,
                         version=body.version, checks=checks, override_reason=body.override_reason)
    return _done(session, principal, sub, clock.now())


@router.post("/submissions/{submission_id}/veto", summary="One-vote veto (一票否决) of a gate application", responses=WRITE)
def veto(submission_id: DbId, body: VetoRequest, session: SessionDep, principal: CurrentPrincipal,
         clock: ClockDep) -> dict[str, Any]:
    sub = service.veto_submission(session, principal, clock.now(), submission_id, check=body.check,
                                  comment=body.comment, version=body.version)
    return _done(session, principal, sub, clock.now())


@router.post("/submissions/{submission_id}/attachments", status_code=201, summary="Attach evidence (PDF, JPEG, PNG, DOCX, XLSX; ≤ 10 MB)", responses=WRITE | UPLOAD)
async def upload_attachment(submission_id: DbId, session: SessionDep, principal: CurrentPrincipal, clock: ClockDep,
                            file: Annotated[UploadFile, File()]) -> dict[str, Any]:
    content = await file.read(service.MAX_ATTACHMENT + 1)
    if len(content) > service.MAX_ATTACHMENT:
        raise ValidationFailed("附件不能超过 10 MB", errors=[{"field": "file", "message": "too large"}], status=413)
    if not content:
        raise ValidationFailed("附件是空文件", errors=[{"field": "file", "message": "empty"}])
    ctype = (file.content_type or "").split(";")[0].strip().lower()
    magic = service.ALLOWED_TYPES.get(ctype)
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
def download_attachment(attachment_id: DbId, session: ReadSessionDep, principal: CurrentPrincipal) -> Response:
    from urllib.parse import quote

    attachment = reads.load_attachment(session, principal, attachment_id)
    return Response(attachment.content, media_type=attachment.content_type, headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(attachment.filename)}",
        "X-Content-Type-Options": "nosniff",
    })


@router.get("/todos", summary="My open obligations with what is still missing, soonest first")
def todos(session: ReadSessionDep, principal: CurrentPrincipal, clock: ClockDep,
          limit: Annotated[int, Query(ge=1, le=500)] = 100,
          light: Annotated[str | None, Query(pattern="^(green|yellow|red)$")] = None) -> dict[str, Any]:
    items = todo_reads.todos(session, principal, local_today(clock), limit=limit)
    return {"items": [t for t in items if light is None or t["light"] == light]}


@router.get("/reviews/queue", summary="Submissions waiting for my decision, by due date")
def review_queue(session: ReadSessionDep, principal: CurrentPrincipal, clock: ClockDep) -> dict[str, Any]:
    return {"items": reads.review_queue(session, principal, now=clock.now())}
