"""The stationing plan's service functions: weak and carried villages, the demo plan (003 §三(二), §四(五))."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.engine import Engine
from sqlmodel import select

from core.db import session_scope
from models import OrgUnit, PlanStatus, StationingPlan
from tasks import stationing
from tasks.stationing_demo import seed_demo_plan
from tests.support.stationing import approved_plan
from tests.support.stationing_plan import verdict

NOW = dt.datetime(2027, 1, 2, 1, 0, tzinfo=dt.UTC)


def test_carried_villages_follow_the_latest_county_verdict(demo_county: Engine) -> None:
    approved_plan(demo_county, 2025, {})
    verdict(demo_county, 2025, "QX02001", 2027, passed=False, note="班子仍软弱")
    verdict(demo_county, 2025, "QX03001", 2027, passed=False)
    verdict(demo_county, 2025, "QX03001", 2028, passed=True)
    with session_scope(demo_county) as session:
        ids = {u.code: u.id for u in session.exec(select(OrgUnit))}
        assert stationing.carried_villages(session, 2027) == {}
        assert stationing.carried_villages(session, 2028) == {
            ids["QX02001"]: "2027年县级验收未通过（班子仍软弱）", ids["QX03001"]: "2027年县级验收未通过（集体经济未达标）"}
        assert stationing.carried_villages(session, 2029) == {ids["QX02001"]: "2027年县级验收未通过（班子仍软弱）"}


def test_the_demo_plan_is_valid_and_seeded_once(demo_county: Engine) -> None:
    with session_scope(demo_county) as session:
        assert seed_demo_plan(session, NOW)
        assert not seed_demo_plan(session, NOW)
    with session_scope(demo_county) as session:
        plan = session.exec(select(StationingPlan)).one()
        assert plan.status == PlanStatus.APPROVED and plan.year == 2027
        assert stationing.plan_problems(session, plan) == []
        assert len(stationing.stored_teams(session, plan)) == 120
