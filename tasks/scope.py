"""The township scope, once: what a signed-in user may read.

County-wide roles (administrators, county reviewers) see every township; a township's submitters and
reviewers see their own; an observer sees the townships (or villages' townships) of their scopes
(``Principal.townships``). Every list, detail, ledger, page and export restricts its query with
``in_scope``/``scoped``, and every load by id goes through ``visible``: an object of another township
answers exactly like a missing one (404, never 403), so ids do not reveal what exists elsewhere.
Org units follow the same rule one level up and down: the county itself, one's townships and their
villages (``units_in_scope``, ``may_see_unit``); the dispatching units (派出单位) are county-wide like the
county. Cadres follow their unit's township, leaders the township they contact (``tasks.reads.cadres``)."""

from __future__ import annotations

from typing import Any, Protocol, TypeVar

from sqlalchemy import ColumnElement, or_, true
from sqlmodel import Session, col

from domain.errors import NotFound
from models import Campaign, OrgUnit
from tasks.accounts import Principal

S = TypeVar("S")
T = TypeVar("T")


def in_scope(principal: Principal, township_column: Any) -> ColumnElement[bool]:
    """The condition that keeps rows whose township (``township_column``) the caller may see."""
    if principal.townships is None:
        return true()
    return col(township_column).in_(principal.townships)


def scoped(stmt: S, principal: Principal, township_column: Any) -> S:
    """``stmt`` restricted to the caller's townships (unchanged for county-wide roles)."""
    if principal.townships is None:
        return stmt
    return stmt.where(in_scope(principal, township_column))  # type: ignore[attr-defined,no-any-return]


def visible(principal: Principal, obj: T | None, township_id: int | None, missing: str) -> T:
    """``obj`` if it exists and the caller may see its township; otherwise ``NotFound(missing)``, the same
    answer for an object that does not exist and one of another township."""
    if obj is None or not principal.can_see(township_id):
        raise NotFound(missing)
    return obj


class _OfCampaign(Protocol):
    campaign_id: int


def visible_campaign(session: Session, principal: Principal, row: _OfCampaign | None, missing: str) -> Campaign:
    """The campaign of ``row`` (an obligation, a rectified village …) if ``row`` exists and the caller may see
    the campaign's township; otherwise ``NotFound(missing)``, as ``visible``."""
    campaign = session.get(Campaign, row.campaign_id) if row is not None else None
    return visible(principal, campaign, campaign.township_id if campaign else None, missing)


def units_in_scope(principal: Principal) -> ColumnElement[bool]:
    """The condition that keeps the org units the caller may see: the county, their townships and those
    townships' villages (every unit for county-wide roles)."""
    if principal.townships is None:
        return true()
    return or_(col(OrgUnit.kind).in_(("county", "unit")), col(OrgUnit.id).in_(principal.townships),
               col(OrgUnit.parent_id).in_(principal.townships))


def may_see_unit(principal: Principal, unit: OrgUnit) -> bool:
    """Whether ``unit`` is one the caller may see (the rule of ``units_in_scope``, for one loaded unit)."""
    if unit.kind in ("county", "unit"):  # the county and its dispatching units are county-wide
        return True
    return principal.can_see(unit.id if unit.kind == "township" else unit.parent_id)
