"""B2 "tick": one calendar tick on a database holding years of history, against a raw SQL baseline.

The database (generated with bulk DBAPI inserts, ``COPY`` on PostgreSQL, not the ORM): a province of
townships with 10 villages and one submitter each; **history** — closed campaigns of 2016–2025, 80
obligations each (96 % met, 3 % missed and fully escalated, 1 % waived), 4 stages each, and a
reminder_log row for every other obligation — and a fixed **current slice**: three active 2026
campaigns per current township, per village 4 deadlines met earlier in the year, 1 open deadline
(due 0–40 working days ahead, with the reminders of earlier offsets already logged) and 2 scheduled
for later in the year. Today is 2026-06-24 09:00 China time; the due work is the reminders whose day
is today.

duban: the tick as ``flows.tick.tick`` runs it, ``tasks.tick.TICK`` transaction by transaction (advance_stages,
mark_missed, climb_ladder, close_notice_periods | open_obligations | enqueue_reminders | build_digests), called
directly (no Prefect) on duban's engine; each step and each commit is timed.

Baseline: one hand-written SELECT (the open obligations due between today and the last due date
that has a reminder day by today, through ``ix_obligations_status_due``, ⋈ campaigns ⋈ the reminder
schedule — a VALUES list of (definition, rule, due date, offset, day) computed in Python from the same
definitions and calendar — ⋈ submitters, ``NOT EXISTS`` on reminder_log's unique key; ``CROSS JOIN``
fixes SQLite's join order, PostgreSQL plans freely) and one bulk INSERT each into outbox and reminder_log, in one transaction, on a raw
DBAPI connection; each mail is rendered straight from duban's compiled Jinja templates (subject block,
text, HTML; the "missing" list from the definitions' forms and the draft, ``LEFT JOIN submissions``), so
both sides write the same rows — checked after duban's tick, byte for byte. The baseline's rows are
deleted again (not timed) before duban's tick runs on the same data.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import re
import statistics
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bench.common import BenchDB, Figure, backends, temp_databases, use_database

TODAY = dt.date(2026, 6, 24)
NOW = dt.datetime(2026, 6, 24, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
CURRENT_YEAR = 2026
HISTORY_YEARS = range(2016, 2026)
VILLAGES = 10
PER_HISTORY_CAMPAIGN = 80  # obligations of one closed campaign
TARGET_RATIO = 2.0
TARGET_SCALING = 1.5
# working days from today to the due date of each village's open deadline (cycled): 0, 1, 3 and 7
# are reminder days of the default schedule (7, 3, 1, 0), so those get a new reminder today
OPEN_DUE_WORKDAYS = (0, 2, 4, 1, 5, 9, 3, 12, 20, 7, 30, 40)
EPOCH = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
# the three campaign definitions the benchmark was built on (2,910 reminders due with 300 townships); the desk's
# definitions (assigned items, signing without a form) came later and would change the work measured
DEFINITIONS = ("cadres_in_villages", "five_good_model_site", "weak_village_rectification")


def sizes(quick: bool) -> tuple[int, list[int]]:
    """(current townships, history sizes to compare)."""
    townships = int(os.environ.get("BENCH_TICK_TOWNSHIPS", "40" if quick else "300"))
    default = "10000,100000" if quick else "100000,1000000"
    history = [int(x) for x in os.environ.get("BENCH_TICK_HISTORY", default).split(",")]
    return townships, sorted(history)


# ---- generation ------------------------------------------------------------------------------------


class Writer:
    """Bulk rows into a fresh database over one raw DBAPI connection (executemany / COPY)."""

    def __init__(self, db: BenchDB) -> None:
        self.db = db
        self.conn = db.connect()
        db.begin(self.conn)
        self.rows = 0

    def _value(self, v: Any) -> Any:
        if self.db.backend != "sqlite":
            return v
        if isinstance(v, dt.datetime):
            return v.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        if isinstance(v, dt.date):
            return v.isoformat()
        if isinstance(v, bool):
            return int(v)
        return v

    def write(self, table: str, columns: list[str], rows: Iterable[tuple[Any, ...]]) -> None:
        cols = ", ".join(f'"{c}"' for c in columns)
        if self.db.backend == "sqlite":
            marks = ", ".join("?" * len(columns))
            cur = self.conn.executemany(f"INSERT INTO {table} ({cols}) VALUES ({marks})",
                                        (tuple(self._value(v) for v in r) for r in rows))
            self.rows += cur.rowcount
        else:
            with self.conn.cursor() as cur, cur.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                for r in rows:
                    copy.write_row(r)
                    self.rows += 1

    def finish(self) -> None:
        if self.db.backend == "postgresql":
            for table in ("org_units", "users", "campaigns", "stages", "obligations"):
                self.conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                  f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)")
        self.db.commit(self.conn)
        if self.db.backend == "postgresql":
            self.conn.autocommit = True
            self.conn.execute("VACUUM ANALYZE")
        else:
            self.conn.execute("ANALYZE")
        self.conn.close()


def _township_id(t: int) -> int:
    return 2 + t * (VILLAGES + 1)


def _village_id(t: int, v: int) -> int:
    return _township_id(t) + 1 + v


def _user_id(t: int) -> int:
    return t + 1


def generate(db: BenchDB, townships: int, org_townships: int, history: int) -> dict[str, int]:
    """Fill ``db``; returns the row counts written per table."""
    from domain.calendar import reminder_dates
    from tasks.registry import get_definitions

    calendar = _calendar()
    definitions = get_definitions()
    keys = sorted(DEFINITIONS)
    w = Writer(db)
    counts: dict[str, int] = {}

    def put(table: str, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
        w.write(table, columns, rows)
        counts[table] = counts.get(table, 0) + len(rows)

    org: list[tuple[Any, ...]] = [(1, "QX", "省", "county", None, None, None)]
    users = []
    for t in range(org_townships):
        org.append((_township_id(t), f"T{t:04d}", f"第{t + 1}乡", "township", None, None, 1))
        org.extend((_village_id(t, v), f"T{t:04d}V{v:02d}", f"第{t + 1}乡{v + 1}村", "village", 30_000, None,
                    _township_id(t)) for v in range(VILLAGES))
        users.append((_user_id(t), f"sub{t:04d}", f"联络员{t + 1}", f"sub{t:04d}@example.org", "!", "submitter",
                      None, _township_id(t), True, False, 0, EPOCH))
    put("org_units", ["id", "code", "name", "kind", "collective_income", "key_contact_class", "parent_id"], org)
    put("users", ["id", "username", "display_name", "email", "password_hash", "role", "level", "org_unit_id",
                  "active", "daily_digest", "failed_logins", "created_at"], users)

    camp_cols = ["id", "definition_key", "definition_version", "township_id", "year", "status", "launched_at",
                 "calendar_warnings", "version"]
    stage_cols = ["id", "campaign_id", "key", "name", "seq", "opens_on", "closes_on", "gate_key", "status",
                  "notice_ends_on", "passed_on", "version"]
    ob_cols = ["id", "campaign_id", "stage_id", "key", "rule_key", "kind", "title", "subject_id", "period",
               "opens_on", "nominal_due_on", "due_on", "policy", "status", "met_on", "escalation_level", "version"]
    log_cols = ["obligation_id", "offset", "user_id", "remind_on", "outbox_id", "created_at"]
    campaigns: list[tuple[Any, ...]] = []
    stages: list[tuple[Any, ...]] = []
    obligations: list[tuple[Any, ...]] = []
    logs: list[tuple[Any, ...]] = []
    cid = sid = oid = 0

    def campaign(key: str, t: int, year: int, status: str) -> int:
        nonlocal cid, sid
        cid += 1
        campaigns.append((cid, key, 1, _township_id(t), year, status, EPOCH.replace(year=year, month=1), "[]", 1))
        for s in range(4):
            sid += 1
            opens = dt.date(year, 1 + 3 * s, 1)
            closes = dt.date(year, 3 + 3 * s, 28)
            if year < CURRENT_YEAR:
                st = "passed" if s % 2 else "closed"
            else:
                st = "passed" if closes < TODAY else "open" if opens <= TODAY else "pending"
            stages.append((sid, cid, f"s{s + 1}", f"阶段{s + 1}", s + 1, opens, closes, f"g{s + 1}" if s % 2 else None,
                           st, None, closes if st == "passed" else None, 1))
        return cid

    def obligation(c: int, key: str, rule: Any, t: int, v: int, period: str, opens: dt.date, due: dt.date,
                   status: str, level: int = 0) -> int:
        nonlocal oid
        oid += 1
        obligations.append((oid, c, None, key, rule.key, rule.kind, f"{rule.key} {period}", _village_id(t, v), period,
                            opens, due, due, "roll_forward", status, due if status == "met" else None, level, 1))
        return oid

    # history: closed campaigns of earlier years spread over the province's townships
    n_hist = math.ceil(history / PER_HISTORY_CAMPAIGN)
    slots = [(k, t, y) for y in reversed(HISTORY_YEARS) for k in keys for t in range(org_townships)]
    if n_hist > len(slots):
        raise ValueError(f"{history} history rows need more than {org_townships} townships")
    left = history
    for key, t, year in slots[:n_hist]:
        rules = definitions[key].obligations
        c = campaign(key, t, year, "closed")
        ladder = len(definitions[key].escalation.ladder)
        for i in range(min(PER_HISTORY_CAMPAIGN, left)):
            v, n = i % VILLAGES, i // VILLAGES
            rule = rules[n % len(rules)]
            due = dt.date(year, 1 + (n * 12) // 8 % 12, 20)
            roll = (oid * 7919) % 100
            status = "missed" if roll < 3 else "waived" if roll < 4 else "met"
            o = obligation(c, f"{rule.key}:{v}:{n}", rule, t, v, f"{year}-{n}", due - dt.timedelta(days=30), due,
                           status, ladder if status == "missed" else 0)
            if i % 2 == 0:
                logs.append((o, 1, _user_id(t), due - dt.timedelta(days=1), 1, EPOCH.replace(year=year)))
        left -= min(PER_HISTORY_CAMPAIGN, left)
    counts["history_obligations"] = oid

    # the current slice: three active campaigns per current township
    k_open = 0
    for t in range(townships):
        for key in keys:
            definition = definitions[key]
            rules = [r for r in definition.obligations if r.form]
            c = campaign(key, t, CURRENT_YEAR, "active")
            for v in range(VILLAGES):
                for n in range(4):  # met earlier this year
                    rule = rules[n % len(rules)]
                    due = dt.date(CURRENT_YEAR, 1 + n, 25)
                    obligation(c, f"{rule.key}:{v}:m{n}", rule, t, v, f"M{n + 1}", due - dt.timedelta(days=20), due, "met")
                rule = rules[(t + v) % len(rules)]
                due = calendar.add_workdays(TODAY, OPEN_DUE_WORKDAYS[k_open % len(OPEN_DUE_WORKDAYS)])
                k_open += 1
                o = obligation(c, f"{rule.key}:{v}:open", rule, t, v, "Q2", TODAY - dt.timedelta(days=20), due, "open")
                spec = rule.reminders or definition.reminders
                for off, day in reminder_dates(due, spec.offsets, spec.unit, calendar):
                    if day < TODAY:  # earlier reminders went out on their day
                        logs.append((o, off, _user_id(t), day, 1, EPOCH))
                for n in range(2):  # later this year
                    rule = rules[n % len(rules)]
                    due = dt.date(CURRENT_YEAR, 9 + 2 * n, 25)
                    obligation(c, f"{rule.key}:{v}:s{n}", rule, t, v, f"H{n + 2}", due - dt.timedelta(days=20), due,
                               "scheduled")
    put("campaigns", camp_cols, campaigns)
    put("stages", stage_cols, stages)
    put("obligations", ob_cols, obligations)
    put("reminder_log", log_cols, logs)
    counts["current_obligations"] = oid - counts["history_obligations"]
    w.finish()
    return counts


def _calendar() -> Any:
    from domain.calendar import WorkCalendar

    return WorkCalendar({})  # the bundled official arrangements, as duban uses with no year loaded


# ---- the baseline ------------------------------------------------------------------------------------


def schedule() -> list[tuple[str, str, dt.date, int, dt.date]]:
    """(definition, rule, due_on, offset, remind_on): the latest reminder whose day has come, per due date."""
    from domain.calendar import reminder_dates
    from tasks.registry import get_definitions
    from tasks.tick import HORIZON_DAYS

    calendar = _calendar()
    out = []
    for key, definition in get_definitions().items():
        if key not in DEFINITIONS:
            continue
        for rule in definition.obligations:
            spec = rule.reminders or definition.reminders
            for d in range(HORIZON_DAYS + 1):
                due = TODAY + dt.timedelta(days=d)
                passed = [(o, day) for o, day in reminder_dates(due, spec.offsets, spec.unit, calendar) if day <= TODAY]
                if passed:
                    out.append((key, rule.key, due, *passed[-1]))
    return out


BASELINE_SELECT = """
WITH sched(definition_key, rule_key, due_on, off, remind_on) AS (VALUES {values})
SELECT o.id, u.id, s.off, s.remind_on, u.daily_digest, u.email, u.display_name, o.title, o.period, o.due_on, o.rule_key,
       c.definition_key, t.name, v.name, d.data
