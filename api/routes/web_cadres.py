"""The cadres page (驻村干部): dispatching units, cadres and leaders (003 三(一)(二)); administrators import
cadres or leaders from Excel here, all rows or none."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse

from api.deps import ClockDep, PagePrincipal, SessionDep
from api.routes.web import HtmlErrorRoute, check_csrf, flash_redirect, paginate, render
from domain.errors import DubanError
from tasks import ledger as service
from tasks.ledger.people import WHAT_LABEL
from tasks.reads import cadres as reads

router = APIRouter(include_in_schema=False, route_class=HtmlErrorRoute)


def _page(request: Request, session: SessionDep, principal: PagePrincipal, page: int,
          failed: dict[str, object] | None = None, status_code: int = 200) -> HTMLResponse:
    people = reads.people_overview(session, principal)
    return render(request, "cadres.html", {
        "user": principal.user, "units": people["units"], "pager": paginate(people["cadres"], page),
        "leaders": people["leaders"], "can_import": principal.user.role == "admin", "failed": failed,
        "max_mb": service.MAX_UPLOAD_BYTES // (1024 * 1024),
    }, status_code=status_code)


@router.get("/cadres", response_class=HTMLResponse, response_model=None)
def cadres_page(request: Request, session: SessionDep, principal: PagePrincipal, page: int = 1) -> HTMLResponse:
    return _page(request, session, principal, page)


@router.post("/cadres/import", response_model=None)
async def import_people(
    request: Request, session: SessionDep, principal: PagePrincipal, clock: ClockDep,
    file: Annotated[UploadFile, File()], what: Annotated[Literal["cadre", "leader"], Form()] = "cadre",
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> HTMLResponse | RedirectResponse:
    check_csrf(request, csrf_token)
    principal.require_role("admin")
    content = await file.read(service.MAX_UPLOAD_BYTES + 1)
    try:
        result = service.import_people_xlsx(session, principal, clock.now(), what, content, file.filename)
        session.commit()
    except DubanError as exc:
        session.rollback()
        if exc.status in (401, 403, 404):
            raise
        return _page(request, session, principal, 1, status_code=exc.status, failed={
            "detail": exc.detail, "errors": [e for e in exc.errors if "row" in e]})
    return flash_redirect("/cadres", f"{WHAT_LABEL[what]}导入成功：共 {result['rows']} 行，新增 {result['created']} 名、"
                                     f"更新 {result['updated']} 名")
