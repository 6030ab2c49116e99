"""A campaign launched after some of its deadlines: waive them, or owe each one-off deadline by a catch-up date."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from domain.calendar import WorkCalendar
from domain.definitions import load_definitions
from domain.planning import CampaignPlan, LateDeadline, LateStart, OrgRef, apply_late_start, plan_campaign
from domain.vocabulary import LatePolicy, ObligationStatus, StageStatus

DEFINITIONS = load_definitions(Path(__file__).resolve().parents[2] / "definitions")
TOWNSHIP = OrgRef(code="QX01", name="青石镇", kind="township")
VILLAGES = [OrgRef(code="QX01001", name="石门村", kind="village"), OrgRef(code="QX01002", name="龙潭村", kind="village")]
JULY = dt.date(2025, 7, 1)  # a Tuesday; five-good's mobilisation stage is over, monthly reports of H1 are past


def launched(late: LateStart) -> tuple[CampaignPlan, list[LateDeadline]]:
    definition = DEFINITIONS["five_good_model_site"]
    plan = plan_campaign(definition, TOWNSHIP, VILLAGES, 2025, WorkCalendar(), JULY)
    return apply_late_start(plan, definition, WorkCalendar(), JULY, late)


def test_waiving_lists_every_past_deadline_and_changes_nothing() -> None:
    definition = DEFINITIONS["five_good_model_site"]
    before = plan_campaign(definition, TOWNSHIP, VILLAGES, 2025, WorkCalendar(), JULY)
    after, affected = apply_late_start(before, definition, WorkCalendar(), JULY, LateStart())
    assert after == before
    assert affected and all(a.catch_up_on is None and a.due_on < JULY for a in affected)
    assert len(affected) == sum(1 for o in before.obligations if o.status == ObligationStatus.WAIVED)


def test_catching_up_owes_one_off_deadlines_ten_working_days_after_launch() -> None:
    plan, affected = launched(LateStart(LatePolicy.CATCH_UP, 10))
    due = dt.date(2025, 7, 15)  # ten working days after Tuesday 1 July
    caught = [a for a in affected if a.catch_up_on]
    assert caught and all(a.catch_up_on == due for a in caught)
    rules = {a.key.split(":")[0] for a in caught}
    assert not rules & {o.key for o in DEFINITIONS["five_good_model_site"].obligations if o.recurring}
    by_key = {o.key: o for o in plan.obligations}
    for a in caught:
        assert by_key[a.key].status == ObligationStatus.OPEN and by_key[a.key].due_on == due
    stage = next(s for s in plan.stages if s.key == by_key[caught[0].key].stage_key)
    assert stage.status == StageStatus.OPEN and stage.closes_on == due
    assert any("限2025年7月15日前补报" in w for w in plan.warnings)


def test_past_periods_of_a_recurring_report_stay_waived_on_a_catch_up() -> None:
    plan, affected = launched(LateStart(LatePolicy.CATCH_UP, 10))
    monthly = [a for a in affected if a.catch_up_on is None]
    assert monthly and all(a.period.startswith("2025-0") for a in monthly)
    assert any("不再补报" in w for w in plan.warnings)