FROM obligations o
CROSS JOIN campaigns c
CROSS JOIN sched s
CROSS JOIN users u
JOIN org_units t ON t.id = c.township_id
JOIN org_units v ON v.id = o.subject_id
LEFT JOIN submissions d ON d.obligation_id = o.id
WHERE o.status = 'open' AND o.due_on >= {p} AND o.due_on <= {p}
  AND c.id = o.campaign_id AND c.status = 'active'
  AND s.definition_key = c.definition_key AND s.rule_key = o.rule_key AND s.due_on = o.due_on
  AND u.org_unit_id = c.township_id AND u.role = 'submitter' AND u.active
  AND NOT EXISTS (SELECT 1 FROM reminder_log r
                  WHERE r.obligation_id = o.id AND r."offset" = s.off AND r.user_id = u.id)
"""


class BaselineMail:
    """The reminder mail rendered straight from the compiled templates duban uses (same text, same HTML)."""

    def __init__(self) -> None:
        from core.settings import get_settings
        from notifications.render import environment
        from tasks.registry import get_definitions

        settings = get_settings()
        base_url = settings.effective_base_url.rstrip("/")
        self.base = {"organisation_name": settings.organisation_name, "base_url": base_url}
        self.link = f"{base_url}/todos"
        self.text = environment.get_template("reminder.txt")
        self.html = environment.get_template("reminder.html")
        self.subject = self.text.blocks["subject"]
        self.definitions = get_definitions()
        self.forms: dict[tuple[str, str], list[tuple[str, str]] | None] = {}

    def missing(self, definition_key: str, rule_key: str, data: Any) -> list[str]:
        """What the township has not filled in yet (duban's rule: required fields of the rule's form)."""
        fields = self.forms.get((definition_key, rule_key), [])
        if fields == []:
            definition = self.definitions[definition_key]
            rule = definition.obligation(rule_key)
            fields = [(f.key, f.label) for f in definition.form(rule.form).fields if f.required] if rule.form else None
            self.forms[definition_key, rule_key] = fields
        if fields is None:
            return ["尚未报告完成情况"]
        if data is None:
            return ["尚未填报"] + [label for _, label in fields]
        if isinstance(data, str):
            data = json.loads(data)
        return [label for key, label in fields if data.get(key) in (None, "", [])] or ["尚未提交"]

    def render(self, name: str, title: str, township: str, subject_unit: str, period: str, due: dt.date,
               missing: list[str]) -> tuple[str, str, str]:
        values = {**self.base, "recipient_name": name, "title": title, "township": township,
                  "subject_unit": subject_unit, "period": period, "due_date": due, "days_left": (due - TODAY).days,
                  "link": self.link, "missing": missing}
        subject = " ".join("".join(self.subject(self.text.new_context(values))).split())
        values["mail_subject"] = subject
        return subject[:300], self.text.render(values), self.html.render(values)


def _baseline_sql(db: BenchDB, sched: list[tuple[Any, ...]]) -> tuple[str, list[Any]]:
    p = db.placeholder
    cast = "" if db.backend == "sqlite" else "::date"
    row = f"({p}, {p}, {p}{cast}, {p}, {p}{cast})"
    params: list[Any] = []
    for r in sched:
        params.extend(r)
    params += [TODAY, max(r[2] for r in sched)]  # no later due date has a reminder day yet
    if db.backend == "sqlite":
        params = [v.isoformat() if isinstance(v, dt.date) else v for v in params]
    else:
        row = row.replace(f"{p}, {p}, {p}::date, {p}, {p}::date", f"{p}::text, {p}::text, {p}::date, {p}::int, {p}::date")
    return BASELINE_SELECT.format(values=", ".join([row] * len(sched)), p=p), params


def run_baseline(db: BenchDB, sched: list[tuple[Any, ...]],
                 explain: bool = False) -> tuple[float, int, dict[str, tuple[Any, ...]], str]:
    """The timed baseline: SELECT the due reminders, render their mails, INSERT outbox + reminder_log rows, commit.

    Returns the time, the reminders it logged, the mails it wrote (outbox key → mail and reminder) and
    the query plan.
    """
    from notifications.outbox import message_id_for

    sql, params = _baseline_sql(db, sched)
    mail = BaselineMail()
    conn = db.connect()
    try:
        plan = _explain(db, conn, sql, params) if explain else ""
        # warm the caches (and compile the templates) like duban's run will find them (not timed)
        warm = conn.execute(sql, params).fetchall()
        db.commit(conn) if db.backend == "postgresql" else None
        mail.render("", "", "", "", "", TODAY, [])
        created = NOW.astimezone(dt.UTC)
        start = time.perf_counter()
        db.begin(conn)
        rows = conn.execute(sql, params).fetchall()
        (top,) = conn.execute("SELECT coalesce(max(id), 0) FROM outbox").fetchone()
        out, log = [], []
        written: dict[str, tuple[Any, ...]] = {}
        stamp = created.strftime("%Y-%m-%d %H:%M:%S.%f") if db.backend == "sqlite" else created
        i = top
        for (ob, user, off, remind_on, digest, email, name, title, period, due, rule_key, definition_key, township,
             subject_unit, data) in rows:
            if digest:  # a digest reader's reminder waits for the daily digest: logged, no mail
                log.append((ob, off, user, remind_on, None, stamp))
                continue
            i += 1
            key = f"reminder:{ob}:{off}:{user}"
            due = dt.date.fromisoformat(due) if isinstance(due, str) else due
            subject, text, html = mail.render(name, title, township, subject_unit, period, due,
                                              mail.missing(definition_key, rule_key, data))
            out.append((i, key, message_id_for(key), email, user, subject, text, html, "pending", 0, stamp))
            log.append((ob, off, user, remind_on, i, stamp))
            written[key] = (message_id_for(key), email, user, subject, text, html, ob, off, str(remind_on))
        p = db.placeholder
        conn.cursor().executemany(
            "INSERT INTO outbox (id, key, message_id, to_addr, to_user_id, subject, body_text, body_html, status, "
            f"attempts, created_at) VALUES ({', '.join([p] * 11)})", out)
        conn.cursor().executemany(
            f'INSERT INTO reminder_log (obligation_id, "offset", user_id, remind_on, outbox_id, created_at) '
            f"VALUES ({', '.join([p] * 6)})", log)
        db.commit(conn)
        elapsed = time.perf_counter() - start
        # not timed: take the baseline's rows out again so duban's tick finds the same work
        db.begin(conn)
        conn.execute(f"DELETE FROM reminder_log WHERE created_at = {p}", [stamp])
        conn.execute(f"DELETE FROM outbox WHERE created_at = {p}", [stamp])
        db.commit(conn)
    finally:
        conn.close()
    if len(warm) != len(rows):
        raise RuntimeError("the baseline's query found different work on its second run")
    return elapsed, len(log), written, plan


def check_same_rows(db: BenchDB, expected: dict[str, tuple[Any, ...]]) -> None:
    """After duban's tick: its reminder mails and log rows are exactly the ones the baseline wrote."""
    conn = db.connect()
    try:
        rows = conn.execute(
            "SELECT o.key, o.message_id, o.to_addr, o.to_user_id, o.subject, o.body_text, o.body_html, "
            'r.obligation_id, r."offset", r.remind_on FROM outbox o '
            "JOIN reminder_log r ON r.outbox_id = o.id AND r.created_at = o.created_at "  # not the history's logs
            "WHERE o.key LIKE 'reminder:%'").fetchall()
        conn.rollback()
    finally:
        conn.close()
    got = {r[0]: (*r[1:9], str(r[9])) for r in rows}
    if got != expected:
        differ = sorted(k for k in set(got) | set(expected) if got.get(k) != expected.get(k))
        raise RuntimeError(f"duban's reminder rows differ from the baseline's in {len(differ)} of "
                           f"{len(expected)} (first: {differ[:3]})")


