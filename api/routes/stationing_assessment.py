"""The stationing programme's yearly assessment and graded acceptance (003 四(五)): cadres' 工作鉴定, a cadre's
record, dispatching units' assessments with the downgrade, and the acceptance of villages and townships."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from api.deps import ClockDep, CurrentPrincipal, SessionDep
from api.routes.problems import READ, WRITE
from api.types import CleanStr, DbId, DbOffset
from domain.vocabulary import AppraisalStatus, CadreGrade, UnitRating
from tasks import acceptance as acceptance_service
from tasks import stationing_assessment as service
from tasks.reads import stationing_assessment as reads

router = APIRouter(prefix="/api/v1", tags=["stationing assessment"], responses=READ)

Code = Annotated[CleanStr, Path(max_length=32, description="code (cadre or dispatching unit)")]
Year = Annotated[int, Path(ge=2000, le=2100, description="the campaign year assessed")]
YearQuery = Annotated[int | None, Query(ge=2000, le=2100)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AppraisalIn(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "appraisal": "吃住在村，帮助村里理清发展思路，引进种植项目一个，全年记工作日记56篇。", "grade": "competent"}]})

    appraisal: CleanStr = Field(min_length=1, max_length=8000, description="工作鉴定")
    grade: CadreGrade
    version: DbId | None = Field(default=None, description="the current version when revising a draft")


class VersionIn(Strict):
    version: DbId


class AppraisalDecision(Strict):
    decision: Literal["approve", "return"]
    note: CleanStr | None = Field(default=None, max_length=2000, description="required when returning")
    version: DbId


class UnitAssessmentIn(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"proposed_rating": "good"}]})

    proposed_rating: UnitRating = Field(description="the rating proposed before the dispatch is taken into account")
    version: DbId | None = Field(default=None, description="the current version when changing it")


class AcceptanceIn(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "subject": "QX02001", "passed": False, "note": "集体经济年纯收入仍不足3万元，村班子仍较弱"}]})

    subject: CleanStr = Field(min_length=1, max_length=32, description="village or township code")
    passed: bool
    note: CleanStr | None = Field(default=None, max_length=2000, description="required when it fails")


def _one(session: SessionDep, principal: CurrentPrincipal, code: str, year: int) -> dict[str, Any]:
    session.commit()
    return reads.cadre_assessment(session, principal, code, year)


@router.get("/cadre-assessments", summary="Cadres' yearly 工作鉴定 of the caller's townships")
def list_cadre_assessments(session: SessionDep, principal: CurrentPrincipal, year: YearQuery = None,
                           township: Annotated[CleanStr | None, Query(max_length=32)] = None,
                           status: Annotated[AppraisalStatus | None, Query()] = None,
                           limit: Annotated[int, Query(ge=1, le=1000)] = 200,
                           offset: Annotated[DbOffset, Query()] = 0) -> dict[str, Any]:
    return reads.list_cadre_assessments(session, principal, year=year, township=township, status=status,
                                        limit=limit, offset=offset).as_dict()


@router.put("/cadre-assessments/{cadre}/{year}", responses=WRITE,
            summary="The township drafts a stationed cadre's 工作鉴定 of the year (needs diary entries)")
def save_cadre_assessment(cadre: Code, year: Year, body: AppraisalIn, session: SessionDep,
                          principal: CurrentPrincipal, clock: ClockDep) -> dict[str, Any]:
    service.save_cadre_assessment(session, principal, clock.now(), cadre, year, body.model_dump(mode="json"))
    return _one(session, principal, cadre, year)


@router.post("/cadre-assessments/{cadre}/{year}/submit", responses=WRITE,
             summary="The township sends the 工作鉴定 to the Organisation Department")
def submit_cadre_assessment(cadre: Code, year: Year, body: VersionIn, session: SessionDep,
                            principal: CurrentPrincipal, clock: ClockDep) -> dict[str, Any]:
    service.submit_cadre_assessment(session, principal, clock.now(), cadre, year, body.version)
    return _one(session, principal, cadre, year)


@router.post("/cadre-assessments/{cadre}/{year}/decision", responses=WRITE,
             summary="The Organisation Department approves (审定) or returns the 工作鉴定")
def decide_cadre_assessment(cadre: Code, year: Year, body: AppraisalDecision, session: SessionDep,
                            principal: CurrentPrincipal, clock: ClockDep) -> dict[str, Any]:
    service.decide_cadre_assessment(session, principal, clock.now(), cadre, year, body.decision, body.note,
                                    body.version)
    return _one(session, principal, cadre, year)


@router.get("/cadres/{code}/record", summary="A cadre's record: teams by year, arrival, diaries, approved 工作鉴定")
def cadre_record(code: Code, session: SessionDep, principal: CurrentPrincipal) -> dict[str, Any]:
    return reads.cadre_record(session, principal, code)


@router.get("/unit-assessments", summary="Dispatching units' yearly assessments with the downgrade")
def list_unit_assessments(session: SessionDep, principal: CurrentPrincipal, year: YearQuery = None) -> dict[str, Any]:
    items = reads.list_unit_assessments(session, principal, year=year)
    return {"year": year, "items": items, "total": len(items)}


@router.put("/unit-assessments/{unit}/{year}", responses=WRITE,
            summary="An administrator rates a dispatching unit; a unit that did not send and keep its cadres is "
                    "downgraded one grade")
def save_unit_assessment(unit: Code, year: Year, body: UnitAssessmentIn, session: SessionDep,
                         principal: CurrentPrincipal, clock: ClockDep) -> dict[str, Any]:
    row = service.save_unit_assessment(session, principal, clock.now(), unit, year, body.proposed_rating, body.version)
    session.commit()
    return reads.unit_assessment_public(row, service.dispatching_unit(session, unit))


@router.post("/programmes/{programme_id}/acceptances", status_code=201, responses=WRITE,
             summary="Record a verdict of the graded acceptance (township then county for a village; county for "
                     "a township)")
def record_acceptance(programme_id: DbId, body: AcceptanceIn, session: SessionDep, principal: CurrentPrincipal,
                      clock: ClockDep) -> dict[str, Any]:
    row = acceptance_service.record_verdict(session, principal, clock.now(), programme_id, body.model_dump())
    session.commit()
    return {"id": row.id, "subject": body.subject, "level": row.level, "year": row.year, "passed": row.passed,
            "note": row.note}


@router.get("/programmes/{programme_id}/acceptance",
            summary="The programme's acceptance per township and village: verdicts and standing")
def acceptance(programme_id: DbId, session: SessionDep, principal: CurrentPrincipal) -> dict[str, Any]:
    return reads.acceptance_overview(session, principal, programme_id)
