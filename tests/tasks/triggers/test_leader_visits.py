"""县领导到点不足 (003 §三(一) "县领导每半年到挂钩联系点不少于3次"): the tick's first run after a half-year escalates
each county leader below the minimum to the 基层办 (county administrators and reviewers, not the township), once."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from core.clock import CHINA_TZ
from models import Escalation, LeaderVisit, OutboxMessage, User
from tests.support.clock import at
from tests.support.tick import tick
from tests.support.world import launch

NOW = dt.datetime(2025, 6, 1, 9, 0, tzinfo=CHINA_TZ)


def _visit(engine: Engine, leader_id: int, village_id: int, days: list[dt.date]) -> None:
    with Session(engine) as session:
        for day in days:
            session.add(LeaderVisit(leader_id=leader_id, village_id=village_id, visited_on=day, purpose="调研",
                                    created_at=NOW))
        session.commit()


def _leaders(engine: Engine) -> dict[str, tuple[int, int, str]]:
    from models import Leader

    with Session(engine) as session:
        return {p.code: (p.id or 0, p.village_id, p.name) for p in session.exec(select(Leader))}


def test_a_county_leader_with_two_visits_in_a_half_year_is_escalated_to_the_county_once(demo_county: Engine) -> None:
    launch(demo_county, ["QX01", "QX02"], NOW, year=2025, definition="cadres_in_villages")
    leaders = _leaders(demo_county)
    l1, v1, name = leaders["QX01-L1"]
    _visit(demo_county, l1, v1, [dt.date(2025, 2, 3), dt.date(2025, 5, 6)])
    l2, v2, _ = leaders["QX02-L1"]
    _visit(demo_county, l2, v2, [dt.date(2025, 1, 20), dt.date(2025, 3, 20), dt.date(2025, 6, 20)])
    l3, v3, _ = leaders["QX01-L2"]  # a township leader: 003 counts county leaders' visits
    _visit(demo_county, l3, v3, [dt.date(2025, 2, 3)])
    tick(demo_county, at(dt.date(2025, 6, 30)))
    with Session(demo_county) as session:
        assert session.exec(select(Escalation).where(Escalation.trigger == "leader_visits")).all() == []
    tick(demo_county, at(dt.date(2025, 7, 1)))
    tick(demo_county, at(dt.date(2025, 7, 2)))  # a re-run writes nothing twice
    with Session(demo_county) as session:
        [esc] = session.exec(select(Escalation).where(Escalation.trigger == "leader_visits")).all()
        assert esc.key == "leader_visits:QX01-L1:2025H1"
        assert esc.reason == f"县委常委{name}2025年上半年到挂钩联系点2次，少于3次"
        assert (esc.level, esc.level_name) == (1, "催办")
        mails = session.exec(select(OutboxMessage).where(col(OutboxMessage.key).like("escalation:leader_visits:%"))).all()
        to = {session.get(User, m.to_user_id).username for m in mails if m.to_user_id}  # type: ignore[union-attr]
        assert to == {"admin", "county-reviewer"}
        assert all("县领导到点不足" in m.subject for m in mails)


def test_the_second_half_year_is_checked_in_january_and_no_campaign_means_no_step(demo_county: Engine) -> None:
    launch(demo_county, ["QX01"], NOW, year=2025, definition="cadres_in_villages")
    tick(demo_county, at(dt.date(2026, 1, 5)))
    with Session(demo_county) as session:
        keys = sorted(e.key or "" for e in session.exec(select(Escalation).where(Escalation.trigger == "leader_visits")))
    assert keys == ["leader_visits:QX01-L1:2025H2"]  # QX02 launched no 2025 campaign: nothing recorded for it