# ---- duban's tick ----------------------------------------------------------------------------------------


def run_tick(profile: Any = None) -> tuple[float, dict[str, float], dict[str, int], list[tuple[str, Any]]]:
    """The tick as ``flows.tick.tick`` runs it (``tasks.tick.TICK``, each transaction committed before the next),
    without Prefect; returns (seconds, per step and for the commits, counts, statements)."""
    from sqlalchemy import event

    from core.db import get_engine, session_scope
    from tasks.tick import TICK, StepResult, TickStep, run_transaction

    engine = get_engine()
    statements: dict[str, Any] = {}

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if statement not in statements:
            statements[statement] = parameters

    steps: dict[str, float] = {}
    counts: dict[str, int] = {}
    mark = 0.0  # when the step now running started

    def lap(name: str) -> None:
        nonlocal mark
        now = time.perf_counter()
        steps[name] = steps.get(name, 0.0) + now - mark
        mark = now

    def step_done(step: TickStep, result: StepResult) -> None:
        lap(step.name)

    with engine.connect() as conn:  # the pool's connection is opened before the clock starts
        conn.exec_driver_sql("SELECT 1")
    event.listen(engine, "before_cursor_execute", capture)
    if profile is not None:
        profile.enable()
    start = time.perf_counter()
    try:
        for transaction in TICK:
            with session_scope(engine) as s:
                mark = time.perf_counter()
                counts.update(run_transaction(s, transaction, NOW, on_step=step_done))
                s.commit()
                lap("commit")
        elapsed = time.perf_counter() - start
    finally:
        if profile is not None:
            profile.disable()
        event.remove(engine, "before_cursor_execute", capture)
    return elapsed, steps, counts, list(statements.items())


