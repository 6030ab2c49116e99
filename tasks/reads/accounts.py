"""User accounts as the administrators' page lists them."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from models import OrgUnit, User, UserScope
from tasks.accounts import Principal
from tasks.reads.org_units import upper_units


def users_overview(session: Session, principal: Principal) -> dict[str, Any]:
    """Every account by id (administrators only), the units that name their org units, and the names of
    the units each observer's scope covers (by user id)."""
    principal.require_role("admin")
    scopes: dict[int, list[str]] = {}
    for scope, unit in session.exec(select(UserScope, OrgUnit).join(OrgUnit, col(UserScope.org_unit_id) == OrgUnit.id)):
        scopes.setdefault(scope.user_id, []).append(unit.name)
    return {"users": list(session.exec(select(User).order_by(col(User.id)))), "units": upper_units(session),
            "scopes": scopes}
