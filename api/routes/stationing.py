"""The stationing programme (003_0d1c8490fe7db56e.txt): three-year programmes, each year's 选派安排表 through the
county's review, and the cadres' arrival and early departure."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from api.deps import ClockDep, CurrentPrincipal, SessionDep
from api.routes.problems import READ, WRITE
from api.types import DbId
from core.clock import china_date
from models.stationing_io import ArrivalIn, DepartureIn, PlanDecisionIn, PlanIn, ProgrammeIn, VersionIn
from tasks import stationing as service
from tasks.reads import stationing as reads

router = APIRouter(prefix="/api/v1", tags=["stationing"], responses=READ)

Year = Annotated[int, Path(ge=2000, le=2100)]


def _plan(session: SessionDep, principal: CurrentPrincipal, clock: ClockDep, year: int) -> dict[str, Any]:
    session.commit()
    return reads.plan_detail(session, principal, year, today=china_date(clock.now()))


@router.post("/programmes", status_code=201, summary="Open a three-year programme (administrators)", responses=WRITE)
def create_programme(body: ProgrammeIn, session: SessionDep, principal: CurrentPrincipal,
                     clock: ClockDep) -> dict[str, Any]:
    programme = service.create_programme(session, principal, clock.now(), name=body.name, start_year=body.start_year)
    session.commit()
    return reads.programme_detail(session, principal, programme.id or 0, today=china_date(clock.now()))


@router.get("/programmes", summary="The three-year programmes, latest first")
def list_programmes(session: SessionDep, principal: CurrentPrincipal, clock: ClockDep) -> dict[str, Any]:
    return reads.list_programmes(session, principal, today=china_date(clock.now())).as_dict()


@router.get("/programmes/{programme_id}", summary="A programme: its years, plans and status")
def get_programme(programme_id: DbId, session: SessionDep, principal: CurrentPrincipal,
                  clock: ClockDep) -> dict[str, Any]:
    return reads.programme_detail(session, principal, programme_id, today=china_date(clock.now()))


@router.put("/stationing/plans/{year}", summary="Save the year's plan as a draft (administrators)", responses=WRITE)
def save_plan(year: Year, body: PlanIn, session: SessionDep, principal: CurrentPrincipal,
              clock: ClockDep) -> dict[str, Any]:
    service.save_plan(session, principal, clock.now(), year, body)
    return _plan(session, principal, clock, year)


@router.get("/stationing/plans/{year}", summary="The year's plan: teams, sizes, arrivals and current problems")
def get_plan(year: Year, session: SessionDep, principal: CurrentPrincipal, clock: ClockDep) -> dict[str, Any]:
    return reads.plan_detail(session, principal, year, today=china_date(clock.now()))


@router.get("/stationing/plans/{year}/rows", summary="The plan as the 选派安排表 ledger rows")
def plan_rows(year: Year, session: SessionDep, principal: CurrentPrincipal, clock: ClockDep) -> dict[str, Any]:
    rows = reads.plan_rows(session, principal, year, today=china_date(clock.now()))
    return {"items": rows, "total": len(rows)}


@router.post("/stationing/plans/{year}/submit", summary="Submit the plan to the county's review", responses=WRITE)
def submit_plan(year: Year, session: SessionDep, principal: CurrentPrincipal, clock: ClockDep,
                body: VersionIn | None = None) -> dict[str, Any]:
    service.submit_plan(session, principal, clock.now(), year, body.version if body else None)
    return _plan(session, principal, clock, year)


@router.post("/stationing/plans/{year}/decision", summary="Approve or return a submitted plan", responses=WRITE)
def decide_plan(year: Year, body: PlanDecisionIn, session: SessionDep, principal: CurrentPrincipal,
                clock: ClockDep) -> dict[str, Any]:
    service.decide_plan(session, principal, clock.now(), year, decision=body.decision, note=body.note,
                        version=body.version)
    return _plan(session, principal, clock, year)


@router.post("/stationing/plans/{year}/arrivals", summary="Record the day a cadre arrived", responses=WRITE)
def record_arrival(year: Year, body: ArrivalIn, session: SessionDep, principal: CurrentPrincipal,
                   clock: ClockDep) -> dict[str, Any]:
    service.record_arrival(session, principal, clock.now(), year, body)
    return _plan(session, principal, clock, year)


@router.post("/stationing/plans/{year}/departures", summary="Record a cadre who left early", responses=WRITE)
def record_departure(year: Year, body: DepartureIn, session: SessionDep, principal: CurrentPrincipal,
                     clock: ClockDep) -> dict[str, Any]:
    service.record_departure(session, principal, clock.now(), year, body)
    return _plan(session, principal, clock, year)