def rehearse_tick() -> None:
    """The untimed run duban's tick gets, as the baseline's query gets one: the whole tick on the engine that will
    be timed, rolled back. SQLAlchemy caches compiled statements per engine, so the warm-up on its own database
    leaves this engine cold; a running service compiled its statements at its first tick."""
    from sqlmodel import Session

    from core.db import get_engine
    from tasks.tick import TICK, run_transaction

    with Session(get_engine()) as s:
        for transaction in TICK:
            run_transaction(s, transaction, NOW)
        s.rollback()


def _explain(db: BenchDB, conn: Any, sql: str, params: Any) -> str:
    if db.backend == "sqlite":
        rows = conn.execute("EXPLAIN QUERY PLAN " + sql, params).fetchall()
        return "\n".join(f"{'  ' * _depth(rows, r)}{r[-1]}" for r in rows)
    rows = conn.execute("EXPLAIN " + sql, params).fetchall()
    conn.rollback()
    return "\n".join(r[0] for r in rows)


def _depth(rows: list[Any], row: Any) -> int:
    parents = {r[0]: r[1] for r in rows}
    depth, node = 0, row[1]
    while node in parents:
        depth, node = depth + 1, parents[node]
    return depth


def _short(sql: str) -> str:
    """The statement on one line, its column list and long IN lists elided."""
    text = re.sub(r"^SELECT (\S+ \S+ \S+).*? FROM ", r"SELECT \1 … FROM ", " ".join(sql.split()), count=1)
    text = re.sub(r"IN \((%\(\w+\)s)(, %\(\w+\)s)+\)", r"IN (\1, …)", text.replace("::INTEGER", ""))
    return re.sub(r"IN \(\?(, \?)+\)", "IN (?, …)", text)


