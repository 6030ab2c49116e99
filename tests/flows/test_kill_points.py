"""SIGKILL at many points of launch, tick, review decisions and delivery; the work resumes in a new process.

For each kill point of each job (``killchild.KILL_POINTS``: 16 in all) and each database backend, a child
process runs the job and kills itself with SIGKILL at the point's ``nth`` occurrence in that process: cycle 1
dies at the first occurrence, the next child resumes the work and dies at its second, the next at its third
(so that a point inside a transaction that was rolled back is not only hit again at the same place), and a
long run goes on with 1, 2, 3 again.
After the last cycle a child without a kill point finishes the job. The points are installed by the child
around real components (the DBAPI commit, task functions, the SMTP mailer); the database is the real SQLite
file or PostgreSQL database and the mail goes to a real SMTP server (aiosmtpd) over TCP.

What must hold:

* after every kill: the audit chain verifies, every campaign there is whole (all its stages and deadlines),
  and nothing written so far is written twice: every row is one the uninterrupted run writes too, and no
  more often (campaigns, stages, deadlines, drafts, submission rounds, review decisions, reminder logs, outbox
  messages, escalation steps, audit events, compared by what they are, not by their ids);
* after the clean run: the database is the one an uninterrupted run of the same job on a copy of the same
  database produces (nothing lost, nothing duplicated, same states);
* delivery: every outbox message reached the SMTP server, and each exactly once, except a message that was
  in flight when a child died, between the server's 250 and the commit of its ``sent``: that one arrives once
  more per such kill, with the same Message-ID (the at-least-once window of notifications/delivery.py);
* review: a client that repeats, blindly and with the version it had sent, the decision it got no answer
  for is refused (409) when the decision had committed and succeeds when it had not: each decision once.

``DUBAN_CRASH_CYCLES`` sets the number of SIGKILLs per kill point: 2 in ``make test`` (the first and the second
occurrence of each point), 20 in ``make soak``; the jobs have enough occurrences of every point for three, so a long
run goes in rounds: when the job is done before its kills are, the next round starts it again from a copy of the
prepared database, and every round ends with the clean run and the comparison below. Each test reports what it
tried and found to ``make soak`` (tests/support/soak.py). Children are forked from a zygote (killchild.py
``serve``) that imports the project once and never opens the database, which keeps a cycle at a fraction of a
second.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from core.db import make_engine, session_scope
from models import (
    AuditEvent,
    Bulletin,
    Campaign,
    Escalation,
    Obligation,
    OrgUnit,
    OutboxMessage,
    ReminderLog,
    Review,
    Stage,
    Submission,
    SubmissionRound,
    User,
)
from tasks.audit import verify_chain
from tests.support.databases import PreparedStates, copy_database
from tests.support.postgres import drop_database
from tests.support.smtp import RecordingHandler, smtp_server
from tests.support.soak import record, size
from tests.support.tick import tick_days
from tests.support.world import approve_weak_village_list, as_user, launch

# The multi-process tests run one after another on one pytest-xdist worker (`--dist loadgroup`), never beside
# each other: each loads both CPUs with its own processes (tests/support/soak.py).
pytestmark = pytest.mark.xdist_group("processes")
HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))
import killchild  # noqa: E402

CYCLES = size("DUBAN_CRASH_CYCLES", 2)
POINTS = [(job, point) for job, points in killchild.KILL_POINTS.items() for point in points]
DELIVERY_PREP_DAYS = (dt.date(2025, 9, 26), dt.date(2025, 9, 29), dt.date(2025, 10, 9), dt.date(2025, 10, 10),
                      dt.date(2025, 10, 11))
Q4_REPORT = {"basic_situation": "全镇后进村整顿有序推进", "results": "新发展党员3名",
             "main_problems": "个别村班子仍不团结", "next_steps": "下季度完成换届调整"}

SURVIVED: list[tuple[str, str, str, int]] = []  # (backend, job, point, kills survived)
ATTEMPTED: Counter[str] = Counter()  # kill-point tests started, per backend


# --- the zygote and the SMTP server ---------------------------------------------------------------------------


class Zygote:
    """``killchild.py serve``: forks one child per command and says how it ended."""

    def __init__(self) -> None:
        env = dict(os.environ, PYTHONPATH=str(REPO), DUBAN_SCHEDULER="off", DUBAN_SMTP_SINK="false")
        env.pop("DUBAN_DATABASE_URL", None)
        self.proc = subprocess.Popen([sys.executable, str(HERE / "killchild.py"), "serve"], cwd=REPO, env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def run(self, cmd: dict[str, Any]) -> dict[str, int]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline()
        assert answer, f"the zygote died (rc={self.proc.poll()})"
        return json.loads(answer)  # type: ignore[no-any-return]

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


@pytest.fixture(scope="module")
def zygote() -> Iterator[Zygote]:
    z = Zygote()
    yield z
    z.close()


@pytest.fixture(scope="module")
def smtp() -> Iterator[tuple[RecordingHandler, int]]:
    with smtp_server(RecordingHandler()) as server:
        yield server.handler, server.port


# --- preparing each job's database (in this process, nothing killed) ------------------------------------------


PREPARED = PreparedStates()  # by job and backend


@pytest.fixture(scope="module", autouse=True)
def prepared_copies(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Each job's prepared database is kept for the module's tests and dropped after them."""
    PREPARED.directory = tmp_path_factory.mktemp("prepared")
    yield
    PREPARED.drop()


