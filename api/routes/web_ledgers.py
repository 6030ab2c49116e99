"""The ledgers page (台账): download every ledger the user may see as Excel, and upload the org hierarchy
(administrators) or a campaign's 一村一策 plans (the township's submitters, administrators) from Excel."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlmodel import Session

from api.deps import ClockDep, PagePrincipal, SessionDep
from api.routes.web import HtmlErrorRoute, check_csrf, flash_redirect, render
from core.clock import local_today
from domain.errors import DubanError
from tasks import ledger as service
from tasks.accounts import Principal
from tasks.reads import campaigns as campaign_reads
from tasks.registry import get_definitions

router = APIRouter(include_in_schema=False, route_class=HtmlErrorRoute)


def _choice(campaign: dict[str, Any]) -> str:
    return f"{campaign['year']}年 {campaign['township_name']} {campaign['definition_name']}"


def _plan_campaigns(session: Session, principal: Principal) -> list[dict[str, Any]]:
    """The campaigns whose 一村一策 plans this user may import (newest first)."""
    if principal.user.role not in ("admin", "submitter"):
        return []
    with_plans = [k for k, d in get_definitions().items() if any(f.key == service.PLAN_FORM for f in d.forms)]
    return [{"id": c["id"], "label": f"{_choice(c)}（编号 {c['id']}）"}
            for c in campaign_reads.campaign_choices(session, principal, definitions=with_plans)]


def _page(request: Request, session: Session, principal: Principal, clock: ClockDep, *, year: int | None = None,
          result: dict[str, Any] | None = None, status_code: int = 200) -> HTMLResponse:
    ledgers = []
    for ledger in service.visible_ledgers(principal):
        query = f"?year={year}" if year is not None and "year" in ledger.filters else ""
        ledgers.append({"name": ledger.name, "title": ledger.title, "description": ledger.description,
                        "url": f"/api/v1/ledgers/{ledger.name}.xlsx{query}",
                        "by_campaign": "campaign" in ledger.filters and "year" not in ledger.filters})
    campaigns = [{"id": c["id"], "label": _choice(c)} for c in campaign_reads.campaign_choices(session, principal)]
    return render(request, "ledgers.html", {
        "user": principal.user, "ledgers": ledgers, "year": year, "this_year": local_today(clock).year,
        "campaigns": campaigns, "plan_campaigns": _plan_campaigns(session, principal),
        "can_import_org": principal.user.role == "admin", "result": result,
        "max_mb": service.MAX_UPLOAD_BYTES // (1024 * 1024),
    }, status_code=status_code)


@router.get("/ledgers", response_class=HTMLResponse, response_model=None)
def ledgers_page(request: Request, session: SessionDep, principal: PagePrincipal, clock: ClockDep,
                 year: int | None = None) -> HTMLResponse:
    if year is not None and not 1900 <= year <= 2200:
        year = None
    return _page(request, session, principal, clock, year=year)


def _failed(request: Request, session: Session, principal: Principal, clock: ClockDep, what: str,
            exc: DubanError) -> HTMLResponse:
    session.rollback()
    if exc.status in (401, 403, 404):
        raise exc  # the error page, as for any page
    rows = [e for e in exc.errors if "row" in e]
    return _page(request, session, principal, clock, status_code=exc.status, result={
        "ok": False, "what": what, "detail": exc.detail, "errors": rows,
    })


@router.post("/ledgers/org-units", response_model=None)
async def upload_org_units(
    request: Request, session: SessionDep, principal: PagePrincipal, clock: ClockDep,
    file: Annotated[UploadFile, File()], csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> HTMLResponse | RedirectResponse:
    check_csrf(request, csrf_token)
    principal.require_role("admin")
    content = await file.read(service.MAX_UPLOAD_BYTES + 1)
    try:
        result = service.import_org_units_xlsx(session, principal, clock.now(), content, file.filename)
        session.commit()
    except DubanError as exc:
        return _failed(request, session, principal, clock, "组织", exc)
    return flash_redirect("/ledgers", f"组织导入成功：共 {result['rows']} 行，新增 {result['created']} 个、"
                                      f"更新 {result['updated']} 个组织单位")


@router.post("/ledgers/rectification-plans", response_model=None)
async def upload_rectification_plans(
    request: Request, session: SessionDep, principal: PagePrincipal, clock: ClockDep,
    file: Annotated[UploadFile, File()], campaign_id: Annotated[int, Form(ge=1)],
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> HTMLResponse | RedirectResponse:
    check_csrf(request, csrf_token)
    content = await file.read(service.MAX_UPLOAD_BYTES + 1)
    try:
        result = service.import_rectification_plans_xlsx(session, principal, clock.now(), campaign_id, content,
                                                         file.filename)
        session.commit()
    except DubanError as exc:
        return _failed(request, session, principal, clock, "“一村一策”方案", exc)
    return flash_redirect("/ledgers", f"“一村一策”方案导入成功：共 {result['rows']} 个村，新建草稿 {result['created']} 份、"
                                      f"更新 {result['updated']} 份（均为草稿，请到待办中逐村核对后提交）")