MAIN_TABLES = ("obligations", "stages", "reminder_log")


def explain_statements(db: BenchDB, statements: list[tuple[str, Any]]) -> list[dict[str, str]]:
    """The query plans of the tick's reads and updates of obligations, stages and reminder_log."""
    out = []
    conn = db.connect()
    try:
        for sql, params in statements:
            head = sql.lstrip().split(None, 1)[0].upper()
            if head not in ("SELECT", "UPDATE") or not any(t in sql for t in MAIN_TABLES):
                continue
            if head == "UPDATE" and "WHERE obligations.id =" in sql.replace("\n", " "):
                continue  # the per-row version updates of the ORM
            try:
                plan = _explain(db, conn, sql, params)
            except Exception as exc:  # a statement that cannot be explained standalone
                plan = f"(not explained: {type(exc).__name__}: {exc})"
                if db.backend == "postgresql":
                    conn.rollback()
            out.append({"sql": _short(sql), "plan": plan})
    finally:
        conn.close()
    return out


# ---- the figures -------------------------------------------------------------------------------------------


def sample(backend: str, root: Path, townships: int, history: int, org_townships: int,
           sched: list[tuple[Any, ...]], profile: Any = None) -> dict[str, Any]:
    from core.db import reset_engines

    with temp_databases(backend, root) as dbs:
        db = dbs.create(f"tick{history}")
        t0 = time.perf_counter()
        counts = generate(db, townships, org_townships, history)
        generated_s = time.perf_counter() - t0
        baseline_s, due, expected, baseline_plan = run_baseline(db, sched, explain=True)
        use_database(db.url)
        rehearse_tick()
        duban_s, steps, tick_counts, statements = run_tick(profile)
        plans = explain_statements(db, statements)
        reset_engines()
        check_same_rows(db, expected)
    if tick_counts.get("reminders") != due:
        raise RuntimeError(f"duban enqueued {tick_counts.get('reminders')} reminders, the baseline {due}")
    return {"history": history, "duban_s": duban_s, "baseline_s": baseline_s, "due_reminders": due,
            "rows": counts, "generated_s": round(generated_s, 1), "steps": {k: round(v, 4) for k, v in steps.items()},
            "tick_counts": tick_counts, "baseline_plan": baseline_plan, "plans": plans}


