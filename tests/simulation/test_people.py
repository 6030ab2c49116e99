"""The form filler: plausible, seeded text for every field; hollow reports say “无” and list no village."""

from __future__ import annotations

import datetime as dt
import random

from domain.forms import validate_form
from models import OrgUnit
from simulation import fill_form
from simulation.people import HOLLOW
from tasks.registry import get_definition

TOWNSHIP = OrgUnit(id=1, code="QX01", name="青石镇", kind="township")
VILLAGE = OrgUnit(id=2, code="QX01003", name="石桥村", kind="village", parent_id=1)
DAY = dt.date(2026, 10, 20)


def _fill(form: str, subject: OrgUnit = TOWNSHIP, **kw: object) -> dict[str, object]:
    definition = get_definition("weak_village_rectification")
    return fill_form(definition, form, township=TOWNSHIP, subject=subject, villages=["QX01003", "QX01007"],
                     due_on=DAY, today=DAY, rng=random.Random(1), **kw)  # type: ignore[arg-type]


def test_a_filled_form_is_complete_and_seeded() -> None:
    definition = get_definition("weak_village_rectification")
    data = _fill("village_plan", VILLAGE)
    assert data == _fill("village_plan", VILLAGE)
    assert data["village"] == ["QX01003"] and data["responsible_person"] == "青书记"
    assert data["time_limit"] == (DAY + dt.timedelta(days=180)).isoformat()
    validate_form(definition.form("village_plan"), data, complete=True, villages=["QX01003"])
    report = _fill("quarterly_report")
    assert set(report) == {"basic_situation", "results", "main_problems", "next_steps"}
    assert "青石镇" in str(report["basic_situation"])


def test_a_revised_round_says_so_and_a_hollow_report_lists_nothing() -> None:
    revised = _fill("quarterly_report", round_no=2)
    assert all("第2轮修改" in str(v) for v in revised.values())
    hollow = _fill("weak_village_list", hollow=True, attachment_id=9)
    assert hollow["villages"] == [] and hollow["investigation"] in HOLLOW
    assert hollow["zero_report_reason"] in HOLLOW and hollow["committee_minutes"] == [9]
    listed = _fill("weak_village_list", attachment_id=9)
    assert listed["villages"] == ["QX01003", "QX01007"] and "zero_report_reason" not in listed
