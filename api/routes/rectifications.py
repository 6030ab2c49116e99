"""Acceptance (验收) and closing (销号) of rectified villages."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import col, select

from api.deps import ClockDep, CurrentPrincipal, SessionDep
from api.routes.problems import READ, WRITE
from api.types import CleanStr, DbId
from models import Campaign, OrgUnit, VillageRectification
from tasks import rectification as service

router = APIRouter(prefix="/api/v1/rectifications", tags=["rectifications"], responses=READ)


class RectificationAction(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"action": "accept", "version": 2}]})

    action: Literal["apply", "accept", "fail", "close", "relapse"]
    comment: CleanStr | None = Field(default=None, max_length=2000)
    version: DbId


def _public(row: VillageRectification, village: OrgUnit | None) -> dict[str, Any]:
    return {
        "id": row.id, "campaign_id": row.campaign_id, "village": village.code if village else None,
        "village_name": village.name if village else None, "status": row.status,
        "failed_acceptances": row.failed_acceptances, "relapses": row.relapses, "accepted_on": row.accepted_on,
        "consolidation_ends_on": row.consolidation_ends_on, "closed_on": row.closed_on, "note": row.note,
        "version": row.version,
    }


@router.get("", summary="Rectified villages and where each stands")
def list_rectifications(session: SessionDep, principal: CurrentPrincipal,
                        campaign: Annotated[DbId | None, Query()] = None) -> dict[str, Any]:
    stmt = (select(VillageRectification, OrgUnit)
            .join(Campaign, col(VillageRectification.campaign_id) == Campaign.id)
            .join(OrgUnit, col(VillageRectification.village_id) == OrgUnit.id))
    if principal.townships is not None:
        stmt = stmt.where(col(Campaign.township_id).in_(principal.townships))
    if campaign is not None:
        stmt = stmt.where(VillageRectification.campaign_id == campaign)
    return {"items": [_public(r, v) for r, v in session.exec(stmt.order_by(col(VillageRectification.id)))]}


@router.post("/{rectification_id}/actions", summary="apply (township) · accept / fail / close / relapse (county)", responses=WRITE)
def act(rectification_id: DbId, body: RectificationAction, session: SessionDep, principal: CurrentPrincipal,
        clock: ClockDep) -> dict[str, Any]:
    row = service.transition(session, principal, clock.now(), rectification_id, action=body.action,
                             version=body.version, comment=body.comment)
    session.commit()
    session.refresh(row)
    return _public(row, session.get(OrgUnit, row.village_id))
