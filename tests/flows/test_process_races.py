"""Races between real OS processes on one database (SQLite file and PostgreSQL).

``PARTIES`` racers (``racechild.py``, each its own interpreter with its own engine, its own ASGI app and its own
Prefect client of one shared Prefect server) are given the same command at once and meet at a barrier
placed where the contested database work starts, so they really are inside the same step together:

1. the same township's campaign launched through POST /api/v1/campaigns: one 201, the others 409 with the
   Chinese reason; with one Idempotency-Key, one launch and the others replays of it;
2. the same submission decided (approve, return, approve, return, …) through the API: one 200, the others 409;
   the submission, its reviews, its audit trail (hash chain) and its mail agree with the winner alone;
3. the ``tick`` flow for the same virtual moment: each reminder, escalation level and draft written once,
   and counted by exactly one racer; one more tick afterwards finds nothing left to do;
4. delivery workers (``deliver_pending``, the body of ``deliver_notifications``) claiming small batches
   and sending them to a real SMTP server (aiosmtpd): each outbox message received once, by Message-ID.

After every round, while the racers still run (pools open, idle), nobody holds a lock: on SQLite a
fresh ``BEGIN IMMEDIATE`` gets the write lock at once; on PostgreSQL no idle-in-transaction backend of the
database holds a lock and nobody waits for one. Every racer must answer each command and exit when told:
a hang fails the test instead of blocking it.

Sizes (tests/support/soak.py): ``DUBAN_RACE_PARTIES`` (4; ``make soak``: 2 to 10, one test each) and
``DUBAN_RACE_YEARS``, the campaign years whose launches and decisions are raced (1; each adds two races per
township). Each test reports its trials and what it found lost or duplicated to ``make soak``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import queue
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, func, select

from core.net import free_port
from models import (
    AuditEvent,
    Campaign,
    Escalation,
    IdempotencyRecord,
    Obligation,
    OrgUnit,
    OutboxMessage,
    ReminderLog,
    Review,
    Submission,
)
from tasks import review as service
from tasks.audit import verify_chain
from tasks.tick import REQUEST_OFFSET
from tests.support import postgres
from tests.support.clock import at
from tests.support.smtp import RecordingHandler, SmtpServer, smtp_server
from tests.support.soak import record, size, sizes
from tests.support.tick import tick
from tests.support.world import as_user, launch

# The multi-process tests run one after another on one pytest-xdist worker (`--dist loadgroup`), never beside
# each other: each loads both CPUs with its own processes (tests/support/soak.py).
pytestmark = pytest.mark.xdist_group("processes")
REPO = Path(__file__).resolve().parents[2]
CHILD = Path(__file__).with_name("racechild.py")
PARTIES = sizes("DUBAN_RACE_PARTIES", [3])
YEARS = size("DUBAN_RACE_YEARS", 1)
ANSWER_TIMEOUT = 120.0
DEFINITION = "weak_village_rectification"
TOWNSHIPS = ("QX01", "QX02", "QX03")
REPORT = {"basic_situation": "全镇后进村整顿有序推进", "results": "新发展党员3名", "main_problems": "个别村班子不团结",
          "next_steps": "下季度完成换届调整"}
YEAR = 2026  # the first year of the campaigns raced for; the calendar scenes run on the 2025 ones, before
LAUNCHED = at(dt.date(YEAR, 1, 2))


def launched(year: int) -> dt.datetime:
    return at(dt.date(year, 1, 2))


def reviewed(year: int) -> dt.datetime:
    return at(dt.date(year, 12, 10))


def decided(year: int) -> dt.datetime:
    return reviewed(year) + dt.timedelta(hours=1)


# The racers' decisions at the county level, and who sends each (racer i sends DECISIONS[i % 4]).
DECISIONS = [("approve", "admin"), ("return", "county-reviewer"), ("approve", "county-reviewer"), ("return", "admin")]
FOUND: Counter[str] = Counter()  # what the checks of the running test found lost or duplicated (for make soak)
# The calendar scene: launched on 25 Sep, then ticked (and delivered) on these mornings only, so each
# tick catches up: it opens windows, marks deadlines missed, climbs the ladder and sends reminders.
CALENDAR_LAUNCH = at(dt.date(2025, 9, 25))
# 9 Oct: reminders fall due; 28 Oct: reporting windows open and missed deadlines climb the ladder.
TICK_DAYS = [at(dt.date(2025, 10, 9)), at(dt.date(2025, 10, 28))]


# --- the racers -------------------------------------------------------------------------------------------


class Racers:
    """``parties`` child processes; ``race(command)`` sends each the command and returns their answers."""

    def __init__(self, engine: Engine, tmp_path: Path, parties: int, extra_env: dict[str, str]) -> None:
        self.parties = parties
        self.workdir = tmp_path / "race"
        self.workdir.mkdir()
        env = dict(os.environ)
        env.update(
            DUBAN_DATABASE_URL=engine.url.render_as_string(hide_password=False),
            DUBAN_SCHEDULER="off",
            DUBAN_PASSWORD_HASHING="cheap",
            DUBAN_SMTP_SINK="false",
            DUBAN_PREFECT_WARMUP="false",
            PYTHONPATH=str(REPO),
            **extra_env,
        )
        self.procs: list[subprocess.Popen[str]] = []
        self.lines: list[queue.Queue[str | None]] = []
        self.round = 0
        self.trials: Counter[str] = Counter()  # races run, by command
        self.seconds: dict[str, float] = {}  # wall time spent in them, by command (a figure, never asserted)
        self.started = time.monotonic()
        for i in range(parties):
            child_env = dict(env, PREFECT_HOME=str(tmp_path / f"prefect-{i}"))
            stderr = (self.workdir / f"stderr-{i}.txt").open("w")
            proc = subprocess.Popen(
                [sys.executable, str(CHILD), str(i), str(parties), str(self.workdir)], cwd=REPO, env=child_env,
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, text=True, encoding="utf-8")
            stderr.close()
            lines: queue.Queue[str | None] = queue.Queue()
            threading.Thread(target=self._pump, args=(proc, lines), daemon=True).start()
            self.procs.append(proc)
            self.lines.append(lines)

    def wait_ready(self) -> None:
        # Every racer imports the app and Prefect at once: on two CPUs their start-up grows with their number.
        timeout = max(ANSWER_TIMEOUT, 30.0 * self.parties)
        for i in range(self.parties):
            assert self._next(i, "READY", timeout) == "READY"
        self.seconds["start"] = round(time.monotonic() - self.started, 1)

    @staticmethod
    def _pump(proc: subprocess.Popen[str], lines: queue.Queue[str | None]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    def stderr(self, i: int) -> str:
        return (self.workdir / f"stderr-{i}.txt").read_text(errors="replace")[-4000:]

    def _next(self, i: int, prefix: str, timeout: float = ANSWER_TIMEOUT) -> str:
        while True:
            try:
                line = self.lines[i].get(timeout=timeout)
            except queue.Empty:
                pytest.fail(f"racer {i} hung (no answer in {timeout:.0f} s)\n{self.stderr(i)}")
            if line is None:
                pytest.fail(f"racer {i} died (rc={self.procs[i].wait()})\n{self.stderr(i)}")
            if line.startswith(prefix):
                return line

    def race(self, commands: list[dict[str, Any]] | dict[str, Any]) -> list[dict[str, Any]]:
        """One round: command i to racer i (or the same command to all); every racer must pass the barrier."""
        self.round += 1
        started = time.monotonic()
        each = commands if isinstance(commands, list) else [commands] * self.parties
        for proc, command in zip(self.procs, each, strict=True):
            assert proc.stdin is not None
            proc.stdin.write(json.dumps(dict(command, round=self.round), ensure_ascii=False, default=str) + "\n")
            proc.stdin.flush()
        results = [json.loads(self._next(i, "RESULT ").removeprefix("RESULT ")) for i in range(self.parties)]
        errors = {r["index"]: r["error"] for r in results if "error" in r}
        assert not errors, "\n".join(f"racer {i}:\n{e}\n{self.stderr(i)}" for i, e in errors.items())
        for r in results:  # everyone was held at the contested step until all were there
            assert r["barriers"], r
        self.trials[str(each[0]["op"])] += 1
        op = str(each[0]["op"])
        self.seconds[op] = round(self.seconds.get(op, 0.0) + time.monotonic() - started, 1)
        return results

    def close(self) -> None:
        """Tell the racers to exit; each must, promptly (a racer that has to be killed fails the test)."""
        hung = []
        for proc in self.procs:
            with contextlib.suppress(OSError):
                assert proc.stdin is not None
                proc.stdin.close()
        for i, proc in enumerate(self.procs):
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                hung.append(i)
        assert not hung, f"racers {hung} did not exit: {[self.stderr(i) for i in hung]}"
        assert [p.returncode for p in self.procs] == [0] * self.parties, [self.stderr(i) for i in range(self.parties)]


@contextlib.contextmanager
def racers(engine: Engine, tmp_path: Path, parties: int, **extra_env: str) -> Iterator[Racers]:
    group = Racers(engine, tmp_path, parties, extra_env)
    try:
        group.wait_ready()
        yield group
    except BaseException:
        for proc in group.procs:  # only ours, by handle
            proc.kill()
            proc.wait()
        raise
    group.close()
    assert_no_lingering_locks(engine)


@pytest.fixture(scope="module")
def prefect_api() -> Iterator[str]:
    """The API of one Prefect server for every racer (without it each would start its own).

    Several processes running flows against one Prefect server is the scale-out arrangement, and there the
    server keeps its runs in PostgreSQL (README "Scaling out"); so does this one when the test server answers.
    On Prefect's SQLite store the racers' flow runs are written by transactions that read before they write
    (DEFERRED): when another racer's write commits in between, SQLite answers "database is locked" at once,
    without waiting (the snapshot is stale), and a racer's launch came back as a 500 on a loaded machine."""
    from prefect.server.api.server import SubprocessASGIServer

    if not postgres.reachable():
        server = SubprocessASGIServer()  # the process's ephemeral server, on SQLite
        server.start(timeout=120)  # a loaded machine starts it slowly
        yield server.api_url
        return
    name = f"duban_prefect_{uuid.uuid4().hex[:12]}"
    url = make_url(postgres.create_database(name)).set(drivername="postgresql+asyncpg")
    saved = os.environ.get("PREFECT_API_DATABASE_CONNECTION_URL")
    os.environ["PREFECT_API_DATABASE_CONNECTION_URL"] = url.render_as_string(hide_password=False)
    server = SubprocessASGIServer(port=free_port())  # a server of its own (the ephemeral one stays on SQLite)
    try:
        server.start(timeout=180)  # it migrates its database first
    finally:
        if saved is None:
            os.environ.pop("PREFECT_API_DATABASE_CONNECTION_URL")
        else:
            os.environ["PREFECT_API_DATABASE_CONNECTION_URL"] = saved
    try:
        yield server.api_url
    finally:
        server.stop()
        postgres.drop_database(name)


