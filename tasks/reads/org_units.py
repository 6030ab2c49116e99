"""The organisation hierarchy as the caller may see it: the county, its townships and their villages."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from domain.errors import NotFound, ValidationFailed
from models import OrgKind, OrgUnit, OrgUnitPublic
from tasks.accounts import Principal
from tasks.reads import Page, fetch_page
from tasks.scope import may_see_unit, scoped, units_in_scope


def units_by_id(session: Session, ids: set[int]) -> dict[int, OrgUnit]:
    """The org units with these ids (the names and codes a list shows), in one query."""
    return {u.id or 0: u for u in session.exec(select(OrgUnit).where(col(OrgUnit.id).in_(ids)))} if ids else {}


def township_id(session: Session, code: str | None) -> int | None:
    """The id of the township with this code (None for no code); an unknown code is the client's mistake."""
    if code is None:
        return None
    unit = session.exec(select(OrgUnit).where(OrgUnit.code == code, OrgUnit.kind == "township")).first()
    if unit is None:
        raise ValidationFailed(f"没有编码为 {code} 的乡镇", errors=[{"field": "township", "message": "unknown township"}])
    return unit.id


def in_township(session: Session, principal: Principal, stmt: Any, column: Any, township: str | None) -> Any:
    """``stmt`` within the caller's townships and, when a township code is given, that township's rows only."""
    stmt = scoped(stmt, principal, column)
    town = township_id(session, township)
    return stmt if town is None else stmt.where(col(column) == town)


def townships(session: Session, principal: Principal) -> list[OrgUnit]:
    """The townships the caller may see, by code."""
    stmt = scoped(select(OrgUnit).where(OrgUnit.kind == "township"), principal, OrgUnit.id)
    return list(session.exec(stmt.order_by(col(OrgUnit.code))))


def villages(session: Session, township: int) -> list[OrgUnit]:
    """The villages of a township, by code."""
    return list(session.exec(select(OrgUnit).where(OrgUnit.parent_id == township, OrgUnit.kind == "village")
                             .order_by(col(OrgUnit.code))))


def counts_by_kind(session: Session) -> dict[str, int]:
    """How many counties, townships and villages there are (the county-wide totals the home page shows)."""
    return dict(session.exec(select(OrgUnit.kind, func.count()).group_by(OrgUnit.kind)).all())  # type: ignore[arg-type]


def _parent_id(session: Session, principal: Principal, code: str) -> int:
    parent = session.exec(select(OrgUnit).where(OrgUnit.code == code)).first()
    if parent is None or not may_see_unit(principal, parent):  # outside scope reads like an unknown code
        raise NotFound(f"上级编码“{code}”不存在", errors=[{"field": "parent", "message": "unknown org unit code"}])
    return parent.id or 0


def list_org_units(session: Session, principal: Principal, *, kind: OrgKind | None = None, parent: str | None = None,
                   limit: int = 200, offset: int = 0) -> Page[dict[str, Any]]:
    """Org units the caller may see, by code, filtered by kind and by the code of their parent."""
    parent_unit = aliased(OrgUnit)
    stmt = (select(OrgUnit, parent_unit.code).outerjoin(parent_unit, col(OrgUnit.parent_id) == parent_unit.id)
            .where(units_in_scope(principal)))
    if kind is not None:
        stmt = stmt.where(OrgUnit.kind == kind.value)
    if parent is not None:
        stmt = stmt.where(OrgUnit.parent_id == _parent_id(session, principal, parent))
    rows, total = fetch_page(session, stmt, col(OrgUnit.code), limit=limit, offset=offset)
    items = [OrgUnitPublic(code=u.code, name=u.name, kind=OrgKind(u.kind), parent=parent_code,
                           collective_income=u.collective_income, key_contact_class=u.key_contact_class,
                           unit_level=u.unit_level, establishment_size=u.establishment_size).model_dump()
             for u, parent_code in rows]
    return Page(items, total, limit, offset)


def units(session: Session, principal: Principal, *, kind: str = "") -> list[OrgUnit]:
    """Every unit the caller may see, by code (only those of ``kind`` when it names one)."""
    stmt = select(OrgUnit).where(units_in_scope(principal)).order_by(col(OrgUnit.code))
    if kind in ("county", "township", "village", "unit"):
        stmt = stmt.where(OrgUnit.kind == kind)
    return list(session.exec(stmt))


def upper_units(session: Session) -> dict[int | None, OrgUnit]:
    """The county and its townships by id: what names a village's or a user's unit."""
    return {u.id: u for u in session.exec(select(OrgUnit).where(col(OrgUnit.kind).in_(["county", "township"])))}
