"""The demo county's stationing programme (``make run``): a programme from 2027 and its approved 2027 plan.

Every village gets the team its collective income calls for (003_0d1c8490fe7db56e.txt §三(二)): a village at or
above 3万元 one cadre of a dispatching unit while they last (so each county unit sends its 20%), the others a
team of three 镇派 cadres of their township — added to the township's cadres as needed."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlmodel import Session, col, select

from domain.stationing import VillageFacts, required_team_size
from models import Cadre, OrgUnit, PlanStatus, Programme, StationingPlan
from models.stationing_io import PlanIn
from tasks import stationing as service
from tasks.cadres import import_cadres

DEMO_START = 2027


def _township_pool(session: Session, town: OrgUnit, pools: dict[int, list[str]], new: list[dict[str, Any]]) -> list[str]:
    pool = pools.get(town.id or 0)
    if pool is None:
        pool = [c.code for c in session.exec(select(Cadre).where(Cadre.unit_id == town.id).order_by(col(Cadre.id)))]
        pools[town.id or 0] = pool
    return pool


def _take(session: Session, town: OrgUnit, n: int, pools: dict[int, list[str]], used: dict[int, int],
          new: list[dict[str, Any]]) -> list[str]:
    pool = _township_pool(session, town, pools, new)
    start = used.get(town.id or 0, 0)
    while len(pool) < start + n:
        code = f"{town.code}-C{len(pool) + 1}"
        pool.append(code)
        new.append({"code": code, "name": f"{town.name}驻村干部{len(pool)}", "unit": town.code, "post": "镇干部"})
    used[town.id or 0] = start + n
    return pool[start:start + n]


def demo_teams(session: Session, year: int) -> list[dict[str, Any]]:
    """A valid team for every village of the county (the body of ``PUT /api/v1/stationing/plans/{year}``),
    adding the 镇派 cadres the townships lack."""
    rules = service.rules()
    units = {u.id: u for u in session.exec(select(OrgUnit).where(OrgUnit.kind == "unit"))}
    unit_pool = [(c.code, units[c.unit_id].code) for c in session.exec(select(Cadre).order_by(col(Cadre.code)))
                 if c.unit_id in units]
    towns = {u.id: u for u in session.exec(select(OrgUnit).where(OrgUnit.kind == "township"))}
    weak = service.weak_village_ids(session, year) | set(service.carried_villages(session, year))
    pools: dict[int, list[str]] = {}
    used: dict[int, int] = {}
    new: list[dict[str, Any]] = []
    teams = []
    for village in session.exec(select(OrgUnit).where(OrgUnit.kind == "village").order_by(col(OrgUnit.code))):
        town = towns[village.parent_id]
        need = required_team_size(VillageFacts(village.code, village.name, village.collective_income,
                                               village.id in weak), rules) or rules.weak_team_size
        if need == 1 and unit_pool:
            cadre, unit = unit_pool.pop(0)
            members = [cadre]
        else:
            members, unit = _take(session, town, need, pools, used, new), town.code
        teams.append({"village": village.code, "unit": unit, "cadres": members, "leader": members[0],
                      "leader_post": "村党支部副书记" if len(members) > 1 else "村委会主任助理"})
    if new:
        import_cadres(session, [(i + 2, row) for i, row in enumerate(new)], source="demo")
    return teams


def seed_demo_plan(session: Session, now: dt.datetime) -> bool:
    """The demo programme 2027—2029 and its approved 2027 plan, unless a programme exists already."""
    if session.exec(select(Programme)).first() is not None:
        return False
    programme = Programme(name=f"{DEMO_START}—{DEMO_START + 2}年干部下基层驻农村", start_year=DEMO_START,
                          years=service.rules().programme_years, created_at=now)
    session.add(programme)
    session.flush()
    body = PlanIn(programme=programme.id, teams=demo_teams(session, DEMO_START))
    plan = StationingPlan(programme_id=programme.id or 0, year=DEMO_START, batch=1, status=PlanStatus.APPROVED,
                          note="演示数据", created_at=now, updated_at=now, decided_at=now)
    session.add(plan)
    session.flush()
    units, cadres = service.resolve(session, body)
    service.write_teams(session, plan, body, units, cadres)
    return True