def assert_no_lingering_locks(engine: Engine) -> None:
    if engine.dialect.name == "sqlite":
        raw = sqlite3.connect(str(engine.url.database), timeout=5, isolation_level=None)
        try:
            raw.execute("BEGIN IMMEDIATE")  # "database is locked" if anyone still holds the write lock
            raw.execute("ROLLBACK")
        finally:
            raw.close()
        return
    with engine.connect() as conn:
        held = conn.execute(text(
            "SELECT a.pid, a.state, l.locktype, l.mode FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE a.datname = current_database() AND a.pid <> pg_backend_pid() "
            "AND (a.state LIKE 'idle in transaction%' OR NOT l.granted)")).all()
        conn.rollback()
    assert held == [], held


def pg_deadlocks(engine: Engine) -> int:
    if engine.dialect.name != "postgresql":
        return 0
    with engine.connect() as conn:
        return int(conn.execute(text(
            "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")).scalar() or 0)


# --- 1 and 2: launches and decisions through the API --------------------------------------------------------


def at_county_level(engine: Engine, campaign_id: int, year: int) -> tuple[int, int]:
    """The campaign's Q4 report, submitted and approved by its township: (submission id, version)."""
    with Session(engine, expire_on_commit=False) as s:
        campaign = s.get(Campaign, campaign_id)
        assert campaign is not None
        code = s.get(OrgUnit, campaign.township_id).code.lower()  # type: ignore[union-attr]
        obligation_id = s.exec(select(Obligation.id).where(
            Obligation.campaign_id == campaign_id, Obligation.period == f"{year}Q4",
            Obligation.kind == "quarterly_report")).one()
        sub = service.create_submission(s, as_user(s, f"{code}-liaison"), reviewed(year), obligation_id=obligation_id or 0,
                                        subject=None, data=REPORT, submit=True)
        s.commit()
        sub = service.decide(s, as_user(s, f"{code}-secretary"), reviewed(year), sub.id or 0, decision="approve",
                             comment=None, version=sub.version)
        s.commit()
        assert (sub.status, sub.current_level) == ("in_review", 1)
        return sub.id or 0, sub.version


