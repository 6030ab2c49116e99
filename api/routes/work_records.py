"""The stationing programme's work records (003 §三(一), §四(三)(六)): cadres' work diaries, teams' monthly
records, leaders' visits to their contact villages, and the quarterly reports of townships and dispatching units
to the 县委基层办 with the 基层办's review."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from api.deps import ClockDep, CurrentPrincipal, SessionDep
from api.routes.problems import READ, WRITE
from api.types import CleanStr, DbId, DbOffset
from core.clock import china_date
from tasks import work_records as service
from tasks.calendar import load_work_calendar
from tasks.reads import work_records as reads

router = APIRouter(prefix="/api/v1", tags=["work records"], responses=READ)

Limit = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[DbOffset, Query()]
Code = Annotated[CleanStr | None, Query(max_length=32)]
YearQ = Annotated[int | None, Query(ge=2000, le=2100)]
Text = Annotated[CleanStr, Field(min_length=1, max_length=4000)]
Optional = Annotated[CleanStr | None, Field(default=None, max_length=4000)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class DiaryIn(_In):
    cadre: CleanStr = Field(min_length=1, max_length=32, description="the cadre's code")
    entry_date: dt.date
    place: CleanStr = Field(min_length=1, max_length=200, description="地点")
    work: Text = Field(description="工作内容")
    help_given: Optional = Field(default=None, description="帮扶措施")
    results: Optional = Field(default=None, description="工作成效")


class MonthlyIn(_In):
    work: Text = Field(description="本月工作")
    problems_solved: Optional = Field(default=None, description="解决的问题")
    next_steps: Optional = Field(default=None, description="下月打算")
    version: int | None = Field(default=None, ge=0, description="the version read; omit to create")


class VisitIn(_In):
    leader: CleanStr = Field(min_length=1, max_length=32, description="the leader's code")
    visited_on: dt.date
    purpose: CleanStr = Field(min_length=1, max_length=2000, description="调研指导内容")


class UnitReportIn(_In):
    unit: CleanStr = Field(min_length=1, max_length=32, description="township or dispatching unit code")
    year: int = Field(ge=2000, le=2100)
    quarter: int = Field(ge=1, le=4)
    progress: CleanStr = Field(min_length=1, max_length=8000, description="工作进展情况")
    problems: CleanStr | None = Field(default=None, max_length=8000, description="存在的问题")
    next_steps: CleanStr | None = Field(default=None, max_length=8000, description="下步打算")
    version: int | None = Field(default=None, ge=1, description="a returned report's version, to submit it again")


class ReviewIn(_In):
    decision: Literal["accept", "return"]
    note: CleanStr | None = Field(default=None, max_length=2000)
    version: int | None = Field(default=None, ge=1)


@router.post("/diaries", status_code=201, responses=WRITE,
             summary="Add an entry to a cadre's work diary (工作日记): the cadre's team village, a day on site")
def add_diary(body: DiaryIn, session: SessionDep, principal: CurrentPrincipal, clock: ClockDep) -> dict[str, Any]:
    now = clock.now()
    entry = service.add_diary(session, principal, now, china_date(now), body.model_dump())
    session.commit()
    return next(i for i in reads.list_diaries(session, principal, cadre=body.cadre, start=entry.entry_date,
                                              end=entry.entry_date).items if i["id"] == entry.id)


@router.get("/diaries", summary="Work diary entries within the caller's townships, newest first")
def list_diaries(session: SessionDep, principal: CurrentPrincipal, cadre: Code = None, village: Code = None,
                 township: Code = None, start: Annotated[dt.date | None, Query(alias="from")] = None,
                 end: Annotated[dt.date | None, Query(alias="to")] = None, limit: Limit = 200,
                 offset: Offset = 0) -> dict[str, Any]:
    return reads.list_diaries(session, principal, cadre=cadre, village=village, township=township, start=start,
                              end=end, limit=limit, offset=offset).as_dict()


@router.put("/teams/{village}/{year}/{month}", responses=WRITE,
            summary="Create or update a team's monthly record (versioned)")
def save_monthly(body: MonthlyIn, session: SessionDep, principal: CurrentPrincipal, clock: ClockDep,
                 village: Annotated[CleanStr, Path(max_length=32)], year: Annotated[int, Path(ge=2000, le=2100)],
                 month: Annotated[CleanStr, Path(max_length=32, description="1..12")]) -> dict[str, Any]:
    # ``month`` is read after the village is found and visible, so that a village of another township answers
    # 404 whatever the month (as a missing one does).
    now = clock.now()
    row = service.save_monthly(session, principal, now, china_date(now), village, year, month, body.model_dump())
    session.commit()
    return reads.list_monthly(session, principal, record_id=row.id, limit=1).items[0]


@router.get("/teams/monthly", summary="Teams' monthly records within the caller's townships")
def list_monthly(session: SessionDep, principal: CurrentPrincipal, village: Code = None, township: Code = None,
                 year: YearQ = None, limit: Limit = 200, offset: Offset = 0) -> dict[str, Any]:
    return reads.list_monthly(session, principal, village=village, township=township, year=year, limit=limit,
                              offset=offset).as_dict()


@router.post("/leader-visits", status_code=201, responses=WRITE,
             summary="Record a leader's visit to the contact village (到挂钩联系点)")
def add_visit(body: VisitIn, session: SessionDep, principal: CurrentPrincipal, clock: ClockDep) -> dict[str, Any]:
    now = clock.now()
    visit = service.add_visit(session, principal, now, china_date(now), body.model_dump())
    session.commit()
    return reads.list_visits(session, principal, visit_id=visit.id, limit=1).items[0]


@router.get("/leader-visits", summary="Leaders' visits within the caller's townships, with the half-year's count")
def list_visits(session: SessionDep, principal: CurrentPrincipal, leader: Code = None, township: Code = None,
                year: YearQ = None, limit: Limit = 200, offset: Offset = 0) -> dict[str, Any]:
    return reads.list_visits(session, principal, leader=leader, township=township, year=year, limit=limit,
                             offset=offset).as_dict()


@router.post("/unit-reports", status_code=201, responses=WRITE,
             summary="Submit a township's or dispatching unit's quarterly report to the 基层办")
def submit_unit_report(body: UnitReportIn, session: SessionDep, principal: CurrentPrincipal,
                       clock: ClockDep) -> dict[str, Any]:
    now = clock.now()
    row = service.submit_unit_report(session, principal, now, china_date(now), body.model_dump())
    session.commit()
    return next(i for i in reads.list_unit_reports(session, principal, year=row.year, quarter=row.quarter,
                                                   unit=body.unit).items)


@router.get("/unit-reports", summary="Quarterly reports to the 基层办, and for a quarter who is late (逾期未报)")
def list_unit_reports(session: SessionDep, principal: CurrentPrincipal, clock: ClockDep, year: YearQ = None,
                      quarter: Annotated[int | None, Query(ge=1, le=4)] = None, unit: Code = None,
                      status: Annotated[Literal["submitted", "accepted", "returned"] | None, Query()] = None,
                      limit: Limit = 200, offset: Offset = 0) -> dict[str, Any]:
    page = reads.list_unit_reports(session, principal, year=year, quarter=quarter, unit=unit, status=status,
                                   limit=limit, offset=offset).as_dict()
    if year is not None and quarter is not None:
        page["deadline"] = reads.overdue_reporters(session, principal, year, quarter, china_date(clock.now()),
                                                   load_work_calendar(session))
    return page


@router.post("/unit-reports/{report_id}/review", responses=WRITE,
             summary="The 基层办 accepts a quarterly report or returns it with a note (not its submitter)")
def review_unit_report(body: ReviewIn, session: SessionDep, principal: CurrentPrincipal, clock: ClockDep,
                       report_id: Annotated[DbId, Path()]) -> dict[str, Any]:
    row = service.review_unit_report(session, principal, clock.now(), report_id, decision=body.decision,
                                     note=body.note, version=body.version)
    session.commit()
    return next(i for i in reads.list_unit_reports(session, principal, year=row.year, quarter=row.quarter).items
                if i["id"] == row.id)