def warm_up(backend: str, root: Path, sched: list[tuple[Any, ...]]) -> None:
    """One untimed round on a small database, so no sample pays for first-use costs (SQLAlchemy's mapper
    configuration and statement compilation, Jinja's template compilation) that a running service has
    paid long before its tick — the baseline's query gets its untimed run the same way."""
    from core.db import reset_engines

    with temp_databases(backend, root) as dbs:
        db = dbs.create("warmup")
        generate(db, 2, 2, 0)
        run_baseline(db, sched)
        use_database(db.url)
        run_tick()
        reset_engines()


def repeat_count() -> int:
    return max(1, int(os.environ.get("BENCH_REPEAT", "1")))


def run_backend(backend: str, root: Path, quick: bool) -> list[Figure]:
    townships, histories = sizes(quick)
    org_townships = max(townships, math.ceil(max(histories) / PER_HISTORY_CAMPAIGN / (3 * len(HISTORY_YEARS))))
    sched = schedule()
    by_size: dict[int, list[dict[str, Any]]] = {h: [] for h in histories}
    warm_up(backend, root, sched)
    for _ in range(repeat_count()):
        for h in histories:
            by_size[h].append(sample(backend, root, townships, h, org_townships, sched))
    figures = []
    medians = {}
    for h in histories:
        samples = by_size[h]
        d, b = statistics.median(s["duban_s"] for s in samples), statistics.median(s["baseline_s"] for s in samples)
        medians[h] = d
        first = samples[0]
        figures.append(Figure(
            benchmark="B2", name=f"tick {_size(h)} history", backend=backend, duban_s=d, baseline_s=b,
            target_ratio=TARGET_RATIO,
            details={"current_townships": townships, "org_townships": org_townships, "history_obligations": h,
                     "due_reminders": first["due_reminders"], "rows": first["rows"],
                     "generated_s": first["generated_s"], "steps": first["steps"], "tick_counts": first["tick_counts"],
                     "baseline_plan": first["baseline_plan"], "plans": first["plans"],
                     "repeat": len(samples),
                     "samples": [{"duban_s": round(s["duban_s"], 4), "baseline_s": round(s["baseline_s"], 4)}
                                 for s in samples]},
        ))
    small, large = histories[0], histories[-1]
    figures.append(Figure(
        benchmark="B2", name=f"tick scaling {_size(large)}÷{_size(small)} history", backend=backend,
        duban_s=medians[large], baseline_s=medians[small], target_ratio=TARGET_SCALING,
        details={"history_small": small, "history_large": large, "scaling": True},
    ))
    return figures


