"""Crashes and races around the mail outbox, on every database backend.

(a) A process is SIGKILLed (no cleanup, no atexit, no rollback by Python) either right after the tick
committed its mail to the outbox or in the middle of a delivery, right after the server took a message
and before the outcome was recorded. Another process then finishes the job: nothing is lost, and the only
copy that may arrive twice is the one that was in flight at the kill (at-least-once; both copies carry
the same Message-ID, so the receiver can drop one).

(b) Two embedded schedulers (``flows.scheduler.run_leased`` with two different holders) and two raw
workers that ignore the lease run the tick and the delivery for the same moment at once: every mail is
written once and sent once. Two deterministic interleavings on PostgreSQL show what a tick that is not
alone did wrong before the retry-on-unique-key and the escalation unique key were added.

The scene: the weak-village rectification of 2025 launched for 清溪县's three townships on 25 Sep, each listing
its key-contact villages (approved at once), ticked and delivered every day at 09:00 up to 5 Nov; the ticks of
6 and 7 Nov are missed, so the tick of Sat 8 Nov 09:00 opens the weekly-report windows of the listed
key-contact villages (drafts and requests) and climbs the escalation ladder of the missed deadlines (their
一村一策 plans: escalation mail).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import types
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from core.clock import FakeClock
from core.db import session_scope
from models import Escalation, Lease, Obligation, OutboxMessage, ReminderLog, Submission
from notifications.delivery import DeliveryStats, deliver_pending
from notifications.mailer import MemoryMailer
from tests.support.clock import at, days
from tests.support.databases import PreparedStates
from tests.support.smtp import RecordingHandler, smtp_server
from tests.support.tick import tick, tick_step, tick_until
from tests.support.world import approve_weak_village_list, launch

# The multi-process tests run one after another on one pytest-xdist worker (`--dist loadgroup`), never beside
# each other: each loads both CPUs with its own processes (tests/support/soak.py).
pytestmark = pytest.mark.xdist_group("processes")
REPO = Path(__file__).resolve().parents[2]
LAUNCH = at(dt.date(2025, 9, 25))
DAY = at(dt.date(2025, 11, 8))
PREPARED_UNTIL = dt.date(2025, 11, 5)
TOWNSHIPS = ("QX01", "QX02", "QX03")


PREPARED = PreparedStates()  # by backend
SENT: dict[str, set[str]] = {}  # by backend: the Message-IDs sent while preparing


@pytest.fixture(scope="module", autouse=True)
def prepared_copies(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The prepared state is kept for the module's tests and dropped after them."""
    PREPARED.directory = tmp_path_factory.mktemp("prepared")
    yield
    PREPARED.drop()


def prepare(engine: Engine) -> set[str]:
    """The scene up to PREPARED_UNTIL (:func:`_prepare`), worked out once per backend and copied for each test;
    the Message-IDs sent so far."""
    backend = engine.dialect.name
    if not PREPARED.restore(backend, engine):
        SENT[backend] = _prepare(engine)
        PREPARED.keep(backend, engine)
    return set(SENT[backend])


def _prepare(engine: Engine) -> set[str]:
    """Launch the three townships, approve their lists and run the days up to PREPARED_UNTIL; the Message-IDs sent
    so far."""
    launch(engine, TOWNSHIPS, LAUNCH)
    for code in TOWNSHIPS:
        approve_weak_village_list(engine, code, None, LAUNCH)
    mailer = MemoryMailer()
    asyncio.run(deliver_pending(engine, mailer, LAUNCH, holder="setup", batch=1000))
    for day in days(LAUNCH.date() + dt.timedelta(days=1), PREPARED_UNTIL):
        tick(engine, at(day))
        asyncio.run(deliver_pending(engine, mailer, at(day), holder="setup", batch=1000))
    assert {m.status for m in outbox(engine)} == {"sent"}
    return set(mailer.message_ids())


def outbox(engine: Engine) -> list[OutboxMessage]:
    with Session(engine) as s:
        return list(s.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))))


def child_env(engine: Engine, tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DUBAN_DATABASE_URL=engine.url.render_as_string(hide_password=False),
        PREFECT_HOME=str(tmp_path / "prefect"),
        DUBAN_SCHEDULER="off",
        DUBAN_PASSWORD_HASHING="cheap",
        DUBAN_SMTP_SINK="false",
        PYTHONPATH=str(REPO),
    )
    return env


