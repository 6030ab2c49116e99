"""B6 "peers": duban against what it is built on (Prefect) and against a BPMN engine (SpiffWorkflow).

(a) **launch**: one township's weak-village rectification launched through the real single-township
path, the Prefect flow ``flows.launch.launch_campaign`` (one flow run, one task, one transaction), against
the sum of a no-op Prefect flow run of the same shape (an async flow awaiting one no-op task) and the raw
DBAPI insert of the same rows (that campaign, its stages and obligations, read back from duban's database,
one transaction). Medians over ``BENCH_PEERS_LAUNCHES`` townships, each its own flow run.

(b) **spiff**: one year of the five-good model-site campaign (definitions/five_good_model_site.yaml) for
N townships, on a virtual clock, in both systems, with the same people doing the same things on the same
days (see ``schedule``):

* duban: the campaigns launched with ``tasks.launch.launch_many`` in chunks of 50 (what the batch flow's
  tasks run; B1 showed Prefect adds next to nothing); then for every day of the year the tick's steps at
  09:00 (``tasks.tick.run_tick``: stages, missed deadlines, the ladder, opening reporting windows
  with their notice mails, reminders, digests), the liaisons' submissions at 10:00 and the reviewers'
  decisions at 11:00 through ``tasks.review`` as the form's 提交 and the simulated liaisons do (the system's
  draft taken over, filled and submitted in one call; evidence attached to the taken-over draft first where the
  form asks for a file; approve or return), one transaction per action, on SQLite. Mail is enqueued, not delivered.
* SpiffWorkflow 3.2: ``bench/model_site.bpmn`` (the stages, both gates with their return loops, a window
  timer per monthly report and per stage, a deadline timer on every submit task), one workflow per
  township, its dates taken from duban's own plan of the campaign. Every workflow's state lives in a
  SQLite table (same connection settings as duban's engine) as ``BpmnWorkflowSerializer`` JSON, with the
  time of its next timer in an indexed column; at 09:00 the workflows whose timer is due are loaded,
  refreshed, advanced and saved; at 10:00 and 11:00 the acting township's workflow is loaded, its ready
  user task completed with the same form data duban stores, the engine advanced and the state saved, one
  transaction per action. The timers read a virtual clock (the timer module's ``datetime.now`` replaced).

The work is not identical: duban also writes the audit hash chain, the outbox mails (window notices,
review notices, digests), the obligations' statuses and the reviews as rows; the BPMN model only keeps
its workflow state. In this schedule everyone acts 12 days before each deadline, so no escalation or
overdue timer fires in either system; both only have to find that out every day. Reminders have no
counterpart in the BPMN model; the schedule avoids them except twice per township (the June report's
first reminder falls on its morning, and the returned plan is open again after its first reminder day).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import random
import statistics
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bench.common import BenchDB, Figure, backends, temp_databases, use_database

CHINA = ZoneInfo("Asia/Shanghai")
BPMN = Path(__file__).resolve().parent / "model_site.bpmn"
PROCESS = "model_site_campaign"

LAUNCH_DEFINITION = "weak_village_rectification"
LAUNCH_YEAR = 2025
LAUNCH_NOW = dt.datetime(2025, 1, 2, 9, 0, tzinfo=CHINA)
LAUNCH_TARGET = 1.5

SPIFF_DEFINITION = "five_good_model_site"
SPIFF_YEAR = 2026
SPIFF_TARGET = 0.5  # duban ≥ 2× faster: duban ÷ SpiffWorkflow ≤ 0.5
ACT_DAYS_BEFORE_DUE = 12
VILLAGES = 2
SEED = 2027


def launches(quick: bool) -> int:
    return int(os.environ.get("BENCH_PEERS_LAUNCHES", "4" if quick else "30"))


def peers_year() -> bool:
    """Whether B6 runs its year against SpiffWorkflow (b): hours at 1,000 townships on 2 CPUs, so ``make bench``
    sets ``BENCH_PEERS_YEAR=0`` and ``make bench-peers`` runs it on its own."""
    return os.environ.get("BENCH_PEERS_YEAR", "1") != "0"


def spiff_townships(quick: bool) -> int:
    return int(os.environ.get("BENCH_PEERS_TOWNSHIPS", "5" if quick else "1000"))


def spiff_last_day(quick: bool, year: int = SPIFF_YEAR) -> dt.date:
    """The last simulated day: 31 December (quick: 30 April, through the plan gate and the first report)."""
    return dt.date(year, 4, 30) if quick else dt.date(year, 12, 31)


# ---- (a) one township's launch against Prefect's own cost plus the raw insert ------------------------------


def _noop_flow() -> Any:
    """A flow with nothing in it: Prefect's own cost of a flow run (the flow with one task is
    :func:`bench.launch.noop_launch_flow` with one chunk)."""
    from prefect import flow

    @flow(name="noop_flow", validate_parameters=False)
    async def noop_flow() -> dict[str, Any]:
        return {}

    return noop_flow


def _campaign_rows(data: dict[str, tuple[list[str], list[tuple[Any, ...]]]], campaign_id: int) -> dict[str, Any]:
    out = {}
    for table, key in (("campaigns", "id"), ("stages", "campaign_id"), ("obligations", "campaign_id")):
        columns, rows = data[table]
        i = columns.index(key)
        out[table] = (columns, [r for r in rows if r[i] == campaign_id])
    return out


def launch_sample(backend: str, root: Path, count: int) -> Figure:
    from bench.launch import bulk_insert, noop_launch_flow, read_rows, seed_county
    from core.db import get_engine, reset_engines
    from flows.launch import launch_campaign
    from tasks.launch import all_township_codes

    with_task, bare = noop_launch_flow(), _noop_flow()
    with temp_databases(backend, root) as dbs:
        duban_db, baseline_db = dbs.create("launch"), dbs.create("baseline")
        seed_county(duban_db, townships=count)
        from sqlmodel import Session

        with Session(get_engine()) as s:
            codes = all_township_codes(s)
        duban_times, flow_times, bare_times, ids = [], [], [], []
        load_before = os.getloadavg()[0]
        for code in codes:
            start = time.perf_counter()
            result = asyncio.run(launch_campaign(LAUNCH_DEFINITION, code, LAUNCH_YEAR, now=LAUNCH_NOW))
            duban_times.append(time.perf_counter() - start)
            if result["status"] != "created":
                raise RuntimeError(f"launch of {code}: {result}")
            ids.append(result["campaign_id"])
            start = time.perf_counter()
            asyncio.run(with_task(1))  # the shape of launch_campaign: one flow run awaiting one task run
            flow_times.append(time.perf_counter() - start)
            start = time.perf_counter()
            asyncio.run(bare())
            bare_times.append(time.perf_counter() - start)
        reset_engines()
        data = {t: read_rows(duban_db, t) for t in ("org_units", "campaigns", "stages", "obligations")}
        bulk_insert(baseline_db, data, ("org_units",))  # not timed
        insert_times, rows = [], []
        for campaign_id in ids:
            part = _campaign_rows(data, campaign_id)
            insert_times.append(bulk_insert(baseline_db, part, ("campaigns", "stages", "obligations")))
            rows.append(sum(len(v[1]) for v in part.values()))
    load_after = os.getloadavg()[0]
    duban = statistics.median(duban_times)
    flow_s, insert_s = statistics.median(flow_times), statistics.median(insert_times)
    return Figure(
        benchmark="B6",
        name="launch one township vs no-op flow + raw insert",
        backend=backend,
        duban_s=duban,
        baseline_s=flow_s + insert_s,
        target_ratio=LAUNCH_TARGET,
        details={
            "definition": LAUNCH_DEFINITION,
            "townships": count,
            "villages_per_township": 10,
            "rows_per_township": statistics.median(rows),
            "duban_launch_campaign_ms": round(duban * 1000, 1),
            "noop_flow_with_task_ms": round(flow_s * 1000, 1),
            "noop_flow_bare_ms": round(statistics.median(bare_times) * 1000, 1),
            "raw_insert_ms": round(insert_s * 1000, 2),
            "loadavg_1m_before_after": [round(load_before, 1), round(load_after, 1)],
            "samples_ms": {
                "duban": [round(x * 1000, 1) for x in duban_times],
                "noop_flow_with_task": [round(x * 1000, 1) for x in flow_times],
                "raw_insert": [round(x * 1000, 2) for x in insert_times],
            },
        },
    )


# ---- (b) a year of the model-site campaign: duban against SpiffWorkflow ------------------------------------


@dataclass(frozen=True)
class Action:
    """One person's step, the same in both systems: ``submit`` an obligation's answer or ``decide`` on it."""

    day: dt.date
    hour: int
    kind: str  # submit | decide
    obligation: str  # the obligation's key in duban's plan
    rule: str  # implementation_plan | ledger_progress | self_check_summary | application
    decision: str = ""  # approve | return (decide only)
    level: int = 0  # the review level deciding

    @property
    def at(self) -> dt.datetime:
        return dt.datetime(self.day.year, self.day.month, self.day.day, self.hour, tzinfo=CHINA)


SUBMIT_TASK = {"implementation_plan": "submit_plan", "ledger_progress": "submit_ledger",
               "self_check_summary": "submit_self_check", "application": "submit_application"}
REVIEW_TASKS = {"implementation_plan": ("review_plan",), "ledger_progress": ("review_ledger",),
                "self_check_summary": ("review_self_check",),
                "application": ("review_application_township", "review_application_county")}


def schedule(plan: Any, year: int) -> tuple[list[Action], dict[str, Any]]:
    """Who does what when (every township alike), and the BPMN process's dates, from duban's plan of one
    township's campaign: each answer 12 days before its due date (not before its window opens), decided
    the next morning; the implementation plan is returned once and approved on resubmission; the
    self-check and the application are sent in December (their deadlines fall in the next year)."""
    end = dt.date(year, 12, 31)
    obs = {o.key: o for o in plan.obligations}
    stages = {s.key: s for s in plan.stages}
    actions: list[Action] = []

    def one_day(d: dt.date, n: int) -> dt.date:
        return d + dt.timedelta(days=n)

    plan_ob = next(o for o in plan.obligations if o.rule_key == "implementation_plan")
    d = max(plan_ob.opens_on, plan_ob.due_on - dt.timedelta(days=ACT_DAYS_BEFORE_DUE))
    actions += [Action(d, 10, "submit", plan_ob.key, plan_ob.rule_key),
                Action(one_day(d, 1), 11, "decide", plan_ob.key, plan_ob.rule_key, "return"),
                Action(one_day(d, 2), 10, "submit", plan_ob.key, plan_ob.rule_key),
                Action(one_day(d, 3), 11, "decide", plan_ob.key, plan_ob.rule_key, "approve")]
    ledger = sorted((o for o in plan.obligations if o.rule_key == "ledger_progress"), key=lambda o: o.due_on)
    for o in ledger:
        if o.due_on > end:
            continue
        d = max(o.opens_on, o.due_on - dt.timedelta(days=ACT_DAYS_BEFORE_DUE))
        actions += [Action(d, 10, "submit", o.key, o.rule_key), Action(one_day(d, 1), 11, "decide", o.key, o.rule_key, "approve")]
    check = next(o for o in plan.obligations if o.rule_key == "self_check_summary")
    app = next(o for o in plan.obligations if o.rule_key == "application")
    d = max(check.opens_on, dt.date(year, 12, 1))
    actions += [Action(d, 10, "submit", check.key, check.rule_key),
                Action(one_day(d, 1), 11, "decide", check.key, check.rule_key, "approve"),
                Action(one_day(d, 7), 10, "submit", app.key, app.rule_key),
                Action(one_day(d, 8), 11, "decide", app.key, app.rule_key, "approve", 0),
                Action(one_day(d, 9), 11, "decide", app.key, app.rule_key, "approve", 1)]
    actions.sort(key=lambda a: (a.day, a.hour))

    def iso(day: dt.date, hour: int) -> str:
        return dt.datetime(day.year, day.month, day.day, hour, tzinfo=CHINA).isoformat()

    process_data = {
        "plan_due": iso(obs[plan_ob.key].due_on, 17),
        "implement_opens": iso(stages["implement"].opens_on, 0),
        "inspect_opens": iso(stages["inspect"].opens_on, 0),
        "ledger_opens": [iso(o.opens_on, 0) for o in ledger],
        "ledger_due": [iso(o.due_on, 17) for o in ledger],
        "self_check_due": iso(check.due_on, 17),
        "application_due": iso(app.due_on, 17),
    }
    return actions, process_data


def _form_data(definition: Any, rule: str, township: Any, village_codes: list[str], due_on: dt.date, today: dt.date,
               attachment_id: int | None, round_: int, seed: str) -> dict[str, Any]:
    from simulation import fill_form

    form = definition.form(definition.obligation(rule).form or "")
    return fill_form(definition, form.key, round_no=round_, township=township, subject=township, villages=village_codes,
                     due_on=due_on, today=today, attachment_id=attachment_id, rng=random.Random(seed))


# -- duban's year


@dataclass
class DubanTown:
    code: str
    township: Any
    villages: list[str]
    campaign_id: int = 0
    liaison_id: int = 0
    secretary_id: int = 0


def duban_setup(db: BenchDB, townships: int, launch_at: dt.datetime) -> tuple[list[DubanTown], Any, dict[str, int]]:
    """The county, its accounts (the simulation's pattern), and the plan of one township (not timed)."""
    from sqlmodel import Session, col, select

    from core.db import get_engine, session_scope
    from models import OrgUnit, User
    from simulation import account_specs, county_rows
    from tasks.accounts import create_user
    from tasks.launch import load_context, plan_for
    from tasks.org import import_org_units

    use_database(db.url)
    engine = get_engine()
    with session_scope(engine) as s:
        import_org_units(s, county_rows(SEED, townships, VILLAGES), source="bench")
        s.flush()
        names = {t.code: t.name for t in s.exec(select(OrgUnit).where(OrgUnit.kind == "township"))}
        for spec in account_specs(names):
            create_user(s, spec, launch_at)
    with Session(engine, expire_on_commit=False) as s:
        units = list(s.exec(select(OrgUnit).order_by(col(OrgUnit.code))))
        users = {u.username: u.id or 0 for u in s.exec(select(User))}
        ctx = load_context(s, SPIFF_DEFINITION, None)
        plan = plan_for(ctx, sorted(names)[0], SPIFF_YEAR, launch_at.date())
    towns = []
    for t in (u for u in units if u.kind == "township"):
        villages = sorted(v.code for v in units if v.parent_id == t.id)
        lower = t.code.lower()
        towns.append(DubanTown(t.code, t, villages, liaison_id=users[f"{lower}-liaison"],
                               secretary_id=users[f"{lower}-secretary"]))
    return towns, plan, {"admin": users["admin"], "county-reviewer": users["county-reviewer"]}


def _duban_submit(s: Any, town: DubanTown, action: Action, definition: Any) -> None:
    from sqlmodel import select

    from domain.definitions import FieldType
    from models import Obligation, Submission, User
    from tasks import review
    from tasks.accounts import principal_for

    who = principal_for(s, s.get(User, town.liaison_id))
    ob = s.exec(select(Obligation).where(Obligation.campaign_id == town.campaign_id, Obligation.key == action.obligation)).one()
    sub = s.exec(select(Submission).where(Submission.obligation_id == ob.id)).first()
    if sub is None:
        sub = review.create_submission(s, who, action.at, obligation_id=ob.id or 0, subject=None, data={})
    attachment_id = None
    form = definition.form(definition.obligation(action.rule).form or "")
    if any(f.type is FieldType.FILE for f in form.fields):
        held = [v for v in (sub.data or {}).values() if isinstance(v, list) and v and isinstance(v[0], int)]
        if not held and sub.created_by is None:  # the system's draft is taken over before anything is attached
            sub = review.create_submission(s, who, action.at, obligation_id=ob.id or 0, subject=None, data={})
        attachment_id = held[0][0] if held else review.add_attachment(
            s, who, action.at, sub.id or 0, filename="党委会议纪要.pdf", content_type="application/pdf",
            content=b"%PDF-1.4\n% duban bench\n%%EOF\n").id
    round_ = sub.round + (sub.status == "returned")
    data = _form_data(definition, action.rule, town.township, town.villages, ob.due_on, action.day, attachment_id,
                      round_, f"{town.code}:{action.obligation}:{round_}")
    if sub.created_by is None:  # the form's 提交 on the draft the system opened: taken over and sent in one go
        review.create_submission(s, who, action.at, obligation_id=ob.id or 0, subject=None, data=data, submit=True)
    else:
        review.save_and_submit(s, who, action.at, sub.id or 0, data, sub.version)


def _duban_decide(s: Any, town: DubanTown, action: Action, deciders: dict[str, int]) -> None:
    from sqlmodel import col, select

    from models import Obligation, Submission, User
    from simulation import met
    from tasks import gate_checks, review
    from tasks.accounts import principal_for

    sub = s.exec(select(Submission).join(Obligation, col(Submission.obligation_id) == Obligation.id).where(
        Obligation.campaign_id == town.campaign_id, Obligation.key == action.obligation)).one()
    _, spec = review.review_spec(s, sub)
    level = spec.chain[sub.current_level]
    user_id = town.secretary_id if level.level == "township" else deciders["admin" if level.role == "admin" else "county-reviewer"]
    who = principal_for(s, s.get(User, user_id))
    comment = "责任人和整改时限不明确，请补充" if action.decision == "return" else None
    checks = met(gate_checks.checklist(s, sub, action.at)) if action.decision == "approve" else None
    review.decide(s, who, action.at, sub.id or 0, decision=action.decision, comment=comment, version=sub.version,
                  checks=checks)


def duban_year(towns: list[DubanTown], actions: list[Action], deciders: dict[str, int], year: int,
               last_day: dt.date) -> dict[str, Any]:
    """The timed part on duban's side: launch, then every day's tick and people."""
    from sqlmodel import Session, col, select

    from core.db import get_engine, session_scope
    from models import Campaign, OrgUnit
    from tasks.launch import launch_many
    from tasks.registry import get_definition
    from tasks.tick import run_tick

    engine = get_engine()
    definition = get_definition(SPIFF_DEFINITION)
    launch_at = dt.datetime(year, 1, 1, 8, tzinfo=CHINA)
    codes = [t.code for t in towns]
    for i in range(0, len(codes), 50):
        for item in launch_many(engine, SPIFF_DEFINITION, codes[i:i + 50], year, launch_at):
            if item["status"] != "created":
                raise RuntimeError(f"launch failed: {item}")
    with Session(engine) as s:
        by_code = dict(s.exec(select(OrgUnit.code, Campaign.id).join(Campaign, col(Campaign.township_id) == OrgUnit.id)).all())
    for town in towns:
        town.campaign_id = by_code[town.code] or 0
    by_day = _by_day(actions)
    done: Counter[str] = Counter()
    day = dt.date(year, 1, 1)
    while day <= last_day:
        run_tick(engine, dt.datetime(day.year, day.month, day.day, 9, tzinfo=CHINA))
        for action in by_day.get(day, []):
            for town in towns:
                with session_scope(engine) as s:
                    if action.kind == "submit":
                        _duban_submit(s, town, action, definition)
                    else:
                        _duban_decide(s, town, action, deciders)
                done[action.kind] += 1
        day += dt.timedelta(days=1)
    return dict(done)


def duban_check(towns: list[DubanTown]) -> dict[str, Any]:
    """What duban's database holds after the year (not timed)."""
    from sqlmodel import Session, func, select

    from core.db import get_engine
    from models import Obligation, OutboxMessage, Stage, Submission

    with Session(get_engine()) as s:
        subs = dict(s.exec(select(Submission.status, func.count()).group_by(Submission.status)).all())
        obs = dict(s.exec(select(Obligation.status, func.count()).group_by(Obligation.status)).all())
        stages = dict(s.exec(select(Stage.key + ":" + Stage.status, func.count()).group_by(Stage.key, Stage.status)).all())
        outbox = s.exec(select(func.count()).select_from(OutboxMessage)).one()
    return {"submissions": subs, "obligations": obs, "stages": stages, "outbox_messages": outbox}


# -- SpiffWorkflow's year


class VirtualClock:
    """Replaces ``datetime`` in SpiffWorkflow's timer module, so its timers read the bench's clock."""

    def __init__(self) -> None:
        import SpiffWorkflow.bpmn.specs.event_definitions.timer as timer

        self.module = timer
        self.saved = timer.datetime
        self.now = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
        clock = self

        class VirtualDatetime(dt.datetime):
            @classmethod
            def now(cls, tz: dt.tzinfo | None = None) -> VirtualDatetime:  # type: ignore[override]
                moment = clock.now.astimezone(tz) if tz else clock.now
                return cls.fromtimestamp(moment.timestamp(), tz or moment.tzinfo)

        self.cls = VirtualDatetime

    def __enter__(self) -> VirtualClock:
        self.module.datetime = self.cls  # type: ignore[misc]
        return self

    def __exit__(self, *_: object) -> None:
        self.module.datetime = self.saved  # type: ignore[misc]


class SpiffStore:
    """Workflow states in SQLite: one row per township, the serializer's JSON and the next timer (UTC)."""

    def __init__(self, path: Path) -> None:
        import sqlite3

        from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnParser
        from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer

        parser = BpmnParser()
        parser.add_bpmn_file(str(BPMN))
        self.spec = parser.get_spec(PROCESS)
        self.serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure())
        self.conn = sqlite3.connect(path, isolation_level=None)
        for pragma in ("journal_mode=WAL", "busy_timeout=15000", "foreign_keys=ON", "synchronous=NORMAL"):
            self.conn.execute(f"PRAGMA {pragma}")
        self.conn.execute("CREATE TABLE workflow (id INTEGER PRIMARY KEY, township TEXT NOT NULL UNIQUE, "
                          "state TEXT NOT NULL, next_timer TEXT)")
        self.conn.execute("CREATE INDEX ix_workflow_next_timer ON workflow (next_timer)")
        self.bytes_written = 0

    @staticmethod
    def next_timer(workflow: Any) -> str | None:
        values = [e.value for e in workflow.waiting_events() if e.event_type == "TimeDateEventDefinition"]
        if not values:
            return None
        if any(v is None for v in values):
            return "0000"  # not evaluated yet: look again at the next tick
        return min(dt.datetime.fromisoformat(v).astimezone(dt.UTC).isoformat() for v in values)

    def save(self, workflow_id: int, workflow: Any) -> None:
        state = self.serializer.serialize_json(workflow)
        self.bytes_written += len(state)
        self.conn.execute("UPDATE workflow SET state = ?, next_timer = ? WHERE id = ?",
                          (state, self.next_timer(workflow), workflow_id))

    def load(self, workflow_id: int) -> Any:
        (state,) = self.conn.execute("SELECT state FROM workflow WHERE id = ?", (workflow_id,)).fetchone()
        return self.serializer.deserialize_json(state)

    def create(self, township: str, data: dict[str, Any]) -> int:
        from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
        from SpiffWorkflow.util.task import TaskState

        workflow = BpmnWorkflow(self.spec)
        workflow.get_next_task(state=TaskState.READY).data.update(data)
        workflow.do_engine_steps()
        self.conn.execute("BEGIN IMMEDIATE")
        cur = self.conn.execute("INSERT INTO workflow (township, state, next_timer) VALUES (?, '', NULL)", (township,))
        workflow_id = int(cur.lastrowid or 0)
        self.save(workflow_id, workflow)
        self.conn.execute("COMMIT")
        return workflow_id

    def due(self, now: dt.datetime) -> list[int]:
        return [r[0] for r in self.conn.execute("SELECT id FROM workflow WHERE next_timer <= ? ORDER BY id",
                                                (now.astimezone(dt.UTC).isoformat(),))]

    def wake(self, workflow_id: int) -> None:
        self.conn.execute("BEGIN IMMEDIATE")
        workflow = self.load(workflow_id)
        workflow.refresh_waiting_tasks()
        workflow.do_engine_steps()
        self.save(workflow_id, workflow)
        self.conn.execute("COMMIT")

    def complete(self, workflow_id: int, task_name: str, data: dict[str, Any]) -> None:
        from SpiffWorkflow.util.task import TaskState

        self.conn.execute("BEGIN IMMEDIATE")
        workflow = self.load(workflow_id)
        task = workflow.get_next_task(state=TaskState.READY, spec_name=task_name)
        if task is None:
            ready = [t.task_spec.name for t in workflow.get_tasks(state=TaskState.READY)]
            self.conn.execute("ROLLBACK")
            raise RuntimeError(f"workflow {workflow_id}: {task_name} is not ready (ready: {ready})")
        task.data.update(data)
        task.run()
        workflow.do_engine_steps()
        self.save(workflow_id, workflow)
        self.conn.execute("COMMIT")

    def summary(self) -> dict[str, Any]:
        from SpiffWorkflow.util.task import TaskState

        stages: Counter[str] = Counter()
        ready: Counter[str] = Counter()
        escalations = 0
        sizes = []
        for (workflow_id,) in self.conn.execute("SELECT id FROM workflow").fetchall():
            workflow = self.load(workflow_id)
            tasks = workflow.get_tasks(state=TaskState.READY | TaskState.WAITING)
            data = max(tasks, key=lambda t: t.last_state_change).data if tasks else workflow.data
            stages[str(data.get("stage"))] += 1
            escalations += len(data.get("escalations", []))
            ready.update(t.task_spec.name for t in workflow.get_tasks(state=TaskState.READY))
        for (size,) in self.conn.execute("SELECT length(state) FROM workflow"):
            sizes.append(size)
        return {"stages": dict(stages), "ready_tasks": dict(ready), "escalations": escalations,
                "state_bytes_median": statistics.median(sizes) if sizes else 0}


