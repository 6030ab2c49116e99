"""Web pages for the township (填报) and the reviewers' queue: the edit form generated from the
definition's form fields, save as draft / submit, and the queue of submissions waiting for a decision.

Every change goes through ``tasks.review`` (the same functions as the JSON API); this module only turns
HTML form fields into the data the domain validates, and the domain's field errors back into messages
next to each field."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlmodel import Session
from starlette.datastructures import FormData

from api.deps import ClockDep, PagePrincipal, SessionDep
from api.routes.web import HtmlErrorRoute, check_csrf, flash_redirect, paginate, render
from api.types import DbId
from core.clock import local_today
from domain import review as rules
from domain.definitions import FieldType, Form
from domain.errors import DubanError, InvalidTransition, PermissionDenied, ValidationFailed
from models import Campaign, Obligation, Submission
from tasks import review as service
from tasks.accounts import Principal
from tasks.reads import org_units as org_unit_reads
from tasks.reads import submissions as submission_reads
from tasks.registry import definition_of

router = APIRouter(include_in_schema=False, route_class=HtmlErrorRoute)


def _parse_number(raw: str) -> Any:
    """An int or float when the text is one; otherwise the text itself, so the domain names the error."""
    for kind in (int, float):
        try:
            return kind(raw)
        except ValueError:
            continue
    return raw


def form_data(form: Form, sent: FormData) -> dict[str, Any]:
    """The submission data of an HTML form post (empty fields left out, as a draft allows)."""
    data: dict[str, Any] = {}
    for field in form.fields:
        name = f"f_{field.key}"
        if field.type is FieldType.VILLAGES:
            codes = [str(v) for v in sent.getlist(name) if str(v)]
            if codes:
                data[field.key] = codes
            continue
        if field.type is FieldType.VILLAGE_NUMBERS:
            prefix = f"{name}."
            table = {str(k)[len(prefix):]: _parse_number(v.strip()) for k, v in sent.multi_items()
                     if str(k).startswith(prefix) and isinstance(v, str) and v.strip()}
            if table:
                data[field.key] = table
            continue
        if field.type is FieldType.FILE:
            ids = [int(v) for v in sent.getlist(name) if isinstance(v, str) and v.isdigit()]
            if ids:
                data[field.key] = ids
            continue
        raw = sent.get(name)
        if not isinstance(raw, str) or raw.strip() == "":
            continue
        if field.type is FieldType.NUMBER:
            data[field.key] = _parse_number(raw.strip())
        elif field.type is FieldType.BOOLEAN:
            data[field.key] = {"yes": True, "no": False}.get(raw, raw)
        else:
            data[field.key] = raw
    return data


def field_errors(exc: DubanError) -> dict[str, str]:
    """The domain's ``data.<field>`` errors keyed by field, for messages next to each input."""
    out: dict[str, str] = {}
    for error in exc.errors:
        key = str(error.get("field", "")).removeprefix("data.")
        out.setdefault(key, str(error.get("message", "")))
    return out


def _obligation_heading(session: Session, obligation: Obligation, township_id: int) -> str:
    return submission_reads.material_heading(session, title=obligation.title, township_id=township_id,
                                             subject_id=obligation.subject_id, period=obligation.period)


def _render_form(request: Request, session: Session, principal: Principal, *, form: Form, title: str, township_id: int,
                 action: str, data: dict[str, Any], sub: Submission | None, due_on: Any, errors: dict[str, str],
                 message: str | None = None, status_code: int = 200) -> HTMLResponse:
    attachments = submission_reads.attachments(session, sub) if sub else []
    last_return = submission_reads.last_return(session, sub) if sub else None
    return render(request, "submission_form.html", {
        "user": principal.user, "form": form, "title": title, "action": action, "data": data, "sub": sub,
        "due_on": due_on, "errors": errors, "message": message, "villages": org_unit_reads.villages(session, township_id),
        "attachments": attachments, "last_return": last_return, "FieldType": FieldType,
    }, status_code=status_code)


