"""The organisation hierarchy."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.deps import CurrentPrincipal, SessionDep
from api.routes.problems import READ
from api.types import CleanStr, DbOffset
from models import OrgKind
from tasks.reads import org_units as reads

router = APIRouter(prefix="/api/v1/org-units", tags=["org-units"], responses=READ)


@router.get("", summary="List org units, filtered by kind and parent code")
def list_org_units(
    session: SessionDep,
    principal: CurrentPrincipal,
    kind: OrgKind | None = None,
    parent: Annotated[CleanStr | None, Query(max_length=32, description="parent unit code")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    offset: Annotated[DbOffset, Query()] = 0,
) -> dict[str, Any]:
    return reads.list_org_units(session, principal, kind=kind, parent=parent, limit=limit, offset=offset).as_dict()