def check_launch_race(engine: Engine, results: list[dict[str, Any]], code: str, year: int) -> int:
    codes = Counter(r["status"] for r in results)
    FOUND["duplicated"] += max(codes[201] - 1, 0)
    FOUND["lost"] += codes[201] == 0
    assert codes == {201: 1, 409: len(results) - 1}, results
    winner = next(r["body"] for r in results if r["status"] == 201)
    for r in results:
        if r["status"] == 409:
            assert r["content_type"].startswith("application/problem+json")
            assert "已经启动" in r["body"]["detail"] and f"编号 {winner['id']}" in r["body"]["detail"], r["body"]
    with Session(engine) as s:
        township = s.exec(select(OrgUnit).where(OrgUnit.code == code)).one()
        campaigns = s.exec(select(Campaign.id).where(
            Campaign.definition_key == DEFINITION, Campaign.township_id == township.id, Campaign.year == year)).all()
        FOUND["duplicated"] += max(len(campaigns) - 1, 0)
        assert campaigns == [winner["id"]]
        obligations = s.exec(select(Obligation.key).where(Obligation.campaign_id == winner["id"])).all()
        assert len(obligations) == len(set(obligations)) == len(winner["obligations"]) > 0
    return int(winner["id"])


def check_decision_race(engine: Engine, results: list[dict[str, Any]], sid: int, version: int, year: int) -> str:
    codes = Counter(r["status"] for r in results)
    FOUND["duplicated"] += max(codes[200] - 1, 0)
    FOUND["lost"] += codes[200] == 0
    assert codes == {200: 1, 409: len(results) - 1}, results
    won = next(r for r in results if r["status"] == 200)
    decision = DECISIONS[won["index"] % len(DECISIONS)][0]
    expected = {"approve": "approved", "return": "returned"}[decision]
    assert (won["body"]["status"], won["body"]["version"]) == (expected, version + 1)
    for r in results:
        if r["status"] == 409:
            assert r["content_type"].startswith("application/problem+json")
            assert r["body"]["errors"] == [{"field": "version", "message": "stale"}]
            assert "刷新后重试" in r["body"]["detail"], r["body"]
    with Session(engine) as s:
        row = s.get(Submission, sid)
        assert row is not None and (row.status, row.version) == (expected, version + 1)
        reviews = s.exec(select(Review.decision).where(Review.submission_id == sid, Review.level == 1)).all()
        FOUND["duplicated"] += max(len(reviews) - 1, 0)
        assert reviews == [decision]
        trail = s.exec(select(AuditEvent.action).where(
            AuditEvent.subject_type == "submission", AuditEvent.subject_id == sid,
            AuditEvent.at == decided(year))).all()
        FOUND["duplicated"] += max(len(trail) - 1, 0)
        assert trail == [f"submission.{decision}"]
        keys = s.exec(select(OutboxMessage.key)).all()
        mails = [k for k in keys if k.split(":")[:4] in ([d, str(sid), "1", "1"] for d in ("approve", "return"))]
        assert mails and {m.split(":")[0] for m in mails} == {decision}, mails  # the loser's mail was never written
        ob = s.get(Obligation, row.obligation_id)
        assert ob is not None and ob.status == ("met" if decision == "approve" else "open")
        assert verify_chain(s).ok
    return decision