def _size(n: int) -> str:
    return f"{n // 1_000_000}M" if n % 1_000_000 == 0 else f"{n // 1000}k"


def run(root: Path, quick: bool = False) -> list[Figure]:
    figures = []
    for backend in backends():
        figures.extend(run_backend(backend, root, quick))
    return figures


def summary(figure: Figure) -> str:
    d = figure.details
    if d.get("scaling"):
        return (f"{figure.figure}: duban's tick with {d['history_large']:,} history obligations took "
                f"{figure.ratio:.2f}× its time with {d['history_small']:,} (target ≤ {TARGET_SCALING:g}×)")
    steps = ", ".join(f"{k} {v:.3f} s" for k, v in sorted(d["steps"].items(), key=lambda kv: -kv[1]))
    rows = d["rows"]
    return (f"{figure.figure}: {rows['obligations']:,} obligations ({d['history_obligations']:,} history, "
            f"{rows['current_obligations']:,} current in {d['current_townships']} townships), "
            f"{rows['reminder_log']:,} reminder_log rows, generated in {d['generated_s']} s; "
            f"{d['due_reminders']:,} reminders due: duban {d['due_reminders'] / figure.duban_s:,.0f}/s, "
            f"baseline {d['due_reminders'] / figure.baseline_s:,.0f}/s; duban's steps: {steps}")


def plans_text(figures: list[Figure]) -> Iterator[str]:
    """The query plans of the largest size per backend, for the output and BENCHMARKS.md."""
    seen = set()
    for f in reversed(figures):
        if f.benchmark != "B2" or f.details.get("scaling") or f.backend in seen:
            continue
        seen.add(f.backend)
        yield f"-- query plans, {f.figure} --"
        yield "baseline SELECT:\n" + f.details["baseline_plan"]
        for p in f.details["plans"]:
            yield f"{p['sql']}\n{p['plan']}"
