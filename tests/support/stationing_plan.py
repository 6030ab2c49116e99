"""A complete, valid stationing plan for the demo county, for tests that walk the plan's review through the API:
the body of ``PUT /api/v1/stationing/plans/{year}`` (built by the demo's own ``demo_teams``, which adds the 镇派
cadres the townships lack), and acceptance verdicts written straight into the database."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import select

from core.db import session_scope
from models import Acceptance, OrgUnit, Programme
from tasks.stationing_demo import demo_teams

AT = dt.datetime(2027, 12, 20, 1, 0, tzinfo=dt.UTC)


def full_teams(engine: Engine, year: int) -> list[dict[str, Any]]:
    """A team for every village of the demo county that passes every check of the plan."""
    with session_scope(engine) as session:
        return demo_teams(session, year)


def verdict(engine: Engine, start_year: int, village: str, year: int, passed: bool, note: str = "") -> None:
    """A county-level acceptance verdict on ``village`` in ``year`` (the acceptance API is another helper's)."""
    with session_scope(engine) as session:
        programme = session.exec(select(Programme).where(Programme.start_year == start_year)).one()
        unit = session.exec(select(OrgUnit).where(OrgUnit.code == village)).one()
        session.add(Acceptance(programme_id=programme.id or 0, subject_id=unit.id or 0, level="county", year=year,
                               passed=passed, note=note or ("验收合格" if passed else "集体经济未达标"), decided_at=AT))
