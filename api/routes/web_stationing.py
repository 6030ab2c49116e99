"""The stationing page (驻村安排): the three-year programmes and each year's 选派安排表 by township, its problems
highlighted, the county's review buttons and the township liaison's arrivals form (003 §三(二), §四(五))."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from api.deps import ClockDep, PagePrincipal, SessionDep
from api.routes.web import HtmlErrorRoute, check_csrf, flash_redirect, render
from core.clock import china_date
from domain.errors import NotFound, ValidationFailed
from models.stationing_io import ArrivalIn
from tasks import stationing as service
from tasks.accounts import Principal
from tasks.reads import stationing as reads

router = APIRouter(include_in_schema=False, route_class=HtmlErrorRoute)


def _may_decide(principal: Principal, plan: dict[str, Any]) -> bool:
    user = principal.user
    county = user.role == "admin" or (user.role == "reviewer" and user.level == "county")
    return county and plan["status"] == "submitted" and plan["submitted_by_id"] != user.id


@router.get("/stationing", response_class=HTMLResponse, response_model=None)
def stationing_page(request: Request, session: SessionDep, principal: PagePrincipal,
                    clock: ClockDep) -> HTMLResponse:
    today = china_date(clock.now())
    programmes = reads.list_programmes(session, principal, today=today).items
    return render(request, "stationing.html", {"user": principal.user, "programmes": programmes, "plan": None})


@router.get("/stationing/{year}", response_class=HTMLResponse, response_model=None)
def plan_page(year: int, request: Request, session: SessionDep, principal: PagePrincipal,
              clock: ClockDep) -> HTMLResponse:
    today = china_date(clock.now())
    try:
        plan = reads.plan_detail(session, principal, year, today=today)
    except NotFound:
        plan = None
    townships: dict[str, list[dict[str, Any]]] = {}
    for team in plan["teams"] if plan else []:
        townships.setdefault(team["township_name"], []).append(team)
    problems = {p["field"] for p in plan["problems"]} if plan else set()
    return render(request, "stationing.html", {
        "user": principal.user, "programmes": [], "plan": plan, "year": year, "townships": townships,
        "problem_fields": problems, "today": today,
        "may_submit": plan is not None and principal.user.role == "admin" and plan["status"] in ("draft", "returned"),
        "may_decide": plan is not None and _may_decide(principal, plan),
        "may_arrive": plan is not None and principal.user.role in ("admin", "submitter")
        and plan["status"] == "approved",
    })


def _act(session: SessionDep, year: int, action: Callable[[], Any], done: str) -> RedirectResponse:
    """Run the action and commit; a refusal (its Chinese message) shows as the error page with its status."""
    action()
    session.commit()
    return flash_redirect(f"/stationing/{year}", done)


@router.post("/stationing/{year}/submit", response_model=None)
def submit(year: int, request: Request, session: SessionDep, principal: PagePrincipal, clock: ClockDep,
           version: Annotated[int | None, Form()] = None,
           csrf_token: Annotated[str, Form(max_length=100)] = "") -> RedirectResponse:
    check_csrf(request, csrf_token)
    return _act(session, year, lambda: service.submit_plan(session, principal, clock.now(), year, version),
                f"{year}年选派安排表已提交县委组织部审核")


@router.post("/stationing/{year}/decision", response_model=None)
def decide(year: int, request: Request, session: SessionDep, principal: PagePrincipal, clock: ClockDep,
           decision: Annotated[Literal["approve", "return"], Form()] = "approve",
           note: Annotated[str, Form(max_length=2000)] = "", version: Annotated[int | None, Form()] = None,
           csrf_token: Annotated[str, Form(max_length=100)] = "") -> RedirectResponse:
    check_csrf(request, csrf_token)
    return _act(session, year, lambda: service.decide_plan(
        session, principal, clock.now(), year, decision=decision, note=note.strip() or None, version=version),
        f"{year}年选派安排表已{'批准' if decision == 'approve' else '退回修改'}")


@router.post("/stationing/{year}/arrivals", response_model=None)
def arrive(year: int, request: Request, session: SessionDep, principal: PagePrincipal, clock: ClockDep,
           cadre: Annotated[str, Form(max_length=32)] = "", arrived_on: Annotated[dt.date | None, Form()] = None,
           csrf_token: Annotated[str, Form(max_length=100)] = "") -> RedirectResponse:
    check_csrf(request, csrf_token)
    principal.require_role("admin", "submitter")
    if not cadre or arrived_on is None:
        raise ValidationFailed("请选择驻村干部并填写到位日期", errors=[{"field": "arrived_on", "message": "required"}])
    body = ArrivalIn(cadre=cadre, arrived_on=arrived_on)
    return _act(session, year, lambda: service.record_arrival(session, principal, clock.now(), year, body),
                f"已登记 {cadre} 于{arrived_on:%Y年%-m月%-d日}到位")
