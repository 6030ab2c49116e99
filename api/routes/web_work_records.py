"""The work-record pages (003 §三(一), §四(三)(六)): ``/diaries`` (the 《工作日记》 with an entry form, usable on a
phone), ``/leader-visits`` (leaders' visits with each half-year's count) and ``/unit-reports`` (quarterly reports
to the 县委基层办, and who is late with the current quarter's)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from api.deps import ClockDep, PagePrincipal, SessionDep
from api.routes.web import HtmlErrorRoute, check_csrf, flash_redirect, paginate, render
from core.clock import china_date
from domain.calendar import quarter_of
from domain.errors import DubanError, ValidationFailed
from tasks import work_records as service
from tasks.calendar import load_work_calendar
from tasks.reads import work_records as reads

router = APIRouter(include_in_schema=False, route_class=HtmlErrorRoute)

Field = Annotated[str, Form(max_length=4000)]
WRITERS = ("admin", "submitter")


def _diaries(request: Request, session: SessionDep, principal: PagePrincipal, today: dt.date, page: int,
             failed: dict[str, Any] | None = None, status_code: int = 200) -> HTMLResponse:
    entries = reads.list_diaries(session, principal, limit=reads.EVERY).items
    return render(request, "diaries.html", {
        "user": principal.user, "pager": paginate(entries, page), "today": today.isoformat(),
        "can_write": principal.user.role in WRITERS, "failed": failed,
    }, status_code=status_code)


@router.get("/diaries", response_class=HTMLResponse, response_model=None)
def diaries_page(request: Request, session: SessionDep, principal: PagePrincipal, clock: ClockDep,
                 page: int = 1) -> HTMLResponse:
    return _diaries(request, session, principal, china_date(clock.now()), page)


def _entry(cadre: str, entry_date: str, place: str, work: str, help_given: str, results: str) -> dict[str, Any]:
    try:
        day = dt.date.fromisoformat(entry_date)
    except ValueError:
        raise ValidationFailed("请填写日记日期（年-月-日）", errors=[{"field": "entry_date", "message": "date"}]) from None
    if not (cadre.strip() and place.strip() and work.strip()):
        raise ValidationFailed("请填写驻村干部编码、地点和工作内容", errors=[{"field": "work", "message": "required"}])
    return {"cadre": cadre.strip(), "entry_date": day, "place": place.strip()[:200], "work": work.strip(),
            "help_given": help_given.strip() or None, "results": results.strip() or None}


@router.post("/diaries", response_model=None)
def add_diary(request: Request, session: SessionDep, principal: PagePrincipal, clock: ClockDep,
              cadre: Annotated[str, Form(max_length=32)] = "", entry_date: Annotated[str, Form(max_length=10)] = "",
              place: Annotated[str, Form(max_length=200)] = "", work: Field = "", help_given: Field = "",
              results: Field = "", csrf_token: Annotated[str, Form(max_length=100)] = "") -> HTMLResponse | RedirectResponse:
    check_csrf(request, csrf_token)
    principal.require_role(*WRITERS)
    now = clock.now()
    try:
        service.add_diary(session, principal, now, china_date(now),
                          _entry(cadre, entry_date, place, work, help_given, results))
        session.commit()
    except DubanError as exc:
        session.rollback()
        if exc.status in (401, 403, 404):
            raise
        return _diaries(request, session, principal, china_date(now), 1, status_code=exc.status,
                        failed={"detail": exc.detail, "cadre": cadre, "entry_date": entry_date, "place": place,
                                "work": work, "help_given": help_given, "results": results})
    return flash_redirect("/diaries", "工作日记已保存")


@router.get("/leader-visits", response_class=HTMLResponse, response_model=None)
def leader_visits_page(request: Request, session: SessionDep, principal: PagePrincipal, page: int = 1) -> HTMLResponse:
    visits = reads.list_visits(session, principal, limit=reads.EVERY).items
    return render(request, "leader_visits.html", {"user": principal.user, "pager": paginate(visits, page)})


@router.get("/unit-reports", response_class=HTMLResponse, response_model=None)
def unit_reports_page(request: Request, session: SessionDep, principal: PagePrincipal, clock: ClockDep,
                      page: int = 1) -> HTMLResponse:
    today = china_date(clock.now())
    reports = reads.list_unit_reports(session, principal, limit=reads.EVERY).items
    deadline = reads.overdue_reporters(session, principal, today.year, quarter_of(today), today,
                                       load_work_calendar(session))
    return render(request, "unit_reports.html", {"user": principal.user, "pager": paginate(reports, page),
                                                 "deadline": deadline})