def prepare_once(job: str, engine: Engine, state: Path) -> None:
    """:func:`prepare`, worked out once per job and backend and copied for each test (the review's submission ids
    survive the copy and are kept beside it)."""
    key = f"{job}-{engine.dialect.name}"
    assert PREPARED.directory is not None
    sids = PREPARED.directory / f"{key}-review-sids.json"
    if PREPARED.restore(key, engine):
        if sids.exists():
            (state / "review-sids.json").write_text(sids.read_text())
        return
    prepare(job, engine, state)
    PREPARED.keep(key, engine)
    if (state / "review-sids.json").exists():
        sids.write_text((state / "review-sids.json").read_text())


def prepare(job: str, engine: Engine, state: Path) -> None:
    """What each job starts from: launch needs nothing; the tick has two launched campaigns, QX01's list still
    owed (reminders, then the ladder) and QX02's approved (its villages' plans and weekly reports to open); the
    review has two quarterly reports filled in; the delivery has the mail of two launches and five days of ticks."""
    from tasks import review

    if job in ("tick", "deliver"):
        launch(engine, ("QX01", "QX02"), killchild.LAUNCH, year=killchild.YEAR, definition=killchild.DEFINITION)
    if job == "tick":
        approve_weak_village_list(engine, "QX02", ["QX02001", "QX02004"], killchild.LAUNCH)
    if job == "deliver":
        tick_days(engine, DELIVERY_PREP_DAYS)
    if job == "review":
        sids = []
        for code in ("QX01", "QX02"):
            launch(engine, [code], killchild.REVIEW_LAUNCH, year=killchild.YEAR, definition=killchild.DEFINITION)
            with session_scope(engine) as s:
                principal = as_user(s, f"{code.lower()}-liaison")
                draft = s.exec(select(Submission).join(OrgUnit, col(Submission.township_id) == OrgUnit.id).where(
                    OrgUnit.code == code, Submission.form_key == "quarterly_report", Submission.status == "draft")).one()
                review.update_draft(s, principal, killchild.REVIEW_LAUNCH, draft.id or 0, Q4_REPORT, draft.version)
                sids.append(draft.id)
        (state / "review-sids.json").write_text(json.dumps(sids))


# --- comparing databases by what the rows are, not by their ids -----------------------------------------------


@dataclass
class Snapshot:
    facts: dict[str, Counter[Any]]  # rows that are written once and never removed, by identity
    states: dict[str, Counter[Any]]  # the mutable part of the rows
    whole: dict[str, tuple[int, int]]  # stages and deadlines per campaign (by township)


