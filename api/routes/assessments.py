"""The year-end assessment (年度考核) per township: its targets, escalations, cases, rating consequences and overrides."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from api.deps import CurrentPrincipal, SessionDep
from api.routes.problems import READ
from api.types import CleanStr
from tasks.reads import assessments as reads

router = APIRouter(prefix="/api/v1/assessments", tags=["assessments"], responses=READ)

Year = Annotated[int, Query(ge=2000, le=2100, description="the campaign year assessed")]


@router.get("", summary="The year's assessment of each township the caller may see, a line each")
def list_assessments(session: SessionDep, principal: CurrentPrincipal, year: Year) -> dict[str, Any]:
    """Per township: how many targets are met, not met or without data, the escalations and accountability cases
    of its campaigns of the year, the rating cap those cases carry and the gate-check overrides."""
    return reads.list_assessments(session, principal, year=year)


@router.get("/{township}/{year}", summary="One township's year-end assessment (年度考核)")
def read_assessment(
    session: SessionDep,
    principal: CurrentPrincipal,
    township: Annotated[CleanStr, Path(max_length=32, description="township code")],
    year: Annotated[int, Path(ge=2000, le=2100, description="the campaign year assessed")],
) -> dict[str, Any]:
    """Every target of the township's campaigns of ``year`` with its status, value, shortfalls, evidence and source;
    the escalations and accountability cases of those campaigns; ``rating`` (the cap the decided cases put on the
    year's rating, or null) and ``overrides`` (gate checks passed over by an administrator, with the reason)."""
    return reads.get_assessment(session, principal, township, year)
