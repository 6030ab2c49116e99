"""``POST /api/v1/definitions/preview`` (issue 19): a draft validated, its stages and deadlines on the official
calendar for a township and year (effective dates, reminder days, the ladder's dates), the calendar warning, and
a one-township dry run of the year in a throwaway database — with the real database left as it was."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import httpx
from sqlalchemy.engine import Engine

from core.clock import FakeClock
from core.db import session_scope
from tasks.calendar import read_arrangement_file, save_arrangement
from tests.support.databases import changed_tables, db_snapshot
from tests.support.review_chain import API, Users

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "examples" / "definition-template.yaml"
HOLIDAYS_2027 = ROOT / "examples" / "holidays-2027.yaml"


def _body(source: str, year: int = 2027, **extra: object) -> dict[str, object]:
    return {"source": source, "year": year, "township": "QX01", **extra}


async def test_the_template_previews_with_a_dry_run_and_writes_nothing(
        anon: httpx.AsyncClient, users: Users, clock: FakeClock, demo_county: Engine) -> None:
    admin = await users("admin")
    before = db_snapshot(demo_county)
    r = await anon.post(f"{API}/definitions/preview", headers=admin, json=_body(TEMPLATE.read_text(encoding="utf-8")))
    assert r.status_code == 200, r.text
    body = r.json()
    assert [s["name"] for s in body["stages"]] == ["动员部署", "组织实施", "总结验收"]
    assert body["stages"][0]["opens_on"] == "2027-03-01" and body["stages"][2]["closes_on"] == "2027-12-31"
    titles = [d["title"] for d in body["deadlines"]]
    assert titles[0] == "报送工作方案" and titles.count("月度进展报告") == 4 and titles[-1] == "报送工作总结"
    plan = body["deadlines"][0]
    # five days before the stage closes on 31 March: 26 March 2027 is a Friday
    assert (plan["nominal_due_on"], plan["due_on"], plan["moved"]) == ("2027-03-26", "2027-03-26", False)
    assert [x["on"] for x in plan["reminders"]] == ["2027-03-19", "2027-03-25", "2027-03-26"]
    assert [(x["name"], x["on"]) for x in plan["ladder"]] == [
        ("催办", "2027-03-29"), ("督办", "2027-04-01"), ("约谈", "2027-04-08")]
    # 2027's arrangement is not loaded: weekends only, and a warning says so
    assert body["calendar"]["2027"] == "weekends_only"
    assert any("2027年的法定节假日和调休安排尚未载入" in w for w in body["warnings"])
    # 25 April 2027 is a Sunday: moved to the Friday before (previous_workday)
    april = next(d for d in body["deadlines"] if d["key"] == "monthly_report" and d["nominal_due_on"] == "2027-04-25")
    assert april["due_on"] == "2027-04-23" and april["moved"]
    run = body["dry_run"]
    assert run["profile"]["key"] == "late" and run["villages"]
    mail = {m["kind"]: m["count"] for m in run["mail"]}
    assert mail["request"] == 6 and mail["reminder"] > 0 and run["mail_total"] == sum(mail.values())
    assert [e["name"] for e in run["escalations"]] == ["催办", "督办", "约谈"]
    assert run["escalations"][0]["count"] > 0  # a township that reports late is urged
    assert changed_tables(before, db_snapshot(demo_county)) == []


async def test_once_the_year_is_loaded_the_dates_follow_its_holidays_and_makeup_days(
        anon: httpx.AsyncClient, users: Users, clock: FakeClock, demo_county: Engine) -> None:
    with session_scope(demo_county) as s:
        save_arrangement(s, read_arrangement_file(HOLIDAYS_2027), clock.now())
    r = await anon.post(f"{API}/definitions/preview", headers=await users("admin"),
                        json=_body(TEMPLATE.read_text(encoding="utf-8"), simulate=False))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["calendar"]["2027"] == "loaded" and body["warnings"] == [] and body["dry_run"] is None
    # 5 April (清明) is a holiday: the third step of the ladder comes a day later
    assert [x["on"] for x in body["deadlines"][0]["ladder"]] == ["2027-03-29", "2027-04-01", "2027-04-09"]
    # Sunday 25 April is worked instead of a holiday (调休): the report stays due that day
    april = next(d for d in body["deadlines"] if d["key"] == "monthly_report" and d["nominal_due_on"] == "2027-04-25")
    assert april["due_on"] == "2027-04-25" and not april["moved"]


async def test_an_invalid_draft_is_refused_with_the_field_and_its_line(
        anon: httpx.AsyncClient, users: Users, demo_county: Engine) -> None:
    source = TEMPLATE.read_text(encoding="utf-8").replace("    closes: {month: 3, day: 31}", "    closes: {month: 13, day: 31}")
    line = next(i for i, text in enumerate(source.splitlines(), 1) if "month: 13" in text)
    r = await anon.post(f"{API}/definitions/preview", headers=await users("admin"), json=_body(source, simulate=False))
    assert r.status_code == 422, r.text
    errors = r.json()["errors"]
    assert errors[0]["field"] == "stages[0].closes.month" and errors[0]["line"] == line
    broken = await anon.post(f"{API}/definitions/preview", headers=await users("admin"),
                             json=_body("key: x\nname: [unclosed\n", simulate=False))
    assert broken.status_code == 422 and broken.json()["errors"][0]["line"] == 3


async def test_only_administrators_preview_and_the_township_must_exist(
        anon: httpx.AsyncClient, users: Users, demo_county: Engine) -> None:
    source = TEMPLATE.read_text(encoding="utf-8")
    for who in ("county-reviewer", "qx01-liaison"):
        r = await anon.post(f"{API}/definitions/preview", headers=await users(who), json=_body(source, simulate=False))
        assert r.status_code == 403, r.text
    r = await anon.post(f"{API}/definitions/preview", headers=await users("admin"),
                        json={"source": source, "year": 2027, "township": "NOPE", "simulate": False})
    assert r.status_code == 404 and "NOPE" in r.json()["detail"]
    r = await anon.post(f"{API}/definitions/preview", headers=await users("admin"), json=_body(source, year=2040))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "year"


def test_the_template_is_not_a_shipped_definition() -> None:
    from tasks.registry import shipped

    assert "example_campaign" not in shipped()
    assert dt.date(2027, 3, 26).weekday() == 4  # the Friday the first test relies on
