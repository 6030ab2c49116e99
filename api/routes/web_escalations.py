"""Web pages for escalations (督办) and accountability cases (问责), zh-CN."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlmodel import Session

from api.deps import ClockDep, PagePrincipal, SessionDep
from api.routes.web import HtmlErrorRoute, check_csrf, flash_redirect, paginate, render
from api.types import CleanStr, DbId
from domain import accountability as case_rules
from domain.errors import DubanError, ValidationFailed
from tasks import accountability as cases
from tasks import escalation as service
from tasks.accounts import Principal
from tasks.reads import cases as case_reads
from tasks.reads import escalations as reads

router = APIRouter(include_in_schema=False, route_class=HtmlErrorRoute)

STATUS_FILTERS = {"live": "督办中（含已升级）", "open": "督办中", "resolved": "已办结", "confirmed": "已立案问责",
                  "dismissed": "核实后撤销"}


def _error(exc: DubanError) -> str:
    errors = getattr(exc, "errors", None) or []
    details = "；".join(str(e.get("message")) for e in errors if isinstance(e, dict) and e.get("message"))
    return exc.detail + (f"（{details}）" if details and details not in exc.detail else "")


@router.get("/escalations", response_class=HTMLResponse, response_model=None)
def escalations_page(request: Request, session: SessionDep, principal: PagePrincipal, status: str = "live",
                     township: CleanStr | None = None, page: int = 1) -> HTMLResponse:
    status = status if status in STATUS_FILTERS or status == "all" else "live"
    rows = reads.find_escalations(session, principal, status=None if status == "all" else status,
                                  township=township or None)
    pager = paginate(rows, page)
    return render(request, "escalations.html", {
        "user": principal.user, "items": reads.present(session, pager["rows"]), "pager": pager,
        "ledger": reads.escalation_ledger(session, principal), "status": status, "statuses": STATUS_FILTERS,
        "township": township or "", "cases": case_reads.list_cases(session, principal, limit=20).items,
    })


def _detail_page(request: Request, principal: Principal, template: str, context: dict[str, Any], error: str | None,
                 status_code: int) -> HTMLResponse:
    return render(request, template, {
        "user": principal.user, "error": error, "is_admin": principal.user.role == "admin", **context,
    }, status_code=status_code)


def _escalation_page(request: Request, session: Session, principal: Principal, escalation_id: int,
                     error: str | None = None, status_code: int = 200) -> HTMLResponse:
    item = reads.get_escalation(session, principal, escalation_id)
    return _detail_page(request, principal, "escalation.html", {
        "e": item, "live": item["status"] in service.LIVE,
        "can_interview": item["level_key"] == "interview" or (item["document"] or {}).get("kind") == "interview_notice",
    }, error, status_code)


def _case_page(request: Request, session: Session, principal: Principal, case_id: int, error: str | None = None,
               status_code: int = 200) -> HTMLResponse:
    item = case_reads.get_case(session, principal, case_id)
    return _detail_page(request, principal, "case.html", {"c": item, "decisions": case_rules.DECISIONS}, error,
                        status_code)


def _act(session: Session, act: Callable[[], tuple[str, str]],
         again: Callable[[str, int], HTMLResponse]) -> HTMLResponse | RedirectResponse:
    """Carry out a form's action and commit, then redirect to where ``act`` says with its message; a refusal
    rolls back and shows the page ``again`` with the reason, under the refusal's status."""
    try:
        url, message = act()
        session.commit()
    except DubanError as exc:
        session.rollback()
        return again(_error(exc), exc.status)
    return flash_redirect(url, message)


@router.get("/escalations/{escalation_id}", response_class=HTMLResponse, response_model=None)
def escalation_page(escalation_id: DbId, request: Request, session: SessionDep,
                    principal: PagePrincipal) -> HTMLResponse:
    return _escalation_page(request, session, principal, escalation_id)


