"""The 督办台 page (``tasks.desk``): the office assigns an item (to some townships or all), sees every recipient with
its light (filterable), issues a 三色督办单 and decides extension requests; a township signs for its items, asks
for more time, and its reviewer passes requests on. Bulletins and scores are listed below."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError
from sqlmodel import Session

from api.deps import ClockDep, PagePrincipal, SessionDep
from api.routes.web import HtmlErrorRoute, check_csrf, flash_redirect, render
from api.types import DbId
from core.clock import Clock, local_today
from domain.errors import DubanError, ValidationFailed
from domain.vocabulary import ExtensionStatus, ItemFeedback, ItemReview, ItemSource, Light, UrgeColour
from models.desk import BulletinDraftIn, BulletinPublishIn, ExtensionIn, ItemIn, UrgeIn
from tasks.accounts import Principal
from tasks.calendar import load_work_calendar
from tasks.desk import bulletins, extensions, items, signing, urges
from tasks.desk.records import recipient_rows
from tasks.reads import desk as reads
from tasks.reads import org_units as org_unit_reads

router = APIRouter(include_in_schema=False, route_class=HtmlErrorRoute)
Text = Annotated[str, Form(max_length=4000)]


def _page(request: Request, session: Session, principal: Principal, clock: Clock, *, light: str | None = None,
          error: str | None = None, status_code: int = 200) -> HTMLResponse:
    today = local_today(clock)
    light = light if light in Light.labels() else None
    rows = recipient_rows(session, principal, today, load_work_calendar(session), light=light)
    user = principal.user
    return render(request, "desk.html", {
        "user": user, "rows": rows, "light": light, "lights": Light.labels(), "error": error, "today": today,
        "is_admin": user.role == "admin", "is_liaison": user.role == "submitter",
        "waiting": reads.waiting_extensions(session, principal),
        "unsigned": [u for u in signing.waiting(session, principal, today) if not u["item"]], "bulletins": reads.list_bulletins(session, principal),
        "scores": reads.scores(session, principal, today.year, today),
        "townships": org_unit_reads.townships(session, principal) if user.role == "admin" else [],
        "sources": ItemSource.labels(), "feedbacks": ItemFeedback.labels(), "reviews": ItemReview.labels(),
        "colours": UrgeColour.labels(),
    }, status_code=status_code)


def _act(request: Request, session: Session, principal: Principal, clock: Clock,
         act: Callable[[], str]) -> HTMLResponse | RedirectResponse:
    """Carry out a form's action and commit, then back to the desk with its message; a refusal rolls back and
    shows the desk again with the reason, under the refusal's status."""
    try:
        message = act()
        session.commit()
    except ValidationError as exc:
        session.rollback()
        detail = "；".join(f"{'.'.join(str(p) for p in e['loc'])}：{e['msg']}" for e in exc.errors())
        return _page(request, session, principal, clock, error=f"请检查填写的内容：{detail}", status_code=422)
    except DubanError as exc:
        session.rollback()
        return _page(request, session, principal, clock, error=exc.detail, status_code=exc.status)
    return flash_redirect("/desk", message)


def _date(value: str, label: str) -> dt.date | None:
    if not value.strip():
        return None
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise ValidationFailed(f"{label}应为日期，例如 2027-03-20") from None


@router.get("/desk", response_class=HTMLResponse, response_model=None)
def desk_page(request: Request, session: SessionDep, principal: PagePrincipal, clock: ClockDep,
              light: str | None = None) -> HTMLResponse:
    return _page(request, session, principal, clock, light=light)


@router.post("/desk/items", response_model=None)
def assign(request: Request, session: SessionDep, principal: PagePrincipal, clock: ClockDep,
           csrf_token: Annotated[str, Form()] = "", title: Text = "", source: Text = "", document_number: Text = "",
           requirement: Text = "", due_on: Text = "", due_workdays: Text = "", feedback: Text = "once",
           review: Text = "township_county", townships: Annotated[list[str] | None, Form()] = None,
           ) -> HTMLResponse | RedirectResponse:
    check_csrf(request, csrf_token)

    def act() -> str:
        principal.require_role("admin")
        body = ItemIn.model_validate({
            "title": title, "source": source, "document_number": document_number or None, "requirement": requirement,
            "townships": townships or None, "all_townships": not townships, "due_on": _date(due_on, "办理期限"),
            "due_workdays": int(due_workdays) if due_workdays.strip().isdigit() else None, "feedback": feedback,
            "review": review})
        item = items.assign(session, principal, clock.now(), body)
        return f"已交办“{item.title}”"

    return _act(request, session, principal, clock, act)


@router.post("/desk/recipients/{recipient_id}/acknowledge", response_model=None)
def acknowledge(recipient_id: DbId, request: Request, session: SessionDep, principal: PagePrincipal, clock: ClockDep,
                csrf_token: Annotated[str, Form()] = "") -> HTMLResponse | RedirectResponse:
    items.load_recipient(session, principal, recipient_id)  # outside scope: 404 before anything else
    check_csrf(request, csrf_token)

    def act() -> str:
        items.acknowledge(session, principal, clock.now(), recipient_id)
        return "已签收"

    return _act(request, session, principal, clock, act)