def run_killed_child(code: str, args: list[str], engine: Engine, tmp_path: Path) -> None:
    """Run ``code`` in a fresh interpreter that must end by SIGKILL (it kills itself)."""
    done = subprocess.run([sys.executable, "-c", code, *args], cwd=REPO, env=child_env(engine, tmp_path),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == -signal.SIGKILL, f"rc={done.returncode}\nstdout:{done.stdout}\nstderr:{done.stderr}"
    assert "COMMITTED" in done.stdout or "SENDING" in done.stdout, done.stdout + done.stderr


TICK_THEN_DIE = """
import datetime as dt, os, signal, sys
from core.db import get_engine
from tasks.tick import run_tick
run_tick(get_engine(), dt.datetime.fromisoformat(sys.argv[1]))  # the tick, each of its transactions committed
print("COMMITTED", flush=True)
os.kill(os.getpid(), signal.SIGKILL)  # before any delivery
"""

DELIVER_THEN_DIE = """
import asyncio, datetime as dt, os, signal, sys
from core.db import get_engine
from notifications.delivery import deliver_pending
from notifications.mailer import MemoryMailer
now, log, kill_at, batch = dt.datetime.fromisoformat(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])

class KillingMailer(MemoryMailer):
    async def send(self, message):
        await super().send(message)  # the server said 250 ...
        with open(log, "a") as f:
            f.write(str(message["Message-ID"]) + "\\n")
            f.flush()
            os.fsync(f.fileno())
        if len(self.sent) == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)  # ... and we die before recording it

print("SENDING", flush=True)
asyncio.run(deliver_pending(get_engine(), KillingMailer(), now, holder="child", batch=batch, lease_seconds=120))
print("SURVIVED", flush=True)
"""


def deliver(engine: Engine, mailer: Any, now: dt.datetime, batch: int = 1000) -> DeliveryStats:
    return asyncio.run(deliver_pending(engine, mailer, now, holder="parent", batch=batch))


def test_killed_after_enqueue_the_next_deliverer_sends_each_mail_once(demo_county: Engine, tmp_path: Path) -> None:
    engine = demo_county
    before = prepare(engine)
    sent_before = len(outbox(engine))

    run_killed_child(TICK_THEN_DIE, [DAY.isoformat()], engine, tmp_path)

    queued = [m for m in outbox(engine) if m.status != "sent"]
    assert {(m.status, m.attempts, m.created_at) for m in queued} == {("pending", 0, DAY)}
    kinds = Counter(m.key.split(":")[0] for m in queued)
    assert kinds["request"] >= 3 and kinds["escalation"] >= 3, kinds
    with Session(engine) as s:  # the child's transactions are whole: a draft for every window it opened
        opened = s.exec(select(Obligation).where(Obligation.opens_on == DAY.date())).all()
        assert opened and {o.status for o in opened} == {"open"}
        drafts = s.exec(select(Submission.obligation_id).where(col(Submission.obligation_id).in_([o.id for o in opened])))
        assert sorted(drafts.all()) == sorted(o.id for o in opened)

    # The tick of the same moment in another process adds nothing.
    tick(engine, DAY)
    assert len(outbox(engine)) == sent_before + len(queued)

    mailer = MemoryMailer()
    assert deliver(engine, mailer, DAY) == DeliveryStats(sent=len(queued))
    assert Counter(mailer.message_ids()) == Counter({m.message_id: 1 for m in queued})
    assert deliver(engine, mailer, DAY + dt.timedelta(hours=1)) == DeliveryStats()
    assert {m.status for m in outbox(engine)} == {"sent"}
    assert not set(mailer.message_ids()) & before


def test_killed_in_the_middle_of_delivery_only_the_message_in_flight_is_sent_twice(
    demo_county: Engine, tmp_path: Path
) -> None:
    engine = demo_county
    prepare(engine)
    tick(engine, DAY)
    queued = [m for m in outbox(engine) if m.status == "pending"]
    assert len(queued) > 3
    log = tmp_path / "sent-by-child.txt"

    # The child claims a batch of up to 5, sends two, and dies right after the server took the third.
    run_killed_child(DELIVER_THEN_DIE, [DAY.isoformat(), str(log), "3", "5"], engine, tmp_path)

    by_child = log.read_text().split()
    assert len(by_child) == 3
    in_flight = by_child[-1]
    rows = {m.message_id: m for m in queued}
    now_rows = {m.message_id: m for m in outbox(engine) if m.message_id in rows}
    assert [now_rows[mid].status for mid in by_child] == ["sent", "sent", "sending"]
    claimed = {mid for mid, m in now_rows.items() if m.status == "sending"}
    assert len(claimed) == 3 and in_flight in claimed  # the in-flight one and the two it never got to
    assert Counter(m.status for m in now_rows.values()) == Counter(
        {"sent": 2, "sending": 3, "pending": len(queued) - 5})

    # While the dead child's lease runs, nobody touches its claims (parked, not lost); the rest goes out ...
    mailer = MemoryMailer()
    lease_end = DAY + dt.timedelta(seconds=120)
    assert deliver(engine, mailer, DAY) == DeliveryStats(sent=len(queued) - 5)
    assert deliver(engine, mailer, lease_end) == DeliveryStats()
    assert not claimed & set(mailer.message_ids())
    # ... once the lease has expired the claims are taken over and sent, the one in flight included.
    assert deliver(engine, mailer, lease_end + dt.timedelta(seconds=1)) == DeliveryStats(sent=3)

    everything = Counter(by_child) + Counter(mailer.message_ids())
    assert set(everything) == set(rows)  # nothing lost
    assert {mid: n for mid, n in everything.items() if n > 1} == {in_flight: 2}  # at-least-once: this one only
    assert {m.status for m in outbox(engine)} == {"sent"}
    assert {m.attempts for m in outbox(engine) if m.message_id in rows} == {1}  # the crash left no count behind


DELIVER_OVER_SMTP_THEN_DIE = """
import asyncio, datetime as dt, os, signal, sys
from core.db import get_engine
from notifications.delivery import deliver_pending
from notifications.mailer import SmtpMailer, SmtpSession
now, log, kill_at, port = dt.datetime.fromisoformat(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
send, sent = SmtpSession.send, []

async def send_then_die(self, message):
    await send(self, message)  # the server said 250 ...
    sent.append(str(message["Message-ID"]))
    with open(log, "a") as f:
        f.write(sent[-1] + "\\n")
        f.flush()
        os.fsync(f.fileno())
    if len(sent) == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)  # ... and we die before recording it

SmtpSession.send = send_then_die
print("SENDING", flush=True)
asyncio.run(deliver_pending(get_engine(), SmtpMailer("127.0.0.1", port), now, holder="child", batch=200,
                            lease_seconds=120))
print("SURVIVED", flush=True)
"""


@pytest.mark.parametrize("where", ["first", "middle", "last"])
def test_killed_anywhere_in_a_batch_over_smtp_nothing_is_lost_and_only_the_message_in_flight_is_sent_twice(
    demo_county: Engine, tmp_path: Path, where: str
) -> None:
    """The outcomes "sent" of a batch are recorded one by one, each committed before the next message goes out
    over the batch's one SMTP connection: a kill at any message of the batch leaves every earlier one recorded
    and re-sends only the one the server had just taken."""
    engine = demo_county
    prepare(engine)
    tick(engine, DAY)
    queued = [m for m in outbox(engine) if m.status == "pending" and m.channel == "email"]
    assert len(queued) > 3
    kill_at = {"first": 1, "middle": len(queued) // 2, "last": len(queued)}[where]
    log = tmp_path / "sent-by-child.txt"
    with smtp_server(RecordingHandler()) as server:
        run_killed_child(DELIVER_OVER_SMTP_THEN_DIE, [DAY.isoformat(), str(log), str(kill_at), str(server.port)],
                         engine, tmp_path)
        by_child = log.read_text().split()
        assert len(by_child) == kill_at
        rows = {m.id: m for m in outbox(engine)}
        status = {m.message_id: m.status for m in rows.values() if m.message_id in {q.message_id for q in queued}}
        assert [status[mid] for mid in by_child] == ["sent"] * (kill_at - 1) + ["sending"]  # recorded up to it

        # after the dead child's lease the rest goes out, the one in flight included
        later = DAY + dt.timedelta(seconds=121)
        stats = asyncio.run(deliver_pending(engine, server.mailer(), later, holder="parent", batch=1000))
        assert stats.sent == len(queued) - kill_at + 1 and stats.dead == stats.retried == 0
        received = Counter(server.handler.message_ids())
    wanted = {m.message_id for m in queued}
    assert set(received) == wanted  # nothing lost
    assert {mid: n for mid, n in received.items() if n > 1} == {by_child[-1]: 2}  # only the one in flight, twice
    assert {m.status for m in outbox(engine) if m.channel == "email"} == {"sent"}


# --- (b) schedulers racing ---------------------------------------------------------------------------------


def run_leased_as(holder: str, acquired: list[tuple[str, str, bool]]) -> Callable[..., Any]:
    """``flows.scheduler.run_leased`` as run by a process whose ``HOLDER`` is ``holder``.

    ``HOLDER`` is a module global (hostname:pid), so two threads of one process cannot monkeypatch it to
    two values at once; each thread gets its own copy of the very same function whose globals say
    ``HOLDER = holder`` (and record what ``acquire`` answered).
    """
    from flows import scheduler

    real = scheduler.acquire

    def recording_acquire(engine: Engine, name: str, who: str, now: dt.datetime, ttl: dt.timedelta) -> bool:
        got = real(engine, name, who, now, ttl)
        acquired.append((who, name, got))
        return got

    fn = scheduler.run_leased
    globals_ = dict(fn.__globals__, HOLDER=holder, acquire=recording_acquire)
    return types.FunctionType(fn.__code__, globals_, fn.__name__, fn.__defaults__, fn.__closure__)


def test_two_schedulers_and_two_raw_workers_send_each_mail_once(
    demo_county: Engine, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from api.app import _warm_up_prefect
    from flows import scheduler
    from flows.tick import deliver_notifications, set_mailer
    from flows.tick import tick as tick_flow

    engine = demo_county
    already = prepare(engine)
    clock.set(DAY)
    # As the API does before starting the embedded scheduler: Prefect's local API is up before the
    # first flow runs (two threads starting it at once would each spawn a server and orphan one).
    asyncio.run(_warm_up_prefect())
    monkeypatch.setattr(scheduler, "HOLDER", "this-process")  # what deliver_notifications logs as
    mailer = MemoryMailer()
    set_mailer(mailer)
    ttl = dt.timedelta(minutes=5)
    acquired: list[tuple[str, str, bool]] = []
    errors: list[tuple[str, BaseException]] = []
    holders = ("scheduler-a", "scheduler-b")
    results: dict[tuple[str, str], list[Any]] = {(h, j): [] for h in holders for j in ("tick", "deliver_notifications")}
    rounds = 3
    start = threading.Barrier(4)

    def embedded(holder: str) -> None:
        run = run_leased_as(holder, acquired)
        try:
            start.wait()
            for _ in range(rounds):
                results[holder, "tick"].append(run("tick", tick_flow, ttl))
                results[holder, "deliver_notifications"].append(run("deliver_notifications", deliver_notifications, ttl))
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append((holder, exc))

    raw_failures: list[tuple[str, str]] = []

    def raw(name: str) -> None:
        try:
            start.wait()
            for _ in range(rounds):
                try:
                    tick(engine, DAY)
                except IntegrityError as exc:  # a lost race on a unique key rolls back, harmlessly
                    raw_failures.append((name, str(exc.orig).split("\n")[0]))
                asyncio.run(deliver_pending(engine, mailer, DAY, holder=name))
        except BaseException as exc:  # noqa: BLE001
            errors.append((name, exc))

    threads = [threading.Thread(target=embedded, args=(h,)) for h in holders]
    threads += [threading.Thread(target=raw, args=(f"raw-{i}",)) for i in range(2)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=300)
        assert not any(t.is_alive() for t in threads), "a worker hung"
        # whatever the last racer enqueued after the last delivery
        asyncio.run(deliver_pending(engine, mailer, DAY, holder="drain", batch=1000))
    finally:
        set_mailer(None)
    assert errors == []

    # The lease decided: one holder ran each job, the other was turned away every time.
    winner_failed: dict[str, int] = {}
    for job in ("tick", "deliver_notifications"):
        outcomes = {(who, got) for who, name, got in acquired if name == job}
        winners = {who for who, got in outcomes if got}
        assert len(winners) == 1, outcomes
        (loser,) = set(holders) - winners
        assert (loser, True) not in outcomes and (loser, False) in outcomes
        assert results[loser, job] == [None] * rounds  # turned away: the flow never ran there
        winner_failed[job] = results[winners.pop(), job].count(None)  # run_leased swallows (and logs) failures
        with Session(engine) as s:
            lease = s.get(Lease, job)
            assert lease is not None and lease.holder in {h for h, got in outcomes if got}

    rows = [m for m in outbox(engine) if m.message_id not in already]
    assert len(rows) > 10
    assert {m.status for m in rows} == {"sent"}
    counts = Counter(mailer.message_ids())
    assert {mid: n for mid, n in counts.items() if n > 1} == {}
    assert set(counts) == {m.message_id for m in rows}
    assert all(m.attempts == 1 for m in rows)
    reminders = [m for m in rows if m.key.startswith(("request:", "reminder:"))]
    escalations = [m for m in rows if m.key.startswith("escalation:")]
    assert reminders and escalations and len(reminders) + len(escalations) == len(rows), Counter(m.key for m in rows)
    with Session(engine) as s:
        logs = s.exec(select(ReminderLog).where(ReminderLog.created_at == DAY)).all()
        keys = [(r.obligation_id, r.offset, r.user_id) for r in logs]
        assert len(keys) == len(set(keys)) == len(reminders)
        assert sorted(r.outbox_id or 0 for r in logs) == sorted(m.id or 0 for m in reminders)
        steps = [(e.obligation_id, e.trigger, e.level) for e in s.exec(select(Escalation))]
        assert steps and len(steps) == len(set(steps))  # each level of the ladder climbed once
        levels = {(e.obligation_id, e.level) for e in s.exec(select(Escalation).where(Escalation.created_at == DAY))}
        assert {(int(m.key.split(":")[2]), int(m.key.split(":")[3])) for m in escalations} <= levels
        drafts = s.exec(select(Submission.obligation_id)).all()
        assert len(drafts) == len(set(drafts))
    print(f"raw tick failures (rolled back): {Counter(f for _, f in raw_failures)}; "
          f"failed leased runs: {winner_failed}")


# --- two ticks for the same moment, deterministically interleaved (PostgreSQL) -------------------------------


def interleave(engine: Engine, step: Callable[[Session, dt.datetime], Any], now: dt.datetime) -> str:
    """Run ``step`` in transaction A up to (not including) its commit; meanwhile run it in transaction B
    (another thread) until B waits for one of A's row locks; then commit A. Returns how B ended."""
    from sqlalchemy import text

    outcome: list[str] = []

    def run_b() -> None:
        try:
            with session_scope(engine) as s:
                step(s, now)
            outcome.append("ok")
        except Exception as exc:  # noqa: BLE001 - reported to the caller
            outcome.append(f"{type(exc).__name__}: {str(getattr(exc, 'orig', exc)).splitlines()[0]}")

    b = threading.Thread(target=run_b)
    with session_scope(engine) as a:
        step(a, now)
        a.flush()
        b.start()
        with engine.connect() as probe:
            for _ in range(200):
                waiting = probe.execute(text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock'")).scalar()
                probe.rollback()
                if waiting:
                    break
                threading.Event().wait(0.05)
            else:
                pytest.fail("B never waited for A")
    b.join(timeout=60)
    assert not b.is_alive()
    return outcome[0]


def require_postgresql(backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("SQLite cannot interleave so: every write transaction is BEGIN IMMEDIATE (B waits before reading)")


def test_two_ticks_opening_the_same_windows_both_succeed(demo_county: Engine, backend: str) -> None:
    require_postgresql(backend)
    engine = demo_county
    prepare(engine)
    tick_until(engine, DAY, "open_obligations")  # both flows' first task has run (each commits on its own)
    outcome = interleave(engine, tick_step("open_obligations").run, DAY)
    with Session(engine) as s:  # whatever B did, the data are whole: one draft per window, one mail per key
        drafts = s.exec(select(Submission.obligation_id)).all()
        assert len(drafts) == len(set(drafts))
        logs = s.exec(select(ReminderLog.obligation_id, ReminderLog.offset, ReminderLog.user_id)).all()
        assert len(logs) == len(set(logs))
    assert outcome == "ok"


def test_two_ticks_climbing_the_ladder_record_each_level_once(demo_county: Engine, backend: str) -> None:
    require_postgresql(backend)
    engine = demo_county
    prepare(engine)
    tick_until(engine, DAY, "climb_ladder")  # the stages and deadlines of DAY are settled; the ladder is next
    outcome = interleave(engine, tick_step("climb_ladder").run, DAY)
    with Session(engine) as s:
        steps = Counter((e.obligation_id, e.trigger, e.level) for e in s.exec(select(Escalation)))
        mails = Counter(m.key for m in s.exec(select(OutboxMessage)))
    assert steps and max(mails.values()) == 1
    assert outcome == "ok"
    assert {k: n for k, n in steps.items() if n > 1} == {}
