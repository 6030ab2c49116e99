"""The 督办 desk over JSON (``tasks.desk``): assigned items, signing, extension requests, traffic lights, the
三色督办单, bulletins and scores. The 办结报告 itself goes through ``/api/v1/submissions`` like any report: a
return is 退办, the final approval 办结销号."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, File, Query, Response, UploadFile
from sqlmodel import Session

from api.deps import ClockDep, CurrentPrincipal, SessionDep
from api.routes.ledgers import read_upload
from api.routes.problems import READ, UPLOAD, WRITE
from api.types import CleanStr, DbId, DbOffset
from core.clock import Clock, local_today
from domain.errors import NotFound, ValidationFailed
from models.desk import BulletinDraftIn, BulletinPublishIn, ExtensionDecision, ExtensionIn, ItemIn, UrgeIn
from tasks.accounts import Principal
from tasks.calendar import load_work_calendar
from tasks.desk import bulletins, extensions, imports, items, signing, urges
from tasks.desk.records import extension_dict, recipient_rows
from tasks.reads import desk as reads
from tasks.review import ALLOWED_TYPES, MAX_ATTACHMENT

router = APIRouter(prefix="/api/v1/desk", tags=["desk"], responses=READ)

Year = Annotated[int | None, Query(ge=2000, le=2100)]
Light = Annotated[CleanStr | None, Query(pattern="^(green|yellow|red)$")]


def _recipient(session: Session, principal: Principal, clock: Clock, recipient_id: int) -> dict[str, Any]:
    session.commit()
    recipient = items.load_recipient(session, principal, recipient_id)
    rows = recipient_rows(session, principal, local_today(clock), load_work_calendar(session), item_id=recipient.item_id)
    return next(r for r in rows if r["recipient_id"] == recipient_id)


@router.post("/items", status_code=201, summary="Assign an item to townships (交办; administrators)", responses=WRITE)
def assign(body: ItemIn, session: SessionDep, principal: CurrentPrincipal, clock: ClockDep,
           response: Response) -> dict[str, Any]:
    item = items.assign(session, principal, clock.now(), body)
    session.commit()
    response.headers["Location"] = f"/api/v1/desk/items/{item.id}"
    return reads.get_item(session, principal, item.id or 0, local_today(clock))


@router.post("/items/import", status_code=201, responses=WRITE | UPLOAD,
             summary="Assign a list of items from .xlsx (administrators; all rows or none)")
async def import_items(session: SessionDep, principal: CurrentPrincipal, clock: ClockDep,
                       file: Annotated[UploadFile, File(description="事项名称, 来源, 文号, 办理要求, 承办乡镇（编码，"
                                                        "以、分隔，或“全部”）, 办理期限 或 签收后工作日数, 反馈方式, 审核流程")],
                       ) -> dict[str, Any]:
    principal.require_role("admin")
    content = await read_upload(file)
    result = imports.import_items_xlsx(session, principal, clock.now(), content, file.filename)
    session.commit()
    return result


@router.get("/items", summary="Assigned items I may see, newest first, with their recipients' lights")
def list_items(session: SessionDep, principal: CurrentPrincipal, clock: ClockDep, year: Year = None,
               limit: Annotated[int, Query(ge=1, le=500)] = 100,
               offset: Annotated[DbOffset, Query()] = 0) -> dict[str, Any]:
    return reads.list_items(session, principal, local_today(clock), year=year, limit=limit, offset=offset).as_dict()


@router.post("/items/{item_id}/attachment", summary="Attach the item's source document (administrators)",
             responses=WRITE | UPLOAD)
async def attach(item_id: DbId, session: SessionDep, principal: CurrentPrincipal, clock: ClockDep,
                 file: Annotated[UploadFile, File()]) -> dict[str, Any]:
    items.load_item(session, principal, item_id)  # outside scope: 404 before the file is read
    content = await file.read(MAX_ATTACHMENT + 1)
    ctype = (file.content_type or "").split(";")[0].strip().lower()
    if len(content) > MAX_ATTACHMENT:
        raise ValidationFailed("附件不能超过 10 MB", errors=[{"field": "file", "message": "too large"}], status=413)
    magic = ALLOWED_TYPES.get(ctype)
    if magic is None or not content.startswith(magic):
        raise ValidationFailed("只接受 PDF、JPEG、PNG、DOCX、XLSX 附件，且内容须与类型相符",
                               errors=[{"field": "file", "message": "unsupported or mismatched type"}], status=415)
    name = (file.filename or "附件").replace("/", "_").replace("\\", "_")[:255]
    item = items.attach_source(session, principal, clock.now(), item_id, filename=name, content_type=ctype,
                               content=content)
    session.commit()
    return {"id": item.id, "attachment": item.attachment_name, "url": f"/api/v1/desk/items/{item.id}/attachment"}


@router.get("/items/{item_id}/attachment", summary="Download the item's source document", response_class=Response)
def download(item_id: DbId, session: SessionDep, principal: CurrentPrincipal) -> Response:
    item = items.load_item(session, principal, item_id)
    if item.attachment is None:
        raise NotFound("该交办事项没有附件")
    return Response(item.attachment, media_type=item.attachment_type or "application/octet-stream", headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(item.attachment_name or '附件')}",
        "X-Content-Type-Options": "nosniff"})


@router.get("/items/{item_id}", summary="One assigned item with its recipients and their lights")
def read_item(item_id: DbId, session: SessionDep, principal: CurrentPrincipal, clock: ClockDep) -> dict[str, Any]:
    return reads.get_item(session, principal, item_id, local_today(clock))


@router.get("/recipients", summary="Recipients of assigned items, filterable by light (green, yellow, red)")
def list_recipients(session: SessionDep, principal: CurrentPrincipal, clock: ClockDep, light: Light = None,
                    township: Annotated[CleanStr | None, Query(max_length=32)] = None,
                    year: Year = None) -> dict[str, Any]:
    rows = recipient_rows(session, principal, local_today(clock), load_work_calendar(session), light=light,
                          township=township, year=year)
    return {"items": rows, "total": len(rows)}


@router.post("/recipients/{recipient_id}/acknowledge", summary="Sign for an item (签收; the township)", responses=WRITE)
def acknowledge(recipient_id: DbId, session: SessionDep, principal: CurrentPrincipal, clock: ClockDep) -> dict[str, Any]:
    items.acknowledge(session, principal, clock.now(), recipient_id)
    return _recipient(session, principal, clock, recipient_id)


@router.get("/signing", summary="Sign-for deadlines not yet signed (items' and campaign deadlines'), soonest first")
def waiting_signatures(session: SessionDep, principal: CurrentPrincipal, clock: ClockDep) -> dict[str, Any]:
    return {"items": signing.waiting(session, principal, local_today(clock))}


@router.post("/signing/{obligation_id}/acknowledge", responses=WRITE,
             summary="Sign for a deadline by its sign-for obligation (签收; the township)")
def acknowledge_obligation(obligation_id: DbId, session: SessionDep, principal: CurrentPrincipal,
                           clock: ClockDep) -> dict[str, Any]:
    ack = signing.acknowledge_obligation(session, principal, clock.now(), obligation_id)
    session.commit()
    return {"obligation_id": ack.id, "status": ack.status, "met_on": ack.met_on}


@router.post("/recipients/{recipient_id}/extensions", status_code=201,
             summary="Ask for more time before the deadline (延期申请; the township)", responses=WRITE)
def request_extension(recipient_id: DbId, body: ExtensionIn, session: SessionDep, principal: CurrentPrincipal,
                      clock: ClockDep) -> dict[str, Any]:
    request = extensions.request_extension(session, principal, clock.now(), recipient_id, body)
    session.commit()
    return extension_dict(request)


@router.get("/extensions", summary="Extension requests waiting for my decision")
def waiting_extensions(session: SessionDep, principal: CurrentPrincipal) -> dict[str, Any]:
    return {"items": reads.waiting_extensions(session, principal)}


@router.post("/extensions/{request_id}/decision",
             summary="Decide an extension request: the township's reviewer, then the office", responses=WRITE)
def decide_extension(request_id: DbId, body: ExtensionDecision, session: SessionDep, principal: CurrentPrincipal,
                     clock: ClockDep) -> dict[str, Any]:
    request = extensions.decide_extension(session, principal, clock.now(), request_id, decision=body.decision,
                                          comment=body.comment, version=body.version)
    session.commit()
    return extension_dict(request)


@router.post("/recipients/{recipient_id}/urges", status_code=201,
             summary="Issue a 三色督办单 by hand (蓝/黄/红; administrators)", responses=WRITE)
def issue_urge(recipient_id: DbId, body: UrgeIn, session: SessionDep, principal: CurrentPrincipal,
               clock: ClockDep) -> dict[str, Any]:
    urge = urges.issue_urge(session, principal, clock.now(), recipient_id, body)
    session.commit()
    return {"id": urge.id, "colour": urge.colour, "note": urge.note, "document_id": urge.document_id,
            "pdf": f"/api/v1/documents/{urge.document_id}/pdf"}


@router.get("/bulletins", summary="Bulletins of supervision work (定期通报), newest first")
def list_bulletins(session: SessionDep, principal: CurrentPrincipal) -> dict[str, Any]:
    return {"items": reads.list_bulletins(session, principal)}


@router.post("/bulletins", status_code=201, summary="Draft a month's bulletin on demand (administrators)",
             responses=WRITE)
def draft_bulletin(body: BulletinDraftIn, session: SessionDep, principal: CurrentPrincipal,
                   clock: ClockDep) -> dict[str, Any]:
    principal.require_role("admin")
    bulletin = bulletins.draft(session, body.year, body.month, clock.now(), principal)
    session.commit()
    return reads.bulletin_dict(bulletin)


@router.get("/bulletins/{bulletin_id}", summary="One bulletin with its rows per township")
def read_bulletin(bulletin_id: DbId, session: SessionDep, principal: CurrentPrincipal) -> dict[str, Any]:
    return reads.bulletin_dict(bulletins.load_bulletin(session, principal, bulletin_id))


@router.post("/bulletins/{bulletin_id}/publish", summary="Edit and publish a bulletin as a numbered document",
             responses=WRITE)
def publish_bulletin(bulletin_id: DbId, body: BulletinPublishIn, session: SessionDep, principal: CurrentPrincipal,
                     clock: ClockDep) -> dict[str, Any]:
    bulletin = bulletins.publish(session, principal, clock.now(), bulletin_id, body)
    session.commit()
    return reads.bulletin_dict(bulletin)


@router.get("/scores", summary="Each township's supervision score for a year, with the rule")
def scores(session: SessionDep, principal: CurrentPrincipal, clock: ClockDep, year: Year = None) -> dict[str, Any]:
    today = local_today(clock)
    return reads.scores(session, principal, year or today.year, today)
