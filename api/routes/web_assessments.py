"""Web pages of the year-end assessment (年度考核), zh-CN: the year's townships, and one township's targets,
escalations, accountability cases, rating consequences and overrides. Read-only; the figures come from
``tasks.reads.assessments``, scoped like the API."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse

from api.deps import ClockDep, PagePrincipal, SessionDep
from api.routes.web import HtmlErrorRoute, render
from api.types import CleanStr
from core.clock import local_today
from tasks.reads import assessments as reads

router = APIRouter(include_in_schema=False, route_class=HtmlErrorRoute)


@router.get("/assessments", response_class=HTMLResponse, response_model=None)
def assessments_page(request: Request, session: SessionDep, principal: PagePrincipal, clock: ClockDep,
                     year: Annotated[int | None, Query(ge=2000, le=2100)] = None) -> HTMLResponse:
    """The year's townships (by default the newest campaign year of the caller's townships)."""
    years = reads.assessment_years(session, principal)
    year = year or (years[0] if years else local_today(clock).year)
    view = reads.list_assessments(session, principal, year=year)
    return render(request, "assessments.html", {"user": principal.user, "years": years, **view})


@router.get("/assessments/{township}/{year}", response_class=HTMLResponse, response_model=None)
def assessment_page(request: Request, session: SessionDep, principal: PagePrincipal,
                    township: Annotated[CleanStr, Path(max_length=32)],
                    year: Annotated[int, Path(ge=2000, le=2100)]) -> HTMLResponse:
    return render(request, "assessment.html", {"user": principal.user,
                                               "a": reads.get_assessment(session, principal, township, year)})
