"""A draft definition's year for one township, on the virtual clock, in a throwaway SQLite database.

``python -m simulation.dry_run`` reads a JSON request on standard input — the draft's YAML (``source``), the
``year``, the township and a few of its villages (org rows), the holiday arrangements loaded in the real database
(``calendars``), the people model's ``profile`` and ``seed`` — and writes the summary as JSON on standard output:
the mails the year would cause by kind and the escalations by ladder level. It runs in its own process (the
definition preview, :mod:`tasks.definition_preview`, starts it) because the simulation points the process's
settings at its database: a server must never share that. The database is a file in a temporary directory,
removed afterwards; nothing else is opened.

The days are those of :mod:`simulation.run` without SMTP (the outbox is counted, not delivered): the tick at
09:00, the township's liaison at 10:00, the reviewers at 11:00.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from core.db import get_engine, session_scope
from domain import escalation as escalation_rules
from domain.definitions import Definition
from models import CalendarYear, DefinitionVersion, Escalation, Obligation, OutboxMessage, Stage
from models.migrate import upgrade
from simulation.county import account_specs
from simulation.people import People, at
from simulation.report import KIND_LABELS
from simulation.run import settings_for
from tasks.accounts import create_user
from tasks.calendar import load_work_calendar
from tasks.launch import launch_many
from tasks.org import import_org_units
from tasks.registry import get_definitions, parse_source, refresh, shipped
from tasks.tick import run_tick

COUNTY = {"code": "DRYRUN", "name": "试运行县", "kind": "county"}


def _install(engine: Engine, request: dict[str, Any], now: dt.datetime) -> Definition:
    """The draft as the newest version of its key, the real calendars, the township and its villages, the accounts."""
    draft = parse_source(request["source"], "draft")
    with session_scope(engine) as s:
        base = shipped()[draft.key].version if draft.key in shipped() else 0
        s.add(DefinitionVersion(key=draft.key, version=base + 1, source=request["source"], note="试运行", published_at=now))
        for cal in request.get("calendars", []):
            s.add(CalendarYear(year=cal["year"], holidays=cal["holidays"], makeup_workdays=cal["makeup_workdays"],
                               loaded_at=now))
        rows = [COUNTY, {**request["township"], "kind": "township", "parent": COUNTY["code"]},
                *({**v, "kind": "village", "parent": request["township"]["code"]} for v in request.get("villages", []))]
        import_org_units(s, [(i + 2, row) for i, row in enumerate(rows)], source="dry-run")
        s.flush()
        for spec in account_specs({request["township"]["code"]: request["township"]["name"]}):
            create_user(s, {**spec, "unit": spec["unit"] if spec["unit"] != "QX" else COUNTY["code"]}, now)
        refresh(s)
    return get_definitions()[draft.key]


def _span(engine: Engine, definition: Definition) -> tuple[dt.date, dt.date]:
    """From the first stage's opening to the day the ladder of the last deadline is climbed."""
    with Session(engine) as s:
        first = s.exec(select(func.min(Stage.opens_on))).one()
        last_close = s.exec(select(func.max(Stage.closes_on))).one()
        last_due = s.exec(select(func.max(Obligation.due_on))).one() or last_close
        calendar = load_work_calendar(s)
    delays = [lv.after_workdays for lv in definition.escalation.ladder]
    return first, max(last_close, escalation_rules.level_dates(last_due, delays, calendar)[-1])


def _summary(engine: Engine, definition: Definition, start: dt.date, end: dt.date, people: People) -> dict[str, Any]:
    with Session(engine) as s:
        kinds = Counter(key.split(":")[0] for key in s.exec(select(OutboxMessage.key)))
        levels = Counter(s.exec(select(Escalation.level).where(col(Escalation.level).is_not(None))))
        statuses = Counter(s.exec(select(Obligation.status)))
    ladder = definition.escalation.ladder
    return {
        "period": [start.isoformat(), end.isoformat()], "days": (end - start).days + 1,
        "mail": [{"kind": k, "label": KIND_LABELS.get(k, k), "count": n} for k, n in sorted(kinds.items())],
        "mail_total": sum(kinds.values()),
        "escalations": [{"level": i, "name": lv.name, "count": levels.get(i, 0)} for i, lv in enumerate(ladder, 1)],
        "obligations": dict(sorted(statuses.items())),
        "submissions": people.counts["submissions"], "returns": people.counts["returns"],
        "refused_actions": people.errors[:5],
    }


def _run_days(engine: Engine, people: People, start: dt.date, end: dt.date) -> None:
    """Every day from ``start`` to ``end`` as :mod:`simulation.run` steps it, without SMTP."""
    day = start
    while day <= end:
        run_tick(engine, at(day, 9))
        people.submit(engine, day)
        people.review(engine, day)
        day += dt.timedelta(days=1)


def dry_run(request: dict[str, Any]) -> dict[str, Any]:
    """Launch the draft for the township, step through its year and count what it caused."""
    tmp = Path(tempfile.mkdtemp(prefix="duban-dry-run-"))
    url = f"sqlite:///{tmp / 'dry-run.db'}"
    try:
        with settings_for(url):
            upgrade(url)
            engine = get_engine(url)
            year, code = int(request["year"]), request["township"]["code"]
            definition = _install(engine, request, at(dt.date(year - 1, 1, 1), 8))
            with Session(engine) as s:
                launch_day = min(st.opens_on for st in _plan_stages(definition, year, s))
            for item in launch_many(engine, definition.key, [code], year, at(launch_day, 8, 30)):
                if item["status"] != "created":
                    raise RuntimeError(f"launch failed: {item.get('detail')}")
            people = People(int(request.get("seed", 1)), 2, {definition.key: definition},
                             {code: request.get("profile", "late")})
            start, end = _span(engine, definition)
            start = max(start, launch_day)
            _run_days(engine, people, start, end)
            return _summary(engine, definition, start, end, people)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _plan_stages(definition: Definition, year: int, s: Session) -> list[Any]:
    from domain.planning import OrgRef, plan_campaign

    plan = plan_campaign(definition, OrgRef("T", "T", "township", None, None), [], year, load_work_calendar(s),
                         dt.date(year, 1, 1) - dt.timedelta(days=400))
    return plan.stages


def main() -> None:
    request = json.loads(sys.stdin.read())
    json.dump(dry_run(request), sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