def _by_day(actions: list[Action]) -> dict[dt.date, list[Action]]:
    """The people's actions grouped by the day they act on (both engines replay the same days)."""
    by_day: dict[dt.date, list[Action]] = {}
    for a in actions:
        by_day.setdefault(a.day, []).append(a)
    return by_day


def spiff_year(store: SpiffStore, towns: list[DubanTown], actions: list[Action], process_data: dict[str, Any],
               definition: Any, year: int, last_day: dt.date, clock: VirtualClock) -> dict[str, Any]:
    """The timed part on SpiffWorkflow's side: create the workflows, then every day's timers and people."""
    clock.now = dt.datetime(year, 1, 1, 8, tzinfo=CHINA)
    ids = {t.code: store.create(t.code, process_data) for t in towns}
    rounds: Counter[tuple[str, str]] = Counter()
    by_day = _by_day(actions)
    done: Counter[str] = Counter()
    day = dt.date(year, 1, 1)
    while day <= last_day:
        clock.now = dt.datetime(day.year, day.month, day.day, 9, tzinfo=CHINA)
        for workflow_id in store.due(clock.now):
            store.wake(workflow_id)
            done["wake"] += 1
        for action in by_day.get(day, []):
            clock.now = action.at
            for town in towns:
                if action.kind == "submit":
                    rounds[(town.code, action.obligation)] += 1
                    r = rounds[(town.code, action.obligation)]
                    data = _form_data(definition, action.rule, town.township, town.villages,
                                      day, day, 1, r, f"{town.code}:{action.obligation}:{r}")
                    store.complete(ids[town.code], SUBMIT_TASK[action.rule], {"report": data, "submitted_by": town.liaison_id})
                else:
                    task = REVIEW_TASKS[action.rule][action.level]
                    comment = "责任人和整改时限不明确，请补充" if action.decision == "return" else None
                    store.complete(ids[town.code], task, {"decision": action.decision, "comment": comment})
                done[action.kind] += 1
        day += dt.timedelta(days=1)
    return dict(done)


