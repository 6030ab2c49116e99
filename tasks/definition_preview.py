"""What a draft definition would do before it is published (administrators): its stages and deadlines on the
official calendar for a year and a township, the reminder days, the ladder's days for a deadline missed, and a
one-township dry run of the year on the virtual clock (``simulation.dry_run``, in its own process and its own
throwaway SQLite database). Nothing is written to the database."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from core.clock import china_date
from domain.calendar import CalendarSource, WorkCalendar, reminder_dates
from domain.definitions import Definition, DefinitionError
from domain.errors import DubanError, NotFound, ValidationFailed
from domain.escalation import level_dates
from domain.planning import CampaignPlan, ObligationPlan
from domain.timeline import Timeline, campaign_timeline
from models import CalendarYear, OrgUnit
from tasks.accounts import Principal, require_admin
from tasks.calendar import load_work_calendar
from tasks.launch import LaunchContext, Unit, check_year, plan_for
from tasks.registry import parse_source

DRY_RUN_VILLAGES = 2  # the township's first villages the dry run takes: enough for every kind of deadline
DRY_RUN_TIMEOUT = 600  # seconds; a shared 2-CPU machine under load runs a year in about one minute
PROFILES = {"on_time": "按时报送", "late": "逾期报送", "never": "从不报送", "hollow": "空泛报送"}


@dataclass
class Preview:
    """A draft on the calendar: what the page and the API show."""

    definition: Definition
    year: int
    township: OrgUnit
    stages: list[dict[str, Any]]
    deadlines: list[dict[str, Any]]
    warnings: list[str]
    calendar_sources: dict[int, str]
    timeline: Timeline
    dry_run: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)

    def public(self) -> dict[str, Any]:
        return {"key": self.definition.key, "name": self.definition.name, "year": self.year,
                "township": {"code": self.township.code, "name": self.township.name}, "stages": self.stages,
                "deadlines": self.deadlines, "warnings": self.warnings, "calendar": self.calendar_sources,
                "dry_run": self.dry_run}


def parse_draft(source: str) -> Definition:
    """The draft validated exactly as at load and at publishing; errors name the field and its line (422)."""
    try:
        return parse_source(source, "草稿")
    except DefinitionError as exc:
        raise ValidationFailed(f"定义未通过校验：{exc.detail}", errors=exc.errors) from None


def _township(session: Session, code: str) -> tuple[OrgUnit, list[OrgUnit]]:
    township = session.exec(select(OrgUnit).where(OrgUnit.code == code, OrgUnit.kind == "township")).first()
    if township is None:
        raise NotFound(f"乡镇编码“{code}”不存在（或不是乡镇）", field="township")
    villages = list(session.exec(select(OrgUnit).where(OrgUnit.parent_id == township.id, OrgUnit.kind == "village")
                                 .order_by(col(OrgUnit.code))))
    return township, villages


def _unit(o: OrgUnit) -> Unit:
    return Unit(o.id or 0, o.code, o.name, o.kind, o.key_contact_class, o.collective_income, o.parent_id)


def _deadline(definition: Definition, items: list[ObligationPlan], calendar: WorkCalendar) -> dict[str, Any]:
    """One deadline of the plan (all its subjects together): nominal and effective dates, reminders, ladder."""
    first = items[0]
    rule = definition.obligation(first.rule_key)
    reminders = rule.reminders or definition.reminders
    ladder = definition.escalation.ladder
    steps = level_dates(first.due_on, [lv.after_workdays for lv in ladder], calendar)
    return {
        "key": first.rule_key, "title": first.title, "kind": first.kind, "period": first.period,
        "subjects": len(items), "opens_on": first.opens_on, "nominal_due_on": first.nominal_due_on,
        "due_on": first.due_on, "moved": first.due_on != first.nominal_due_on, "policy": first.policy,
        "reminders": [{"offset": o, "on": d} for o, d in reminder_dates(first.due_on, reminders.offsets, reminders.unit, calendar)],
        "reminder_unit": reminders.unit,
        "ladder": [{"level": i, "name": lv.name, "on": d} for i, (lv, d) in enumerate(zip(ladder, steps, strict=True), 1)],
    }


def _deadlines(definition: Definition, plan: CampaignPlan, calendar: WorkCalendar) -> list[dict[str, Any]]:
    grouped: dict[tuple[str, str], list[ObligationPlan]] = defaultdict(list)
    for ob in plan.obligations:
        grouped[(ob.rule_key, ob.period)].append(ob)
    return sorted((_deadline(definition, items, calendar) for items in grouped.values()),
                  key=lambda d: (d["due_on"], d["key"]))


def plan_draft(session: Session, definition: Definition, year: int, township_code: str, today: dt.date) -> Preview:
    """The draft's stages and deadlines for the township and year, on the calendar loaded in the database."""
    check_year(definition, year)
    township, villages = _township(session, township_code)
    calendar = load_work_calendar(session)
    town, vills = _unit(township), [_unit(v) for v in villages]
    ctx = LaunchContext(definition, calendar, {town.code: town}, {town.id: vills})
    plan = plan_for(ctx, township.code, year, dt.date(year, 1, 1) - dt.timedelta(days=400))  # nothing already past
    stages = [{"seq": s.seq, "key": s.key, "name": s.name, "opens_on": s.opens_on, "closes_on": s.closes_on,
               "gate": s.gate_key, "status": "pending"} for s in plan.stages]
    years = sorted({d.year for s in plan.stages for d in (s.opens_on, s.closes_on)}
                   | {o.nominal_due_on.year for o in plan.obligations})
    warnings = list(plan.warnings)
    sources = {y: calendar.source(y).value for y in years}
    for y in years:
        if calendar.source(y) is CalendarSource.BUNDLED:
            warnings.append(f"{y}年的节假日安排尚未由管理员载入，暂按程序内置的国务院办公厅通知计算；请载入后再核对。")
    return Preview(definition, year, township, stages, _deadlines(definition, plan, calendar), warnings, sources,
                   campaign_timeline([(s.opens_on, s.closes_on) for s in plan.stages], calendar, today))