@router.post("/escalations/{escalation_id}/interview", response_model=None)
def escalation_interview(escalation_id: DbId, request: Request, session: SessionDep, principal: PagePrincipal,
                         clock: ClockDep, csrf_token: Annotated[str, Form()] = "",
                         interview_on: Annotated[str, Form()] = "", place: Annotated[str, Form()] = "",
                         outcome: Annotated[str, Form()] = "",
                         version: Annotated[int, Form()] = 0) -> HTMLResponse | RedirectResponse:
    service.load(session, principal, escalation_id)  # outside scope: 404 before anything else
    check_csrf(request, csrf_token)

    def record() -> tuple[str, str]:
        try:
            day = dt.date.fromisoformat(interview_on)
        except ValueError:
            raise ValidationFailed("请填写约谈日期（年-月-日）", errors=[{"field": "interview_on", "message": "date"}]) from None
        service.record_interview(session, principal, clock.now(), escalation_id, interview_on=day,
                                 place=place.strip() or None, outcome=outcome.strip() or None, version=version)
        return f"/escalations/{escalation_id}", "约谈情况已登记"

    return _act(session, record, partial(_escalation_page, request, session, principal, escalation_id))


@router.post("/escalations/{escalation_id}/check", response_model=None)
def escalation_check(escalation_id: DbId, request: Request, session: SessionDep, principal: PagePrincipal,
                     clock: ClockDep, csrf_token: Annotated[str, Form()] = "", outcome: Annotated[str, Form()] = "",
                     note: Annotated[str, Form()] = "", version: Annotated[int, Form()] = 0) -> HTMLResponse | RedirectResponse:
    """The county's check: confirm (open a case) or dismiss."""
    service.load(session, principal, escalation_id)
    check_csrf(request, csrf_token)

    def check() -> tuple[str, str]:
        if outcome == "confirm":
            case = service.confirm(session, principal, clock.now(), escalation_id, note=note, version=version)
            return f"/cases/{case.id}", "已立案问责，请作出处理决定"
        if outcome != "dismiss":
            raise ValidationFailed("请选择核实结论", errors=[{"field": "outcome", "message": "confirm 或 dismiss"}])
        service.dismiss(session, principal, clock.now(), escalation_id, note=note, version=version)
        return f"/escalations/{escalation_id}", "已核实撤销"

    return _act(session, check, partial(_escalation_page, request, session, principal, escalation_id))


@router.get("/cases/{case_id}", response_class=HTMLResponse, response_model=None)
def case_page(case_id: DbId, request: Request, session: SessionDep,
              principal: PagePrincipal) -> HTMLResponse:
    return _case_page(request, session, principal, case_id)


@router.post("/cases/{case_id}/decision", response_model=None)
def case_decision(case_id: DbId, request: Request, session: SessionDep, principal: PagePrincipal, clock: ClockDep,
                  csrf_token: Annotated[str, Form()] = "", decision: Annotated[str, Form()] = "",
                  note: Annotated[str, Form()] = "", suspension_days: Annotated[str, Form()] = "",
                  version: Annotated[int, Form()] = 0) -> HTMLResponse | RedirectResponse:
    cases.load(session, principal, case_id)
    check_csrf(request, csrf_token)
    try:
        days = int(suspension_days) if suspension_days.strip() else None
    except ValueError:
        days = -1

    def decide() -> tuple[str, str]:
        cases.decide(session, principal, clock.now(), case_id, decision=decision, note=note, rating_year=None,
                     suspension_days=days, version=version)
        return f"/cases/{case_id}", "问责决定已登记"

    return _act(session, decide, partial(_case_page, request, session, principal, case_id))


@router.post("/cases/{case_id}/close", response_model=None)
def case_close(case_id: DbId, request: Request, session: SessionDep, principal: PagePrincipal, clock: ClockDep,
               csrf_token: Annotated[str, Form()] = "", note: Annotated[str, Form()] = "",
               version: Annotated[int, Form()] = 0) -> HTMLResponse | RedirectResponse:
    cases.load(session, principal, case_id)
    check_csrf(request, csrf_token)

    def close() -> tuple[str, str]:
        cases.close(session, principal, clock.now(), case_id, note=note, version=version)
        return f"/cases/{case_id}", "问责案件已结案"

    return _act(session, close, partial(_case_page, request, session, principal, case_id))
