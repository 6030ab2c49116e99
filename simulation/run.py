"""The day loop: a fresh database, the county launched, then every day of the campaign on a virtual clock.

A fresh database gets a generated county (N townships × M villages, seeded), its accounts and the
campaigns of one or more years, launched with :func:`tasks.launch.launch_many` (the task function,
not the Prefect flow: no Prefect start-up cost, the same code). The clock then steps day by day:

* 09:00 China time the tick (:data:`tasks.tick.TICK`, run by :func:`tasks.tick.run_tick` in its order and
  with its transactions); every seventh day (and after a restart) a second tick at 15:00 proves the steps
  idempotent;
* 10:00 the townships' liaisons act and 11:00 the reviewers decide (:mod:`simulation.people`);
* after every step the outbox is delivered by :func:`notifications.delivery.deliver_pending` through
  :class:`notifications.mailer.SmtpMailer` to a real aiosmtpd server on a free loopback port.

Faults on request: an SMTP outage of K days (messages back off, may be dead-lettered, and the
administrator re-queues the dead ones when the server is back), process restarts (engines disposed,
caches cleared, after a tick that crashed half-way), and a clock jump (several days without any tick).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from core.clock import china_date
from core.db import get_engine, reset_engines, session_scope
from core.settings import get_settings
from domain import escalation as escalation_rules
from domain.definitions import Definition
from domain.planning import OrgRef, plan_campaign
from models import Obligation, OrgUnit, OutboxMessage, Stage
from models.migrate import upgrade
from notifications.delivery import deliver_pending, retry_dead
from simulation.config import SimulationConfig, SimulationResult
from simulation.county import account_specs, county_rows, township_codes, township_profiles
from simulation.invariants import check_invariants
from simulation.people import People, at
from simulation.report import summarise, write_report
from simulation.smtp import SmtpServer
from tasks.accounts import create_user
from tasks.calendar import load_work_calendar
from tasks.launch import launch_many
from tasks.org import import_org_units
from tasks.registry import get_definitions, reload_definitions
from tasks.tick import TICK, run_tick


@dataclass
class Run:
    """One simulation under way: its database, mail server and people, and what it has seen so far."""

    config: SimulationConfig
    url: str
    smtp: SmtpServer
    definitions: dict[str, Definition]
    people: People
    tick_moments: list[dt.datetime] = field(default_factory=list)
    request_moments: list[dt.datetime] = field(default_factory=list)
    days_visited: list[dt.date] = field(default_factory=list)
    daily_mail: Counter[dt.date] = field(default_factory=Counter)
    faults: dict[str, Any] = field(default_factory=dict)

    @property
    def engine(self) -> Engine:
        """The engine of the run's database (a new one after a restart)."""
        return get_engine(self.url)

    @property
    def counts(self) -> Counter[str]:
        return self.people.counts


# ---- the process around the run -------------------------------------------------------------------

_SETTINGS = {"DUBAN_PASSWORD_HASHING": "cheap",  # the simulated people never sign in
             "DUBAN_SMTP_SINK": "false"}


@contextmanager
def settings_for(url: str) -> Iterator[None]:
    """Point duban's settings (and every cached engine) at the simulation's database for the run; the
    environment and the settings are restored afterwards. The one place the simulation sets variables:
    the services read their settings from the environment."""
    values = {"DUBAN_DATABASE_URL": url, **_SETTINGS}
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    get_settings.cache_clear()
    reset_engines()
    try:
        yield
    finally:
        reset_engines()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        get_settings.cache_clear()


def restart() -> None:
    """What a process restart loses: pooled connections and every in-process cache."""
    reset_engines()
    get_settings.cache_clear()
    reload_definitions()


@contextmanager
def _database(config: SimulationConfig) -> Iterator[str]:
    """The configured database, or a fresh SQLite file in a temporary directory removed afterwards."""
    if config.database_url:
        yield config.database_url
        return
    tmp = Path(tempfile.mkdtemp(prefix="duban-sim-"))
    try:
        yield f"sqlite:///{tmp / f'simulation-{config.seed}.db'}"
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def _quiet_delivery_log() -> Iterator[None]:
    """The outage's retries are expected: the delivery log would print one warning per message."""
    log = logging.getLogger("notifications.delivery")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)


# ---- mail -----------------------------------------------------------------------------------------


DELIVERY_BATCH = 200


