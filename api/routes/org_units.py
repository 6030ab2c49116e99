"""The organisation hierarchy."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import func
from sqlalchemy.orm import aliased
from sqlmodel import select

from api.deps import CurrentPrincipal, SessionDep
from api.routes.problems import READ
from api.types import CleanStr, DbOffset
from domain.errors import NotFound
from models import OrgKind, OrgUnit, OrgUnitPublic

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
    parent_unit = aliased(OrgUnit)
    stmt = select(OrgUnit, parent_unit.code).outerjoin(parent_unit, OrgUnit.parent_id == parent_unit.id)  # type: ignore[arg-type]
    count = select(func.count()).select_from(OrgUnit)
    if kind is not None:
        stmt = stmt.where(OrgUnit.kind == kind.value)
        count = count.where(OrgUnit.kind == kind.value)
    if principal.townships is not None:
        # Outside county-wide roles: the county itself, one's townships and their villages.
        visible = list(principal.townships)
        scope = (OrgUnit.kind == "county") | OrgUnit.id.in_(visible) | OrgUnit.parent_id.in_(visible)  # type: ignore[union-attr, attr-defined]
        stmt = stmt.where(scope)
        count = count.where(scope)
    if parent is not None:
        parent_row = session.exec(select(OrgUnit).where(OrgUnit.code == parent)).first()
        parent_id = parent_row.id if parent_row else None
        if parent_row is not None and principal.townships is not None:
            township_id = parent_row.id if parent_row.kind == "township" else parent_row.parent_id
            if parent_row.kind != "county" and township_id not in principal.townships:
                parent_id = None  # outside scope reads like an unknown code
        if parent_id is None:
            raise NotFound(f"上级编码“{parent}”不存在", errors=[{"field": "parent", "message": "unknown org unit code"}])
        stmt = stmt.where(OrgUnit.parent_id == parent_id)
        count = count.where(OrgUnit.parent_id == parent_id)
    total = session.exec(count).one()
    rows = session.exec(stmt.order_by(OrgUnit.code).limit(limit).offset(offset)).all()
    items = [
        OrgUnitPublic(
            code=u.code, name=u.name, kind=OrgKind(u.kind), parent=parent_code,
            collective_income=u.collective_income, key_contact_class=u.key_contact_class,
        )
        for u, parent_code in rows
    ]
    return {"items": [i.model_dump() for i in items], "total": total, "limit": limit, "offset": offset}