@router.get("/obligations/{obligation_id}/form", response_class=HTMLResponse, response_model=None)
def new_submission_form(obligation_id: DbId, request: Request, session: SessionDep,
                        principal: PagePrincipal) -> HTMLResponse | RedirectResponse:
    """The empty form answering an obligation (or the existing material's edit form)."""
    obligation, campaign = service.load_obligation(session, principal, obligation_id)
    if not rules.may_submit(principal.actor, campaign.township_id):
        raise PermissionDenied("只有本乡镇的填报人员可以填报")
    existing = submission_reads.submission_for(session, obligation_id)
    if existing is not None:
        return RedirectResponse(f"/submissions/{existing.id}/edit", status_code=303)
    rule = definition_of(campaign).obligation(obligation.rule_key)
    if not rule.form:
        raise InvalidTransition("这个截止事项不需要填报材料")
    form = definition_of(campaign).form(rule.form)
    return _render_form(request, session, principal, form=form, title=_obligation_heading(session, obligation, campaign.township_id),
                        township_id=campaign.township_id,
                        action=f"/obligations/{obligation_id}/form", data={}, sub=None, due_on=obligation.due_on, errors={})


@router.post("/obligations/{obligation_id}/form", response_model=None)
async def create_submission(obligation_id: DbId, request: Request, session: SessionDep, principal: PagePrincipal,
                            clock: ClockDep) -> HTMLResponse | RedirectResponse:
    """Save the first draft (or submit it at once) through ``tasks.review.create_submission``."""
    obligation, campaign = service.load_obligation(session, principal, obligation_id)  # 404 before anything else
    sent = await request.form()
    check_csrf(request, str(sent.get("csrf_token", "")))
    definition = definition_of(campaign)
    rule = definition.obligation(obligation.rule_key)
    if not rule.form:
        raise InvalidTransition("这个截止事项不需要填报材料")
    form = definition.form(rule.form)
    data = form_data(form, sent)
    submit = sent.get("action") == "submit"
    try:
        sub = service.create_submission(session, principal, clock.now(), obligation_id=obligation_id, subject=None,
                                        data=data, submit=submit)
        session.commit()
    except (ValidationFailed, InvalidTransition) as exc:  # incomplete, or its window not open yet: what was typed stays
        session.rollback()
        return _render_form(request, session, principal, form=form, title=_obligation_heading(session, obligation, campaign.township_id),
                            township_id=campaign.township_id, action=f"/obligations/{obligation_id}/form", data=data,
                            sub=None, due_on=obligation.due_on,
                            errors=field_errors(exc) if isinstance(exc, ValidationFailed) else {}, message=exc.detail,
                            status_code=exc.status)
    return flash_redirect(f"/submissions/{sub.id}", "已提交审核" if submit else "草稿已保存")


def _form_and_due_date(session: Session, sub: Submission) -> tuple[Form, dt.date | None]:
    """The form ``sub`` answers and the due date of its obligation (None for material without one)."""
    campaign = session.get(Campaign, sub.campaign_id)
    assert campaign is not None
    obligation = session.get(Obligation, sub.obligation_id) if sub.obligation_id else None
    return definition_of(campaign).form(sub.form_key), obligation.due_on if obligation else None


def _editable(session: Session, principal: Principal, submission_id: int) -> Submission:
    sub = service.load_submission(session, principal, submission_id)
    if not rules.may_submit(principal.actor, sub.township_id):
        raise PermissionDenied("只有本乡镇的填报人员可以修改")
    return sub


@router.get("/submissions/{submission_id}/edit", response_class=HTMLResponse, response_model=None)
def edit_submission_form(submission_id: DbId, request: Request, session: SessionDep,
                         principal: PagePrincipal) -> HTMLResponse | RedirectResponse:
    sub = _editable(session, principal, submission_id)
    if sub.status not in rules.EDITABLE:
        return flash_redirect(f"/submissions/{sub.id}", "这份材料已提交，当前状态不能修改", "error")
    form, due_on = _form_and_due_date(session, sub)
    return _render_form(request, session, principal, form=form, title=submission_reads.submission_heading(session, sub), township_id=sub.township_id,
                        action=f"/submissions/{sub.id}/edit", data=dict(sub.data), sub=sub,
                        due_on=due_on, errors={})