def spiff_sample(root: Path, townships: int, last_day: dt.date) -> Figure:
    from core.db import reset_engines
    from tasks.registry import get_definition

    os.environ["DUBAN_PASSWORD_HASHING"] = "cheap"  # 2 accounts per township, nobody signs in
    try:
        with temp_databases("sqlite", root) as dbs:
            db = dbs.create("spiff_duban")
            towns, plan, deciders = duban_setup(db, townships, dt.datetime(SPIFF_YEAR, 1, 1, 8, tzinfo=CHINA))
            actions, process_data = schedule(plan, SPIFF_YEAR)
            actions = [a for a in actions if a.day <= last_day]
            definition = get_definition(SPIFF_DEFINITION)

            load_before = os.getloadavg()[0]
            start, cpu = time.perf_counter(), time.process_time()
            duban_done = duban_year(towns, actions, deciders, SPIFF_YEAR, last_day)
            duban_s, duban_cpu = time.perf_counter() - start, time.process_time() - cpu
            duban_state = duban_check(towns)
            reset_engines()

            store = SpiffStore(root / f"spiff-{os.getpid()}.db")
            try:
                with VirtualClock() as clock:
                    start, cpu = time.perf_counter(), time.process_time()
                    spiff_done = spiff_year(store, towns, actions, process_data, definition, SPIFF_YEAR, last_day, clock)
                    spiff_s, spiff_cpu = time.perf_counter() - start, time.process_time() - cpu
                    spiff_state = store.summary()
                spiff_bytes = store.bytes_written
                load_after = os.getloadavg()[0]
            finally:
                store.conn.close()
    finally:
        os.environ.pop("DUBAN_PASSWORD_HASHING", None)
    expected = len(actions) * townships
    if sum(v for k, v in duban_done.items() if k != "wake") != expected or \
            sum(v for k, v in spiff_done.items() if k != "wake") != expected:
        raise RuntimeError(f"actions: expected {expected}, duban {duban_done}, spiff {spiff_done}")
    return Figure(
        benchmark="B6",
        name="model-site year vs SpiffWorkflow",
        backend="sqlite",
        duban_s=duban_s,
        baseline_s=spiff_s,
        target_ratio=SPIFF_TARGET,
        details={
            "definition": SPIFF_DEFINITION,
            "year": SPIFF_YEAR,
            "townships": townships,
            "villages_per_township": VILLAGES,
            "days": (last_day - dt.date(SPIFF_YEAR, 1, 1)).days + 1,
            "duban_cpu_s": round(duban_cpu, 2),
            "spiff_cpu_s": round(spiff_cpu, 2),
            "cpu_ratio": round(duban_cpu / spiff_cpu, 3) if spiff_cpu else None,
            "loadavg_1m_before_after": [round(load_before, 1), round(load_after, 1)],
            "actions_per_township": len(actions),
            "schedule": [f"{a.day} {a.hour:02d}:00 {a.kind} {a.obligation} {a.decision}".strip() for a in actions],
            "duban_actions": duban_done,
            "spiff_actions": spiff_done,
            "duban_state": duban_state,
            "spiff_state": spiff_state,
            "spiff_state_bytes_written": spiff_bytes,
            "speedup": round(spiff_s / duban_s, 2),
            "process_data": process_data,
        },
    )