def snapshot(engine: Engine) -> Snapshot:
    with Session(engine) as s:
        org = {o.id: o.code for o in s.exec(select(OrgUnit))}
        users = {u.id: u.username for u in s.exec(select(User))}
        campaigns = list(s.exec(select(Campaign)))
        camp = {c.id: (c.definition_key, org[c.township_id], c.year) for c in campaigns}
        stages = list(s.exec(select(Stage)))
        stage = {x.id: (camp[x.campaign_id], x.key) for x in stages}
        obligations = list(s.exec(select(Obligation)))
        ob = {o.id: (camp[o.campaign_id], o.key) for o in obligations}
        subs = list(s.exec(select(Submission)))
        sub = {x.id: (camp[x.campaign_id], ob.get(x.obligation_id), org[x.subject_id]) for x in subs}
        escalations = list(s.exec(select(Escalation)))
        esc_keys = {e.id: _norm_key(e.key or "", ob, users, sub, stage) for e in escalations}
        outbox = list(s.exec(select(OutboxMessage)))
        mail = {m.id: _norm_key(m.key, ob, users, sub, stage) for m in outbox}
        logs = list(s.exec(select(ReminderLog)))
        rounds = list(s.exec(select(SubmissionRound)))
        reviews = list(s.exec(select(Review)))
        events = list(s.exec(select(AuditEvent).order_by(col(AuditEvent.seq))))
        bulletins = {b.id: (b.period_start, b.period_end) for b in s.exec(select(Bulletin))}
    subject: dict[str, dict[Any, Any]] = {"submission": sub, "obligation": ob, "stage": stage, "escalation": esc_keys,
                                          "campaign": camp, "bulletin": bulletins}

    def event_subject(e: AuditEvent) -> Any:
        return subject.get(e.subject_type, {}).get(e.subject_id, e.subject_id)

    facts: dict[str, Counter[Any]] = {
        "campaign": Counter(camp.values()),
        "stage": Counter(stage.values()),
        "obligation": Counter(ob.values()),
        "submission": Counter(sub.values()),
        "submission_round": Counter((sub[r.submission_id], r.round, users[r.submitted_by]) for r in rounds),
        "review": Counter((sub[r.submission_id], r.round, r.level, r.decision, users[r.reviewer_id], r.comment)
                          for r in reviews),
        "reminder_log": Counter((ob[r.obligation_id], r.offset, users[r.user_id], r.remind_on) for r in logs),
        "outbox": Counter((mail[m.id], m.to_addr, m.subject) for m in outbox),
        "escalation": Counter((esc_keys[e.id], e.trigger, e.level) for e in escalations),
        "audit": Counter((e.action, e.subject_type, event_subject(e), org.get(e.township_id), e.actor, e.at)
                         for e in events),
    }
    states: dict[str, Counter[Any]] = {
        "campaign": Counter((camp[c.id], c.status) for c in campaigns),
        "stage": Counter((stage[x.id], x.status, x.version) for x in stages),
        "obligation": Counter((ob[o.id], o.status, o.escalation_level, o.met_on, o.version) for o in obligations),
        "submission": Counter((sub[x.id], x.status, x.current_level, x.round, x.returns, x.version,
                               json.dumps(x.data, sort_keys=True)) for x in subs),
        "reminder_log": Counter((ob[r.obligation_id], r.offset, users[r.user_id],
                                 mail.get(r.outbox_id, r.outbox_id)) for r in logs),
        "outbox": Counter((mail[m.id], m.status, m.attempts) for m in outbox),
        "escalation": Counter((esc_keys[e.id], e.status) for e in escalations),
    }
    whole = {str(camp[c.id]): (sum(1 for x in stages if x.campaign_id == c.id),
                               sum(1 for o in obligations if o.campaign_id == c.id)) for c in campaigns}
    return Snapshot(facts, states, whole)


def _norm_key(key: str, ob: dict[Any, Any], users: dict[Any, Any], sub: dict[Any, Any], stage: dict[Any, Any]) -> str:
    """An outbox or escalation key with the ids it embeds replaced by what they stand for."""
    parts = key.split(":")
    kinds = {
        "request": (ob, users), "reminder": (ob, None, users), "digest": (users, None),
        "overdue": (ob, None), "stage_passed": (stage, users), "returns_exceeded": (sub, None, users),
        "submitted": (sub, None, None, users), "approve": (sub, None, None, users),
        "return": (sub, None, None, users), "reject": (sub, None, None, users),
    }
    if parts[0] == "escalation":
        return "escalation:" + _norm_key(":".join(parts[1:-1]), ob, users, sub, stage) + f":{users[int(parts[-1])]}"
    maps = kinds.get(parts[0])
    if maps is None or len(maps) != len(parts) - 1:
        return key
    return ":".join([parts[0]] + [str(m[int(p)]) if m is not None else p for m, p in zip(maps, parts[1:], strict=True)])


def excess(got: dict[str, Counter[Any]], ref: dict[str, Counter[Any]]) -> dict[str, Counter[Any]]:
    """What ``got`` holds beyond ``ref`` (rows the uninterrupted run never writes, or writes fewer times)."""
    return {table: rows - ref[table] for table, rows in got.items() if rows - ref[table]}


def rows(tables: dict[str, Counter[Any]]) -> int:
    return sum(sum(counts.values()) for counts in tables.values())


