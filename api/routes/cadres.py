"""Cadres stationed in villages (驻村干部) and the leaders who contact a village (挂点领导), 003 三(一)(二)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.deps import ClockDep, CurrentPrincipal, SessionDep
from api.routes.problems import READ, WRITE
from api.types import CleanStr, DbOffset
from models import CadreIn, LeaderIn
from tasks import cadres as service
from tasks.reads import cadres as reads

router = APIRouter(prefix="/api/v1", tags=["cadres"], responses=READ)

Limit = Annotated[int, Query(ge=1, le=1000)]
Code = Annotated[CleanStr | None, Query(max_length=32)]


def _save(session: SessionDep, principal: CurrentPrincipal, clock: ClockDep, what: str,
          body: CadreIn | LeaderIn) -> dict[str, Any]:
    result = service.save_person(session, principal, clock.now(), what, body.model_dump(mode="json"))
    session.commit()
    return result


@router.get("/cadres", summary="Cadres with their dispatching unit (a township sees the cadres it sends)")
def list_cadres(session: SessionDep, principal: CurrentPrincipal, unit: Code = None, limit: Limit = 200,
                offset: Annotated[DbOffset, Query()] = 0) -> dict[str, Any]:
    return reads.list_cadres(session, principal, unit=unit, limit=limit, offset=offset).as_dict()


@router.post("/cadres", summary="Create or update a cadre by code (administrators)", responses=WRITE)
def save_cadre(body: CadreIn, session: SessionDep, principal: CurrentPrincipal, clock: ClockDep) -> dict[str, Any]:
    return _save(session, principal, clock, "cadre", body)


@router.get("/leaders", summary="Leaders and the village each contacts (每人包一个村)")
def list_leaders(session: SessionDep, principal: CurrentPrincipal, township: Code = None, limit: Limit = 200,
                 offset: Annotated[DbOffset, Query()] = 0) -> dict[str, Any]:
    return reads.list_leaders(session, principal, township=township, limit=limit, offset=offset).as_dict()


@router.post("/leaders", summary="Create or update a leader by code (administrators)", responses=WRITE)
def save_leader(body: LeaderIn, session: SessionDep, principal: CurrentPrincipal, clock: ClockDep) -> dict[str, Any]:
    return _save(session, principal, clock, "leader", body)