async def _attach_uploads(session: Session, principal: Principal, clock: ClockDep, sub: Submission, form: Form,
                          sent: FormData, data: dict[str, Any]) -> None:
    """Files chosen in the form's file fields become attachments, referenced by the field."""
    for field in form.fields:
        if field.type is not FieldType.FILE:
            continue
        for upload in sent.getlist(f"upload_{field.key}"):
            if not isinstance(upload, UploadFile) or not upload.filename:
                continue
            content = await upload.read(service.MAX_ATTACHMENT + 1)
            ctype = (upload.content_type or "").split(";")[0].strip().lower()
            magic = service.ALLOWED_TYPES.get(ctype)
            problem = ("附件不能超过 10 MB" if len(content) > service.MAX_ATTACHMENT else "附件是空文件" if not content
                       else "只接受 PDF、JPEG、PNG、DOCX、XLSX" if magic is None
                       else "附件内容与声明的类型不符" if not content.startswith(magic) else None)
            if problem:
                raise ValidationFailed(f"附件 {upload.filename}：{problem}",
                                       errors=[{"field": f"data.{field.key}", "message": f"{upload.filename}：{problem}"}])
            name = upload.filename.replace("/", "_").replace("\\", "_")[:255]
            attachment = service.add_attachment(session, principal, clock.now(), sub.id or 0, filename=name,
                                                content_type=ctype, content=content)
            data[field.key] = [*data.get(field.key, []), attachment.id]


@router.post("/submissions/{submission_id}/edit", response_model=None)
async def save_submission(submission_id: DbId, request: Request, session: SessionDep, principal: PagePrincipal,
                          clock: ClockDep) -> HTMLResponse | RedirectResponse:
    """Save the draft (``action=save``) or save and submit (``action=submit``)."""
    sub = service.load_submission(session, principal, submission_id)  # outside scope: 404 before anything else
    sent = await request.form()
    check_csrf(request, str(sent.get("csrf_token", "")))
    sub = _editable(session, principal, submission_id)
    form, due_on = _form_and_due_date(session, sub)
    data = form_data(form, sent)
    version = str(sent.get("version", ""))
    submit = sent.get("action") == "submit"
    try:
        await _attach_uploads(session, principal, clock, sub, form, sent, data)
        expected = int(version) if version.isdigit() else None
        if submit:
            service.save_and_submit(session, principal, clock.now(), submission_id, data, expected)
        else:
            service.update_draft(session, principal, clock.now(), submission_id, data, expected)
        session.commit()
    except ValidationFailed as exc:
        session.rollback()
        session.refresh(sub)
        return _render_form(request, session, principal, form=form, title=submission_reads.submission_heading(session, sub), township_id=sub.township_id,
                            action=f"/submissions/{sub.id}/edit", data=data, sub=sub,
                            due_on=due_on, errors=field_errors(exc),
                            message=exc.detail, status_code=422)
    except DubanError as exc:
        session.rollback()
        if exc.status == 404:
            raise
        return flash_redirect(f"/submissions/{submission_id}", f"操作未完成：{exc.detail}", "error")
    return flash_redirect(f"/submissions/{submission_id}", "已提交审核" if submit else "草稿已保存")


@router.get("/reviews", response_class=HTMLResponse, response_model=None)
def review_queue_page(request: Request, session: SessionDep, principal: PagePrincipal, clock: ClockDep,
                      page: int = 1) -> HTMLResponse:
    """Submissions waiting for my decision at my level and scope, soonest due date first."""
    items = submission_reads.review_queue(session, principal, now=clock.now())  # admins and reviewers only (403 for others)
    today = local_today(clock)
    for item in items:
        item["days_left"] = (item["due_on"] - today).days if item["due_on"] else None
    return render(request, "reviews.html", {"user": principal.user, "pager": paginate(items, page)})
