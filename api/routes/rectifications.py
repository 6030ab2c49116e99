"""Acceptance (验收) and closing (销号) of rectified villages."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from api.deps import ClockDep, CurrentPrincipal, SessionDep
from api.routes.problems import READ, WRITE
from api.types import CleanStr, DbId
from tasks import rectification as service
from tasks.reads import rectifications as reads

router = APIRouter(prefix="/api/v1/rectifications", tags=["rectifications"], responses=READ)


class RectificationAction(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"action": "accept", "version": 2}]})

    action: Literal["apply", "accept", "fail", "close", "relapse", "remove"]
    comment: CleanStr | None = Field(default=None, max_length=2000)
    version: DbId


class ListedVillage(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"campaign_id": 1, "village": "QX01001", "comment": "经县委组织部核实，该村为市级B类重点联系村，补入名单"}]})

    campaign_id: DbId
    village: CleanStr = Field(min_length=1, max_length=32, description="the village's code")
    comment: CleanStr = Field(max_length=2000, description="why it is listed (required)")


@router.get("", summary="Rectified villages and where each stands")
def list_rectifications(session: SessionDep, principal: CurrentPrincipal,
                        campaign: Annotated[DbId | None, Query()] = None) -> dict[str, Any]:
    return {"items": reads.list_rectifications(session, principal, campaign=campaign)}


@router.post("", status_code=201, summary="Add a village to a campaign's approved weak-village list (county)", responses=WRITE)
def add_village(body: ListedVillage, session: SessionDep, principal: CurrentPrincipal, clock: ClockDep,
                response: Response) -> dict[str, Any]:
    row = service.add_village(session, principal, clock.now(), campaign_id=body.campaign_id, village=body.village,
                              comment=body.comment)
    session.commit()
    session.refresh(row)
    response.headers["Location"] = f"/api/v1/rectifications?campaign={row.campaign_id}"
    return reads.present_rectification(session, row)


@router.post("/{rectification_id}/actions", summary="apply (township) · accept / fail / close / relapse / remove (county)", responses=WRITE)
def act(rectification_id: DbId, body: RectificationAction, session: SessionDep, principal: CurrentPrincipal,
        clock: ClockDep) -> dict[str, Any]:
    row = service.transition(session, principal, clock.now(), rectification_id, action=body.action,
                             version=body.version, comment=body.comment)
    session.commit()
    session.refresh(row)
    return reads.present_rectification(session, row)