async def deliver(run: Run, now: dt.datetime) -> None:
    """Deliver until nothing more is due (SmtpMailer → the simulation's server)."""
    run.smtp.handler.virtual_now = now
    mailer = run.smtp.mailer()
    while True:
        stats = await deliver_pending(run.engine, mailer, now, holder="simulate", batch=DELIVERY_BATCH)
        run.counts["mail_sent"] += stats.sent
        run.counts["mail_retried"] += stats.retried
        run.counts["mail_dead"] += stats.dead
        run.daily_mail[china_date(now)] += stats.sent
        if stats.sent == 0:
            return
        # A batch that was not full claimed every message due at ``now``, and what it sent back to the queue is due
        # later (its back-off): another pass would find nothing, unless some were released unsent.
        if stats.skipped == 0 and stats.sent + stats.retried + stats.dead < DELIVERY_BATCH:
            return


def requeue_dead(run: Run, now: dt.datetime) -> int:
    """The administrator re-queues every dead-lettered message."""
    with session_scope(run.engine) as s:
        ids = list(s.exec(select(OutboxMessage.id).where(OutboxMessage.status == "dead").order_by(col(OutboxMessage.id))))
        for outbox_id in ids:
            retry_dead(s, outbox_id or 0, now)
    run.counts["mail_requeued"] += len(ids)
    return len(ids)


# ---- before the first day -------------------------------------------------------------------------


def _first_open(definition: Definition, year: int, engine: Engine) -> dt.date:
    """The launch day: the first stage's opening of the first campaign year (no DB rows yet)."""
    with Session(engine) as s:
        calendar = load_work_calendar(s)
    plan = plan_campaign(definition, OrgRef("T", "T", "township", None, None), [], year, calendar,
                         dt.date(year, 1, 1) - dt.timedelta(days=400))
    return min(stage.opens_on for stage in plan.stages)


def _launch(run: Run, launch_at: dt.datetime) -> list[str]:
    """The county, its accounts and the campaigns of every year; returns the launches that failed."""
    cfg = run.config
    with session_scope(run.engine) as s:
        import_org_units(s, county_rows(cfg.seed, cfg.townships, cfg.villages), source="simulation")
        s.flush()
        towns = {t.code: t.name for t in s.exec(select(OrgUnit).where(OrgUnit.kind == "township").order_by(col(OrgUnit.code)))}
        for spec in account_specs(towns):
            create_user(s, spec, launch_at)
    failed: list[str] = []
    codes = sorted(towns)
    chunk = get_settings().launch_chunk_size  # townships per launch_many call, as the batch flow's tasks
    for year in range(cfg.year, cfg.year + cfg.years):
        for i in range(0, len(codes), chunk):
            for item in launch_many(run.engine, cfg.definition, codes[i:i + chunk], year, launch_at):
                if item["status"] != "created":
                    failed.append(f"{item['township']} {year}: {item.get('detail')}")
    run.request_moments.append(launch_at)
    return failed


def _span(run: Run) -> tuple[dt.date, dt.date]:
    """From the first stage's opening to when the last deadline's ladder has been climbed."""
    definition = run.definitions[run.config.definition]
    with Session(run.engine) as s:
        first = s.exec(select(func.min(Stage.opens_on))).one()
        last_close = s.exec(select(func.max(Stage.closes_on))).one()
        last_due = s.exec(select(func.max(Obligation.due_on))).one()
        calendar = load_work_calendar(s)
    delays = [lv.after_workdays for lv in definition.escalation.ladder]
    ladder_end = escalation_rules.level_dates(last_due, delays, calendar)[-1] if delays else last_due
    return first, max(last_close, ladder_end)


