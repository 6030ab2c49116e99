"""Cadres and leaders as the caller may see them (003 三(一)(二)).

County-wide roles see everyone; a township sees the cadres it sends (镇派) and the leaders who contact its
villages. Cadres of county, city and province units are county-wide (the county decides where they go)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import aliased
from sqlmodel import col, select

from models import Cadre, CadrePublic, Leader, LeaderLevel, LeaderPublic, OrgUnit
from tasks.accounts import Principal
from tasks.reads import Page, fetch_page
from tasks.scope import scoped


def list_cadres(session: Any, principal: Principal, *, unit: str | None = None, limit: int = 200,
                offset: int = 0) -> Page[dict[str, Any]]:
    """Cadres by code, with their unit (filtered by the unit's code when given)."""
    stmt = select(Cadre, OrgUnit).join(OrgUnit, col(Cadre.unit_id) == OrgUnit.id)
    stmt = scoped(stmt, principal, Cadre.unit_id)
    if unit is not None:
        stmt = stmt.where(OrgUnit.code == unit)
    rows, total = fetch_page(session, stmt, col(Cadre.code), limit=limit, offset=offset)
    items = [CadrePublic(code=c.code, name=c.name, unit=u.code, unit_name=u.name, post=c.post,
                         phone=c.phone).model_dump() for c, u in rows]
    return Page(items, total, limit, offset)


def list_leaders(session: Any, principal: Principal, *, township: str | None = None, limit: int = 200,
                 offset: int = 0) -> Page[dict[str, Any]]:
    """Leaders by code, with the township and the village each contacts (filtered by township code)."""
    town, village = aliased(OrgUnit), aliased(OrgUnit)
    stmt = (select(Leader, town.code, village.code, village.name)
            .join(town, col(Leader.township_id) == town.id).join(village, col(Leader.village_id) == village.id))
    stmt = scoped(stmt, principal, Leader.township_id)
    if township is not None:
        stmt = stmt.where(town.code == township)
    rows, total = fetch_page(session, stmt, col(Leader.code), limit=limit, offset=offset)
    items = [LeaderPublic(code=p.code, name=p.name, level=LeaderLevel(p.level), post=p.post, phone=p.phone,
                          township=t, village=v, village_name=vn).model_dump() for p, t, v, vn in rows]
    return Page(items, total, limit, offset)


EVERY = 2**31 - 1  # a page that holds every row: the page lists them all and pages in the template


def people_overview(session: Any, principal: Principal) -> dict[str, Any]:
    """What the cadres page shows: the dispatching units with their establishment and how many cadres each has
    on record, the cadres and the leaders the caller may see."""
    cadres = list_cadres(session, principal, limit=EVERY).items
    sent: dict[str, int] = {}
    for cadre in cadres:
        sent[cadre["unit"]] = sent.get(cadre["unit"], 0) + 1
    units = [{"code": u.code, "name": u.name, "level": u.unit_level, "establishment_size": u.establishment_size,
              "cadres": sent.get(u.code, 0)}
             for u in session.exec(select(OrgUnit).where(OrgUnit.kind == "unit").order_by(col(OrgUnit.code)))]
    return {"units": units, "cadres": cadres, "leaders": list_leaders(session, principal, limit=EVERY).items}