def run(root: Path, quick: bool) -> list[Figure]:
    from bench.launch import warm_up

    warmup_s = warm_up(root)  # Prefect's ephemeral server and duban's code paths, not counted
    figures = []
    for backend in backends():
        figure = launch_sample(backend, root, launches(quick))
        figure.details["prefect_warmup_s"] = round(warmup_s, 2)
        figures.append(figure)
    if peers_year():
        figures.append(spiff_sample(root, spiff_townships(quick), spiff_last_day(quick)))
    return figures


def summary(figure: Figure) -> str:
    d = figure.details
    if "duban_launch_campaign_ms" in d:
        return (
            f"{figure.figure}: {d['townships']} single-township launches ({d['rows_per_township']:.0f} rows each), medians: "
            f"launch_campaign {d['duban_launch_campaign_ms']} ms; no-op flow with one task {d['noop_flow_with_task_ms']} ms "
            f"(without the task {d['noop_flow_bare_ms']} ms) + raw insert {d['raw_insert_ms']} ms"
        )
    return (
        f"{figure.figure}: {d['townships']} townships × {d['actions_per_township']} actions over {d['days']} days; "
        f"duban {figure.duban_s:.1f} s, SpiffWorkflow {figure.baseline_s:.1f} s (duban {d['speedup']}× faster; "
        f"target ≥ 2×); CPU time duban {d['duban_cpu_s']} s, SpiffWorkflow {d['spiff_cpu_s']} s; spiff wakes {d['spiff_actions'].get('wake', 0)}, state {d['spiff_state']['state_bytes_median']:,} bytes "
        f"per workflow at the end; duban submissions {json.dumps(d['duban_state']['submissions'])}, "
        f"outbox {d['duban_state']['outbox_messages']:,}"
    )