def _fault_days(run: Run, start: dt.date, end: dt.date) -> None:
    """Where the faults fall: the outage and the jump around the first distinct due dates; restarts
    evenly spread."""
    cfg = run.config
    with Session(run.engine) as s:
        dues: list[dt.date] = sorted(set(s.exec(select(col(Obligation.due_on)).where(col(Obligation.due_on) >= start))))
    first_due = dues[0] if dues else start
    second_due = dues[1] if len(dues) > 1 else first_due
    if cfg.clock_jump > 0:
        jump_from = max(start + dt.timedelta(days=1), first_due - dt.timedelta(days=4))
        run.faults["clock_jump"] = (jump_from, jump_from + dt.timedelta(days=cfg.clock_jump - 1))
    if cfg.smtp_outage_days > 0:
        outage_from = max(start + dt.timedelta(days=1), second_due - dt.timedelta(days=2))
        run.faults["smtp_outage"] = (outage_from, outage_from + dt.timedelta(days=cfg.smtp_outage_days - 1))
    total = (end - start).days + 1
    run.faults["restarts"] = [start + dt.timedelta(days=(i + 1) * total // (cfg.restarts + 1)) for i in range(cfg.restarts)]


# ---- the days -------------------------------------------------------------------------------------


def _tick(run: Run, now: dt.datetime) -> None:
    run_tick(run.engine, now)
    run.tick_moments.append(now)
    run.request_moments.append(now)


async def _day(run: Run, day: dt.date, second: bool) -> None:
    """One day: the morning tick (after a crash and a restart on a restart day), the people, the mail, and
    on some days a second tick in the afternoon."""
    outage = run.faults.get("smtp_outage")
    if outage and day == outage[0]:
        run.smtp.stop()
    if outage and day == outage[1] + dt.timedelta(days=1) and not run.smtp.running:
        run.smtp.start()
        requeue_dead(run, at(day, 8, 55))
    run.days_visited.append(day)
    morning = at(day, 9)
    if day in run.faults.get("restarts", []):
        run_tick(run.engine, morning, transactions=TICK[:1])  # the process dies after the first transaction
        restart()
        run.counts["restarts"] += 1
        second = True
    _tick(run, morning)
    await deliver(run, at(day, 9, 5))
    run.people.submit(run.engine, day)
    run.people.review(run.engine, day)
    await deliver(run, at(day, 11, 30))
    if second:
        _tick(run, at(day, 15))
        run.counts["second_ticks"] += 1
        await deliver(run, at(day, 15, 5))


async def _run_days(run: Run, start: dt.date, end: dt.date, progress: Callable[[int, int], None] | None) -> None:
    total = (end - start).days + 1
    jump = run.faults.get("clock_jump")
    for index in range(total):
        day = start + dt.timedelta(days=index)
        if progress:
            progress(index + 1, total)
        if jump and jump[0] <= day <= jump[1]:
            continue  # the clock jumps: nothing runs on these days
        await _day(run, day, second=index % max(1, run.config.second_tick_every) == 0)
    # the final delivery: the server is up again and whatever is left goes out
    if not run.smtp.running:
        run.smtp.start()
    final = at(end + dt.timedelta(days=1), 8)
    requeue_dead(run, final)
    await deliver(run, final)
    await deliver(run, final + dt.timedelta(hours=7))  # past every back-off


# ---- the whole run --------------------------------------------------------------------------------


def _prepare(config: SimulationConfig, url: str, smtp: SmtpServer) -> Run:
    upgrade(url)
    definitions = get_definitions()
    if config.definition not in definitions:
        raise ValueError(f"unknown definition {config.definition}; known: {', '.join(sorted(definitions))}")
    profiles = township_profiles(config.seed, township_codes(config.townships), config.shares())
    people = People(config.seed, config.max_returns, definitions, profiles)
    return Run(config, url, smtp, definitions, people)


def _period(run: Run, launch_day: dt.date) -> tuple[dt.date, dt.date]:
    """The days the run steps through: from the launch to the ladder's end, or ``config.days`` of them."""
    start, end = _span(run)
    start = max(start, launch_day)
    if run.config.days is not None:
        end = min(end, start + dt.timedelta(days=run.config.days - 1))
    _fault_days(run, start, end)
    return start, end


def run_simulation(config: SimulationConfig, progress: Callable[[int, int], None] | None = None) -> SimulationResult:
    """Run the simulation; the result carries the summary, the invariants and the timings."""
    timings: dict[str, float] = {}
    started = time.perf_counter()
    config.shares()
    with _database(config) as url, SmtpServer() as smtp, _quiet_delivery_log(), settings_for(url):
        run = _prepare(config, url, smtp)
        timings["setup"] = time.perf_counter() - started
        launch_day = _first_open(run.definitions[config.definition], config.year, run.engine)
        t0 = time.perf_counter()
        failed = _launch(run, at(launch_day, 8, 30))
        if failed:
            raise RuntimeError("launch failed: " + "; ".join(failed[:5]))
        timings["launch"] = time.perf_counter() - t0
        start, end = _period(run, launch_day)
        t0 = time.perf_counter()
        asyncio.run(_run_days(run, start, end, progress))
        timings["days"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        invariants = check_invariants(run, end)
        summary = summarise(run, start, end)
        timings["checks"] = time.perf_counter() - t0
        result = SimulationResult(summary, invariants, timings, database_url=url if config.database_url else "")
        if config.report is not None:
            result.report_path = write_report(result, config.report)
        timings["total"] = time.perf_counter() - started
        return result