def check_after_kill(engine: Engine, ref: Snapshot, figures: dict[str, int]) -> None:
    with Session(engine) as s:
        result = verify_chain(s)
    assert result.ok, result
    now = snapshot(engine)
    figures["duplicated"] += rows(excess(now.facts, ref.facts))
    assert excess(now.facts, ref.facts) == {}
    half = {c: counts for c, counts in now.whole.items() if counts != ref.whole.get(c)}
    assert half == {}, "a campaign is half-written"


# --- reference runs: the same job, uninterrupted, on a copy of the prepared database ---------------------------


@dataclass
class Reference:
    snapshot: Snapshot
    census: dict[str, int]
    received: Counter[str]


REFERENCES: dict[tuple[str, str], Reference] = {}


def reference(job: str, backend: str, engine: Engine, zygote: Zygote, tmp_path: Path,
              mailbox: RecordingHandler | None, port: int) -> Reference:
    if (job, backend) in REFERENCES:
        return REFERENCES[job, backend]
    url, pg_name = copy_database(engine, tmp_path / "reference.db")
    state = tmp_path / "reference"
    state.mkdir()
    sids = tmp_path / "state" / "review-sids.json"
    if sids.exists():
        (state / sids.name).write_text(sids.read_text())
    try:
        answer = zygote.run(command(job, url, state, None, 0, port))
        assert answer == {"exit": 0}, child_logs(state)
        ref_engine = make_engine(url)
        try:
            ref = Reference(snapshot(ref_engine), json.loads((state / "census.json").read_text()),
                            mailbox.take() if mailbox else Counter())
        finally:
            ref_engine.dispose()
    finally:
        if pg_name:
            drop_database(pg_name)
    REFERENCES[job, backend] = ref
    return ref


def command(job: str, url: str, state: Path, point: str | None, cycle: int, port: int, nth: int = 0) -> dict[str, Any]:
    return {"job": job, "db": url, "state": str(state), "point": point, "nth": nth, "cycle": cycle,
            "smtp_port": port}


def child_logs(state: Path) -> str:
    return "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted(state.glob("child-*.log")))


def kills(state: Path) -> list[dict[str, Any]]:
    path = state / "kills.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


# --- the kill points ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("job", "point"), [pytest.param(j, p, id=f"{j}-{p}") for j, p in POINTS])
def test_killed_and_restarted_the_job_ends_as_if_never_killed(
    job: str, point: str, demo_county: Engine, backend: str, zygote: Zygote, smtp: tuple[RecordingHandler, int],
    tmp_path: Path,
) -> None:
    ATTEMPTED[backend] += 1
    figures = {"cycles": 0, "kills": 0, "rounds": 0, "lost": 0, "duplicated": 0}
    error = None
    try:
        _kill_and_restart(job, point, demo_county, backend, zygote, smtp, tmp_path, figures)
    except BaseException as exc:
        error = f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
        raise
    finally:
        record("crash", backend, test=f"{job}-{point}", error=error, **figures)


def _kill_and_restart(job: str, point: str, demo_county: Engine, backend: str, zygote: Zygote,
                      smtp: tuple[RecordingHandler, int], tmp_path: Path, figures: dict[str, int]) -> None:
    engine = demo_county
    mailbox, port = smtp
    mailbox.take()
    prepared = tmp_path / "state"
    prepared.mkdir()
    prepare_once(job, engine, prepared)
    ref = reference(job, backend, engine, zygote, tmp_path, mailbox if job == "deliver" else None, port)
    assert ref.census.get(point, 0) >= min(CYCLES, 3), f"{point} occurs {ref.census.get(point, 0)} times"
    # A long run (make soak) kills every point CYCLES times: when the job runs out of occurrences before that,
    # the next round starts the same job again from the prepared database (a pristine copy kept for it).
    pristine = copy_database(engine, tmp_path / "prepared.db") if CYCLES > 3 else None
    try:
        while figures["kills"] < CYCLES:
            figures["rounds"] += 1
            rounds = figures["rounds"]
            if rounds == 1:
                _one_round(job, point, engine, prepared, zygote, mailbox, port, ref, figures)
                continue
            assert pristine is not None
            source = make_engine(pristine[0])
            url, pg_name = copy_database(source, tmp_path / f"round-{rounds}.db")
            source.dispose()
            state = tmp_path / f"state-{rounds}"
            state.mkdir()
            for carried in prepared.glob("review-sids.json"):  # ids survive the copy
                (state / carried.name).write_text(carried.read_text())
            round_engine = make_engine(url)
            try:
                _one_round(job, point, round_engine, state, zygote, mailbox, port, ref, figures)
            finally:
                round_engine.dispose()
                if pg_name:
                    drop_database(pg_name)
    finally:
        if pristine is not None and pristine[1]:
            drop_database(pristine[1])
    SURVIVED.append((backend, job, point, figures["kills"]))