def race_launches_and_decisions(group: Racers, engine: Engine) -> Counter[str]:
    """Scenes 1 and 2, for each year and township: its campaign launched by all racers, then its Q4 report
    decided."""
    winners: Counter[str] = Counter()
    for year in range(YEAR, YEAR + YEARS):
        for code in TOWNSHIPS:
            body = {"definition": DEFINITION, "township": code, "year": year}
            results = group.race({"op": "launch", "now": launched(year).isoformat(), "body": body})
            campaign_id = check_launch_race(engine, results, code, year)
            assert_no_lingering_locks(engine)

            sid, version = at_county_level(engine, campaign_id, year)
            commands = [
                {"op": "decide", "now": decided(year).isoformat(), "submission": sid, "user": user,
                 "body": {"decision": decision, "version": version}
                 | ({"comment": "请补充佐证材料"} if decision == "return" else {})}
                for decision, user in (DECISIONS[i % len(DECISIONS)] for i in range(group.parties))
            ]
            winners[check_decision_race(engine, group.race(commands), sid, version, year)] += 1
            assert_no_lingering_locks(engine)

    # The same launch with one Idempotency-Key: one launch, the others replay it.
    next_year = YEAR + YEARS
    body = {"definition": DEFINITION, "township": "QX01", "year": next_year}
    results = group.race({"op": "launch", "now": launched(next_year).isoformat(), "body": body,
                          "idempotency_key": "race-next-year"})
    FOUND["duplicated"] += len({r["body"].get("id") for r in results if r["status"] == 201}) - 1
    assert [r["status"] for r in results] == [201] * group.parties, [r["body"] for r in results]
    assert sorted(str(r["replayed"]) for r in results) == ["None"] + ["true"] * (group.parties - 1)
    assert len({r["body"]["id"] for r in results}) == 1
    with Session(engine) as s:
        assert s.exec(select(func.count()).select_from(Campaign).where(Campaign.year == next_year)).one() == 1
        assert s.exec(select(func.count()).select_from(IdempotencyRecord)).one() == 1
        assert verify_chain(s).ok
    assert_no_lingering_locks(engine)
    return winners


