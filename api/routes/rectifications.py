"""Acceptance (验收) and closing (销号) of rectified villages."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from api.deps import ClockDep, CurrentPrincipal, SessionDep
from api.routes.problems import READ, WRITE
from api.types import CleanStr, DbId
from tasks import rectification as service
from tasks.reads import rectifications as reads

router = APIRouter(prefix="/api/v1/rectifications", tags=["rectifications"], responses=READ)


class RectificationAction(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"action": "accept", "version": 2}]})

    action: Literal["apply", "accept", "fail", "close", "relapse"]
    comment: CleanStr | None = Field(default=None, max_length=2000)
    version: DbId


@router.get("", summary="Rectified villages and where each stands")
def list_rectifications(session: SessionDep, principal: CurrentPrincipal,
                        campaign: Annotated[DbId | None, Query()] = None) -> dict[str, Any]:
    return {"items": reads.list_rectifications(session, principal, campaign=campaign)}


@router.post("/{rectification_id}/actions", summary="apply (township) · accept / fail / close / relapse (county)", responses=WRITE)
def act(rectification_id: DbId, body: RectificationAction, session: SessionDep, principal: CurrentPrincipal,
        clock: ClockDep) -> dict[str, Any]:
    row = service.transition(session, principal, clock.now(), rectification_id, action=body.action,
                             version=body.version, comment=body.comment)
    session.commit()
    session.refresh(row)
    return reads.present_rectification(session, row)
