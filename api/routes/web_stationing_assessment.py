"""Web pages of the stationing programme's assessment and acceptance (003 四(五)), zh-CN and read-only: the
cadres' 工作鉴定 of a year, and a programme's graded acceptance per township and village. The figures come
from ``tasks.reads.stationing_assessment``, scoped like the API."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from api.deps import ClockDep, PagePrincipal, SessionDep
from api.routes.web import HtmlErrorRoute, paginate, render
from api.types import DbId
from core.clock import local_today
from tasks.reads import stationing_assessment as reads

router = APIRouter(include_in_schema=False, route_class=HtmlErrorRoute)


@router.get("/cadre-assessments", response_class=HTMLResponse, response_model=None)
def cadre_assessments_page(request: Request, session: SessionDep, principal: PagePrincipal, clock: ClockDep,
                           year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
                           page: Annotated[int, Query(ge=1, le=100_000)] = 1) -> HTMLResponse:
    """The 工作鉴定 of the year (by default the current year) the caller may see."""
    year = year or local_today(clock).year
    items = reads.list_cadre_assessments(session, principal, year=year, limit=reads.EVERY).items
    return render(request, "cadre_assessments.html", {"user": principal.user, "year": year,
                                                      "pager": paginate(items, page)})


@router.get("/programmes/{programme_id}/acceptance", response_class=HTMLResponse, response_model=None)
def acceptance_page(request: Request, session: SessionDep, principal: PagePrincipal,
                    programme_id: DbId) -> HTMLResponse:
    return render(request, "acceptance.html", {"user": principal.user,
                                               **reads.acceptance_overview(session, principal, programme_id)})