def _village_row(v: OrgUnit) -> dict[str, Any]:
    row: dict[str, Any] = {"code": v.code, "name": v.name}
    if v.collective_income is not None:
        row["collective_income"] = v.collective_income
    if v.key_contact_class:
        row["key_contact_class"] = v.key_contact_class
    return row


def dry_run(session: Session, source: str, preview: Preview, profile: str, seed: int = 1) -> dict[str, Any]:
    """The year for the township on the virtual clock, in a child process with its own temporary SQLite
    database (the simulation points its process's settings at that database; a server must not)."""
    _, villages = _township(session, preview.township.code)
    request = {
        "source": source, "year": preview.year, "profile": profile, "seed": seed,
        "township": {"code": preview.township.code, "name": preview.township.name},
        "villages": [_village_row(v) for v in villages[:DRY_RUN_VILLAGES]],
        "calendars": [{"year": c.year, "holidays": c.holidays, "makeup_workdays": c.makeup_workdays}
                      for c in session.exec(select(CalendarYear))],
    }
    # never the real database, even by accident: the child starts on an in-memory one and moves to its file
    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "DUBAN_DATABASE_URL": "sqlite://",
           "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)}
    try:
        done = subprocess.run([sys.executable, "-m", "simulation.dry_run"], input=json.dumps(request, ensure_ascii=False),
                              capture_output=True, text=True, timeout=DRY_RUN_TIMEOUT, env=env, check=False)
    except subprocess.TimeoutExpired:
        raise DubanError(f"试运行超过 {DRY_RUN_TIMEOUT} 秒未完成，已停止；请稍后再试或不做试运行", status=503) from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["（无输出）"])[-1]
        raise DubanError(f"试运行未能完成：{last}", status=422)
    summary: dict[str, Any] = json.loads(done.stdout)
    summary["profile"] = {"key": profile, "label": PROFILES[profile]}
    summary["villages"] = [v.name for v in villages[:DRY_RUN_VILLAGES]]
    return summary


def preview_draft(session: Session, principal: Principal, now: dt.datetime, source: str, year: int, township: str,
                  *, simulate: bool = True, profile: str = "late") -> Preview:
    """Validate the draft, plan it for the township and year, and (``simulate``) dry-run its year."""
    require_admin(principal)
    if profile not in PROFILES:
        raise ValidationFailed(f"未知的报送行为“{profile}”", errors=[{"field": "profile", "message": f"one of {', '.join(PROFILES)}"}])
    definition = parse_draft(source)
    preview = plan_draft(session, definition, year, township, china_date(now))
    if simulate:
        preview.dry_run = dry_run(session, source, preview, profile)
    return preview
