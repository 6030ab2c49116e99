"""launch_many: a chunk of townships written together, each exactly as planned, one failure losing no other."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from core.clock import CHINA_TZ, china_date
from models import AuditEvent, Campaign, Obligation, OrgUnit, Stage, Submission
from tasks.audit import verify_chain
from tasks.launch import launch_many, load_context, plan_for
from tasks.registry import get_definition

WEAK = "weak_village_rectification"
QUIET = dt.datetime(2025, 1, 2, 9, tzinfo=CHINA_TZ)  # nothing open yet
OPEN = dt.datetime(2025, 9, 25, 9, tzinfo=CHINA_TZ)  # the list's window is open at launch


def launch_events(session: Session) -> list[AuditEvent]:
    return list(session.exec(select(AuditEvent).where(col(AuditEvent.action) == "campaign.launch")))


def test_a_chunk_writes_every_township_as_planned(demo_county: Engine) -> None:
    codes = ["QX01", "QX02", "QX03", "QX04"]
    items = launch_many(demo_county, WEAK, codes, 2025, OPEN)
    assert [(i["township"], i["status"]) for i in items] == [(c, "created") for c in codes]
    definition = get_definition(WEAK)
    with Session(demo_county) as s:
        ctx = load_context(s, WEAK, codes)
        units = {u.id: u.code for u in s.exec(select(OrgUnit))}
        events = {e.subject_id: e for e in launch_events(s)}
        for item in items:
            plan = plan_for(ctx, item["township"], 2025, china_date(OPEN))
            campaign = s.get(Campaign, item["campaign_id"])
            assert campaign is not None and units[campaign.township_id] == item["township"]
            assert campaign.calendar_warnings == plan.warnings
            stages = {st.id: st for st in s.exec(select(Stage).where(col(Stage.campaign_id) == campaign.id))}
            assert sorted((st.key, st.seq, st.opens_on, st.closes_on, st.status) for st in stages.values()) == sorted(
                (p.key, p.seq, p.opens_on, p.closes_on, p.status) for p in plan.stages)
            rows = list(s.exec(select(Obligation).where(col(Obligation.campaign_id) == campaign.id)))
            assert sorted((o.key, stages[o.stage_id].key if o.stage_id else None, units[o.subject_id], o.opens_on,
                           o.due_on, o.status) for o in rows) == sorted(
                (p.key, p.stage_key, p.subject_code, p.opens_on, p.due_on, p.status) for p in plan.obligations)
            # the windows open at launch have their drafts, as a single launch makes them
            with_form = {o.id for o in rows if o.status == "open" and definition.obligation(o.rule_key).form}
            drafts = set(s.exec(select(Submission.obligation_id).where(col(Submission.campaign_id) == campaign.id)))
            assert with_form and drafts == with_form
            event = events[campaign.id or 0]
            assert event.township_id == campaign.township_id
            assert event.after == {"definition": WEAK, "version": 1, "year": 2025, "stages": len(plan.stages),
                                   "obligations": len(plan.obligations)}
        assert len(events) == len(codes) and verify_chain(s).ok


def test_a_township_the_chunk_cannot_write_is_left_out_alone(demo_county: Engine) -> None:
    # QX01 twice in one chunk: the chunk's insert hits the unique key and is written again township by township
    items = launch_many(demo_county, WEAK, ["QX01", "QX02", "QX01", "XX99", "QX03"], 2025, QUIET)
    assert [(i["township"], i["status"]) for i in items] == [
        ("QX01", "created"), ("QX02", "created"), ("QX01", "exists"), ("XX99", "failed"), ("QX03", "created")]
    assert items[2]["campaign_id"] == items[0]["campaign_id"] and "已经启动" in items[2]["detail"]
    assert "XX99" in items[3]["detail"]
    with Session(demo_county) as s:
        assert s.exec(select(func.count()).select_from(Campaign)).one() == 3
        assert sorted(e.subject_id for e in launch_events(s)) == sorted(
            items[i]["campaign_id"] for i in (0, 1, 4))
        stages = s.exec(select(func.count()).select_from(Stage)).one()
        obligations = s.exec(select(func.count()).select_from(Obligation)).one()
        assert verify_chain(s).ok
    again = launch_many(demo_county, WEAK, ["QX03", "QX02", "QX01"], 2025, QUIET)
    assert [(i["status"], i["campaign_id"]) for i in again] == [
        ("exists", items[4]["campaign_id"]), ("exists", items[1]["campaign_id"]), ("exists", items[0]["campaign_id"])]
    with Session(demo_county) as s:
        assert s.exec(select(func.count()).select_from(Stage)).one() == stages
        assert s.exec(select(func.count()).select_from(Obligation)).one() == obligations
        assert len(launch_events(s)) == 3