def _one_round(job: str, point: str, engine: Engine, state: Path, zygote: Zygote, mailbox: RecordingHandler,
               port: int, ref: Reference, figures: dict[str, int]) -> None:
    """Kill the job at ``point`` until CYCLES kills in all or the job is done, then finish it cleanly and compare
    the database (and the mail) with the uninterrupted run's."""
    url = engine.url.render_as_string(hide_password=False)
    mailbox.take()
    wanted = CYCLES - figures["kills"]
    for cycle in range(1, wanted + 1):
        nth = (cycle - 1) % 3 + 1  # 1, 2, 3, 1, 2, 3, … (a long run keeps going through the work)
        answer = zygote.run(command(job, url, state, point, cycle, port, nth))
        figures["cycles"] += 1
        if answer == {"exit": 0}:  # a long run ran out of occurrences: the job is done (the next round restarts)
            assert cycle > 3, f"cycle {cycle} finished the job without reaching {point}\n{child_logs(state)}"
            break
        assert answer == {"signal": 9}, child_logs(state)
        assert kills(state)[-1]["point"] == point
        figures["kills"] += 1
        check_after_kill(engine, ref.snapshot, figures)
    killed = kills(state)
    assert len(killed) >= min(wanted, 3)

    answer = zygote.run(command(job, url, state, None, CYCLES + 1, port))
    assert answer == {"exit": 0}, child_logs(state)

    final = snapshot(engine)
    figures["lost"] += rows(excess(ref.snapshot.facts, final.facts))
    figures["duplicated"] += rows(excess(final.facts, ref.snapshot.facts))
    with Session(engine) as s:
        chain = verify_chain(s)
    assert chain.ok, chain
    assert final.facts == ref.snapshot.facts
    assert final.states == ref.snapshot.states
    assert final.whole == ref.snapshot.whole

    if job == "deliver":
        received = mailbox.take()
        in_flight = Counter(k["in_flight"] for k in killed if k["in_flight"])
        with Session(engine) as s:
            ids = [m.message_id for m in s.exec(select(OutboxMessage))]
        figures["lost"] += len(set(ref.received) - set(received))
        figures["duplicated"] += sum((received - (Counter(ids) + in_flight)).values())  # beyond the in-flight window
        assert set(received) == set(ids) == set(ref.received)  # nothing lost
        if point == "commit.before" and engine.dialect.name == "postgresql":
            # Delivery writes in autocommit on PostgreSQL: the outcome is already durable when the
            # "before commit" hook fires, so a kill there may or may not leave the message to resend.
            assert Counter(ids) <= received <= Counter(ids) + in_flight
        else:
            assert received == Counter(ids) + in_flight  # once each, plus once more per kill in the window
        assert set(ref.received.values()) == {1}
        if point in ("smtp.after", "commit.before"):
            assert in_flight, "no kill fell between the server's 250 and the recording of sent"
        else:
            assert not in_flight
    if job == "review":
        journal = [json.loads(line) for line in (state / "review-journal.jsonl").read_text().splitlines()]
        replays = [e["outcome"] for e in journal if e["kind"] == "replay"]
        assert len(replays) == len([k for k in killed if not k["replaying"]])  # each kill, one replay that ended
        assert set(replays) == {"refused" if point == "commit.after" else "applied"}


def test_summary_kill_points_times_cycles_survived(capsys: pytest.CaptureFixture[str]) -> None:
    """The figure: distinct kill points × cycles survived, per backend (printed even without ``-s``)."""
    complete = [b for b, n in ATTEMPTED.items() if n == len(POINTS)]
    if not complete:
        pytest.skip("not every kill point ran (a subset was selected)")
    lines = []
    for backend in complete:
        rows = [r for r in SURVIVED if r[0] == backend]
        points = {(job, point) for _, job, point, _ in rows}
        total = sum(n for *_, n in rows)
        lines.append(f"kill points on {backend}: {len(points)} points, {total} SIGKILLs survived "
                     f"({CYCLES} cycles each, then a clean run to completion)")
        assert len(points) == len(POINTS) >= 12, rows
        assert total == len(POINTS) * CYCLES, rows
    with capsys.disabled():
        print("\n" + "\n".join(lines))