# --- 3 and 4: ticks and deliveries ---------------------------------------------------------------------------


@pytest.fixture
def smtp() -> Iterator[SmtpServer[RecordingHandler]]:
    with smtp_server(RecordingHandler()) as server:
        yield server


def snapshot(engine: Engine) -> dict[str, list[Any]]:
    with Session(engine) as s:
        return {
            "outbox": sorted(s.exec(select(OutboxMessage.key)).all()),
            "reminders": sorted(s.exec(select(ReminderLog.obligation_id, ReminderLog.offset, ReminderLog.user_id)).all()),
            "escalations": sorted(s.exec(select(Escalation.obligation_id, Escalation.trigger, Escalation.level)).all()),
            "drafts": sorted(s.exec(select(Submission.obligation_id)).all(), key=lambda x: x or 0),
        }


def check_tick_race(engine: Engine, results: list[dict[str, Any]], now: dt.datetime) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for r in results:
        counts.update(r["counts"])
    before = snapshot(engine)
    for name in ("outbox", "reminders", "escalations", "drafts"):
        FOUND["duplicated"] += len(before[name]) - len(set(before[name]))
        assert len(before[name]) == len(set(before[name])), name
    with Session(engine) as s:
        logs = s.exec(select(ReminderLog).where(ReminderLog.created_at == now)).all()
        escalations = s.exec(select(func.count()).select_from(Escalation).where(Escalation.created_at == now)).one()
    mails = [log.outbox_id for log in logs if log.outbox_id is not None]
    assert len(mails) == len(set(mails))
    reminders = sum(1 for log in logs if log.offset != REQUEST_OFFSET)
    opened = len({log.obligation_id for log in logs if log.offset == REQUEST_OFFSET})
    # Each reminder, each opened window and each escalation level was written by exactly one racer, which
    # counted it: the counts the racers' flows returned add up to what the database holds.
    assert (counts["reminders"], counts["windows_opened"], counts["escalations"]) == (reminders, opened, escalations), (
        counts, reminders, opened, escalations)
    tick(engine, now)  # once more, in this process
    assert snapshot(engine) == before  # one more tick for the same moment finds nothing to do
    return {"reminders": reminders, "escalations": escalations, "windows_opened": opened}


def check_delivery_race(engine: Engine, results: list[dict[str, Any]], handler: RecordingHandler) -> dict[str, int]:
    with Session(engine) as s:
        rows = s.exec(select(OutboxMessage)).all()
    assert {m.status for m in rows} == {"sent"}, Counter(m.status for m in rows)
    received = Counter(handler.message_ids())
    FOUND["duplicated"] += sum(n - 1 for n in received.values())
    FOUND["lost"] += len({m.message_id for m in rows} - set(received))
    assert {mid: n for mid, n in received.items() if n > 1} == {}  # nothing twice ...
    assert set(received) == {m.message_id for m in rows}  # ... nothing lost, nothing foreign
    runs = [stats for r in results for stats in r["runs"]]
    sent = sum(stats["sent"] for stats in runs)
    return {"sent": sent, "skipped": sum(stats["skipped"] for stats in runs), "runs": len(runs)}


