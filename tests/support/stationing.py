"""Stationing plans written straight into the database, for tests of what builds on an approved plan (diaries,
visits, assessments, acceptance) without walking the plan's own review each time."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from core.db import session_scope
from models import Cadre, OrgUnit, PlanStatus, Programme, StationingPlan, StationingTeam, TeamMember

AT = dt.datetime(2027, 1, 2, 1, 0, tzinfo=dt.UTC)


def programme(session: Session, start_year: int) -> Programme:
    """The three-year programme starting in ``start_year``, created when missing."""
    found = session.exec(select(Programme).where(Programme.start_year == start_year)).first()
    if found is None:
        found = Programme(name=f"{start_year}—{start_year + 2}年干部下基层驻农村", start_year=start_year, created_at=AT)
        session.add(found)
        session.flush()
    return found


def approved_plan(engine: Engine, year: int, teams: Mapping[str, tuple[str, Sequence[str]]], *,
                  start_year: int | None = None, arrived_on: dt.date | None = None) -> int:
    """Write the approved plan of ``year``: ``teams`` maps a village code to (sending unit code, cadre codes);
    the first cadre leads the team. Every member arrived on ``arrived_on`` when given. The plan's id."""
    with session_scope(engine) as session:
        prog = programme(session, start_year or year)
        plan = StationingPlan(programme_id=prog.id or 0, year=year, batch=year - prog.start_year + 1,
                              status=PlanStatus.APPROVED, created_at=AT, updated_at=AT, decided_at=AT)
        session.add(plan)
        session.flush()
        units = {u.code: u.id or 0 for u in session.exec(select(OrgUnit))}
        cadres = {c.code: c.id or 0 for c in session.exec(select(Cadre))}
        for village, (unit, members) in teams.items():
            team = StationingTeam(plan_id=plan.id or 0, village_id=units[village], unit_id=units[unit],
                                  leader_cadre_id=cadres[members[0]] if members else None, leader_post="村党支部副书记")
            session.add(team)
            session.flush()
            for code in members:
                session.add(TeamMember(team_id=team.id or 0, cadre_id=cadres[code], arrived_on=arrived_on))
        session.flush()
        return plan.id or 0