@router.post("/desk/recipients/{recipient_id}/extensions", response_model=None)
def request_extension(recipient_id: DbId, request: Request, session: SessionDep, principal: PagePrincipal,
                      clock: ClockDep, csrf_token: Annotated[str, Form()] = "", reason: Text = "", progress: Text = "",
                      proposed_on: Text = "") -> HTMLResponse | RedirectResponse:
    recipient = items.load_recipient(session, principal, recipient_id)
    check_csrf(request, csrf_token)

    def act() -> str:
        extensions.require_requester(principal, recipient)
        body = ExtensionIn.model_validate({"reason": reason, "progress": progress,
                                           "proposed_on": _date(proposed_on, "申请延期至")})
        extensions.request_extension(session, principal, clock.now(), recipient_id, body)
        return "延期申请已提交，等待乡镇党委审核"

    return _act(request, session, principal, clock, act)


@router.post("/desk/extensions/{request_id}/decision", response_model=None)
def decide_extension(request_id: DbId, request: Request, session: SessionDep, principal: PagePrincipal,
                     clock: ClockDep, csrf_token: Annotated[str, Form()] = "", decision: Text = "",
                     comment: Text = "", version: Annotated[int, Form()] = 0) -> HTMLResponse | RedirectResponse:
    waiting = extensions.load_request(session, principal, request_id)
    check_csrf(request, csrf_token)

    def act() -> str:
        extensions.require_decider(principal, waiting)
        if decision not in ("approve", "refuse"):
            raise ValidationFailed("请选择同意或不同意")
        done = extensions.decide_extension(session, principal, clock.now(), request_id, decision=decision,
                                           comment=comment or None, version=version or None)
        return f"延期申请：{ExtensionStatus.label_of(done.status)}"

    return _act(request, session, principal, clock, act)


@router.post("/desk/recipients/{recipient_id}/urges", response_model=None)
def issue_urge(recipient_id: DbId, request: Request, session: SessionDep, principal: PagePrincipal, clock: ClockDep,
               csrf_token: Annotated[str, Form()] = "", colour: Text = "",
               note: Text = "") -> HTMLResponse | RedirectResponse:
    items.load_recipient(session, principal, recipient_id)
    check_csrf(request, csrf_token)

    def act() -> str:
        principal.require_role("admin")
        urge = urges.issue_urge(session, principal, clock.now(), recipient_id, UrgeIn.model_validate(
            {"colour": colour, "note": note}))
        return f"已发出{UrgeColour.label_of(urge.colour)}"

    return _act(request, session, principal, clock, act)


@router.post("/desk/bulletins", response_model=None)
def draft_bulletin(request: Request, session: SessionDep, principal: PagePrincipal, clock: ClockDep,
                   csrf_token: Annotated[str, Form()] = "", month: Text = "") -> HTMLResponse | RedirectResponse:
    check_csrf(request, csrf_token)

    def act() -> str:
        principal.require_role("admin")
        year, _, number = month.partition("-")
        if not (year.isascii() and year.isdigit() and number.isascii() and number.isdigit()):
            raise ValidationFailed("请选择通报的月份，例如 2027-03")
        body = BulletinDraftIn.model_validate({"year": int(year), "month": int(number)})
        bulletin = bulletins.draft(session, body.year, body.month, clock.now(), principal)
        return f"已生成“{bulletin.title}”草稿"

    return _act(request, session, principal, clock, act)


@router.post("/desk/bulletins/{bulletin_id}/publish", response_model=None)
def publish_bulletin(bulletin_id: DbId, request: Request, session: SessionDep, principal: PagePrincipal,
                     clock: ClockDep, csrf_token: Annotated[str, Form()] = "", intro: Text = "", best: Text = "",
                     worst: Text = "", version: Annotated[int, Form()] = 0) -> HTMLResponse | RedirectResponse:
    bulletins.load_bulletin(session, principal, bulletin_id)
    check_csrf(request, csrf_token)

    def names(text: str) -> list[str]:
        return [n.strip() for n in text.replace("，", "、").replace(",", "、").split("、") if n.strip()]

    def act() -> str:
        principal.require_role("admin")
        body = BulletinPublishIn.model_validate({"version": version or None, "intro": intro or None,
                                                 "best": names(best), "worst": names(worst)})
        bulletin = bulletins.publish(session, principal, clock.now(), bulletin_id, body)
        return f"已印发“{bulletin.title}”"

    return _act(request, session, principal, clock, act)


@router.post("/desk/signing/{obligation_id}/acknowledge", response_model=None)
def acknowledge_obligation(obligation_id: DbId, request: Request, session: SessionDep, principal: PagePrincipal,
                           clock: ClockDep, csrf_token: Annotated[str, Form()] = "") -> HTMLResponse | RedirectResponse:
    signing.load_signing(session, principal, obligation_id)  # outside scope: 404 before anything else
    check_csrf(request, csrf_token)

    def act() -> str:
        signing.acknowledge_obligation(session, principal, clock.now(), obligation_id)
        return "已签收"

    return _act(request, session, principal, clock, act)