def race_ticks_and_deliveries(group: Racers, engine: Engine, handler: RecordingHandler) -> Counter[str]:
    """Scenes 3 and 4 on the 2025 campaigns, for each tick day: the tick raced, then the delivery raced."""
    totals: Counter[str] = Counter()
    for day in TICK_DAYS:
        totals.update(check_tick_race(engine, group.race({"op": "tick", "now": day.isoformat()}), day))
        assert_no_lingering_locks(engine)
        sent_before = len(handler.message_ids())
        stats = check_delivery_race(engine, group.race({"op": "deliver", "now": day.isoformat(), "batch": 5}), handler)
        assert stats["sent"] == len(handler.message_ids()) - sent_before
        totals.update(stats)
        assert_no_lingering_locks(engine)
    # Without this the test could pass by having nothing to race for.
    assert totals["reminders"] > 0 and totals["escalations"] > 0 and totals["sent"] > 0, totals
    return totals


@pytest.mark.parametrize("parties", PARTIES, ids=[f"{n}-racers" for n in PARTIES])
def test_races_between_processes_are_won_once(
    demo_county: Engine, backend: str, tmp_path: Path, prefect_api: str, smtp: SmtpServer[RecordingHandler],
    parties: int,
) -> None:
    engine = demo_county
    port, handler = smtp.port, smtp.handler
    launch(engine, TOWNSHIPS, CALENDAR_LAUNCH, definition=DEFINITION)
    deadlocks = pg_deadlocks(engine)
    FOUND.clear()
    trials: Counter[str] = Counter()
    error = None
    try:
        with racers(engine, tmp_path, parties, PREFECT_API_URL=prefect_api, DUBAN_SMTP_HOST="127.0.0.1",
                    DUBAN_SMTP_PORT=str(port)) as group:
            trials = group.trials
            totals = race_ticks_and_deliveries(group, engine, handler)
            winners = race_launches_and_decisions(group, engine)
    except BaseException as exc:
        error = f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
        raise
    finally:
        record("race", backend, test=f"{parties}-racers", parties=parties, trials=sum(trials.values()),
               by_op=dict(trials), lost=FOUND["lost"], duplicated=FOUND["duplicated"], error=error)
    print(f"\n[{backend}] race trials (all exactly-once): {dict(group.trials)}; calendar: {dict(totals)}; "
          f"decision winners: {dict(winners)}; seconds: {dict(group.seconds)}; deadlocks detected and retried: {pg_deadlocks(engine) - deadlocks}")


def test_a_launch_that_loses_between_its_two_looks_replays_the_winner(
    demo_county: Engine, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The interleaving behind a 409 the process race once answered instead of a replay (PostgreSQL), forced:
    a launch with an Idempotency-Key finds no record of the key, then the other launch with that key commits,
    then it finds the campaign. It must replay the winner, not report a duplicate."""
    if backend != "postgresql":
        pytest.skip("on SQLite the first look takes the write lock (BEGIN IMMEDIATE): nobody can commit in between")
    from tasks import launch as launch_tasks

    engine = demo_county
    key = ("race-key", launch_tasks.request_hash({"definition": DEFINITION, "township": "QX01", "year": YEAR}))
    real = launch_tasks._replay
    winner: list[int] = []

    def first_look(session: Session, idempotency: tuple[str, str] | None) -> Any:
        found = real(session, idempotency)
        if not winner:  # right after our first look, the other launch runs to its commit
            winner.append(0)
            outcome = launch_tasks.launch_one(engine, DEFINITION, "QX01", YEAR, LAUNCHED, key)
            assert outcome.status == "created"
            winner[0] = outcome.campaign_id
        return found

    monkeypatch.setattr(launch_tasks, "_replay", first_look)
    outcome = launch_tasks.launch_one(engine, DEFINITION, "QX01", YEAR, LAUNCHED, key)
    assert (outcome.status, outcome.campaign_id) == ("replayed", winner[0])
