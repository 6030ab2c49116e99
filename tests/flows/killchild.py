"""The child side of the kill-point harness (tests/flows/test_kill_points.py).

A child process runs one *job* (launch, tick, review or deliver) to completion against the database named in
its command, resuming whatever a killed predecessor left. Before the job starts, the child installs one
*kill point*: a wrapper around a real component (the DBAPI commit, a task function, the SMTP mailer) that
counts its occurrences and, at the ``nth``, appends a line to ``kills.jsonl`` (fsynced) and sends itself
SIGKILL: no ``finally``, no rollback by Python, no atexit. Nothing in the production code knows about it.

Two ways to start a child:

* ``python killchild.py serve``: a *zygote* that imports the project once (≈ 2 s, most of it Prefect) and
  never opens the database; for each JSON command read from stdin it forks a child, waits for it and writes
  one JSON line back: ``{"signal": 9}`` or ``{"exit": 0}``. Each forked child is a new process that starts
  from the zygote's pristine memory and builds its own engine, so nothing survives a kill but the database,
  the SMTP server's mailbox and the job's own files in ``state`` (the day a tick job reached, the review
  client's journal).
* ``python killchild.py run '<command>'``: the job in this interpreter (to run one job by hand).

The command: ``{"job", "db", "state", "point", "nth", "cycle", "smtp_port"}``; ``point`` is None for a run
without a kill point. The census of every kill point hit (``census.json`` in ``state``) is written when a
job completes, so the parent can check that each point really occurs often enough to be killed at.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import json
import os
import signal
import sys
import time
import traceback
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from sqlalchemy import event  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402
from sqlmodel import Session  # noqa: E402

import flows.launch  # noqa: E402
import flows.tick  # noqa: E402
import notifications.delivery  # noqa: E402
import notifications.mailer  # noqa: E402
import notifications.outbox  # noqa: E402
import tasks.accountability  # noqa: E402, F401 - imported before the points are installed, so wrapped too
import tasks.audit  # noqa: E402
import tasks.escalation  # noqa: E402
import tasks.launch  # noqa: E402
import tasks.rectification  # noqa: E402, F401
import tasks.review  # noqa: E402
import tasks.tick  # noqa: E402
from core.clock import CHINA_TZ  # noqa: E402
from core.db import get_engine, reset_engines, session_scope  # noqa: E402
from core.settings import get_settings  # noqa: E402
from domain.errors import Conflict  # noqa: E402
from models import OrgUnit, Submission  # noqa: E402
from notifications.delivery import DeliveryStats, deliver_pending  # noqa: E402
from notifications.mailer import SmtpMailer, SmtpSession  # noqa: E402
from tests.support.clock import at  # noqa: E402
from tests.support.world import as_user  # noqa: E402

DEFINITION = "weak_village_rectification"
YEAR = 2025
LAUNCH = dt.datetime(2025, 9, 25, 9, tzinfo=CHINA_TZ)
LAUNCH_TOWNSHIPS = ["QX01", "QX02", "QX03", "QX04", "QX05", "QX06"]
LAUNCH_CHUNK = 1
# The days the tick runs at 09:00: those of the autumn of 2025 on which it has something to do (reminders of
# QX01's list of weak villages, its deadline missed and escalated; the plans and weekly-report windows of the
# villages on QX02's approved list opening, then missed), the quiet days in between left out as a downtime would.
TICK_DAYS = [dt.date(2025, 9, 26), dt.date(2025, 9, 29), dt.date(2025, 10, 9), dt.date(2025, 10, 10),
             dt.date(2025, 10, 11), dt.date(2025, 10, 15), dt.date(2025, 10, 25), dt.date(2025, 11, 1),
             dt.date(2025, 11, 8)]
REVIEW_LAUNCH = dt.datetime(2025, 12, 8, 9, tzinfo=CHINA_TZ)  # the Q4 report window is open
DELIVERY_START = dt.datetime(2025, 10, 11, 10, tzinfo=CHINA_TZ)
DELIVERY_LEASE = 60
DELIVERY_BATCH = 4

KILL_POINTS: dict[str, tuple[str, ...]] = {
    "launch": ("commit.before", "commit.after", "after:tasks.launch.write_campaigns"),
    "tick": ("commit.before", "commit.after", "after:tasks.tick.open_obligations",
             "after:tasks.tick.enqueue_reminders", "after:tasks.escalation.record_step"),
    "review": ("commit.before", "commit.after", "after:tasks.audit.append_event",
               "after:notifications.outbox.enqueue_mails"),
    "deliver": ("commit.before", "commit.after", "smtp.before", "smtp.after"),
}
"""The kill points of each job. ``commit.*`` is the DBAPI COMMIT of a transaction that changed at least one
row (just before it is sent, or just after it returned); ``after:<function>`` is the moment a step returned
something (non-empty) inside its still open transaction; ``smtp.before`` is just before the mailer sends a message
(opening an SMTP connection if it has none open), ``smtp.after`` just after the server answered 250 to its DATA."""


# --- kill points ---------------------------------------------------------------------------------------------


class Switch:
    """Counts the occurrences of every point (the census); dies at the ``nth`` of the armed one."""

    def __init__(self, state: Path, point: str | None, nth: int) -> None:
        self.state, self.point, self.nth = state, point, nth
        self.census: Counter[str] = Counter()
        self.in_flight: str | None = None  # Message-ID the SMTP server accepted and the outbox has not recorded
        self.replaying = False  # the review client is repeating the decision it got no answer for

    def hit(self, point: str, detail: str = "") -> None:
        self.census[point] += 1
        if point == self.point and self.census[point] == self.nth:
            line = json.dumps({"point": point, "nth": self.nth, "detail": detail, "in_flight": self.in_flight,
                               "replaying": self.replaying})
            with open(self.state / "kills.jsonl", "a", encoding="utf-8") as f:
                f.write(line + "\n")
                f.flush()
                os.fsync(f.fileno())
            os.kill(os.getpid(), signal.SIGKILL)

    def save_census(self) -> None:
        (self.state / "census.json").write_text(json.dumps(dict(self.census), sort_keys=True), encoding="utf-8")


def _install_commit_points(engine: Engine, switch: Switch) -> None:
    """``commit.before`` / ``commit.after`` around the DBAPI commit of a transaction that changed rows."""
    changed: set[int] = set()

    @event.listens_for(engine, "after_cursor_execute")
    def _note_change(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if context is not None and (context.isinsert or context.isupdate or context.isdelete) and cursor.rowcount != 0:
            changed.add(id(conn.connection))

    dialect = engine.dialect
    commit, rollback = dialect.do_commit, dialect.do_rollback

    def do_commit(dbapi_connection: Any) -> None:
        wrote = id(dbapi_connection) in changed
        changed.discard(id(dbapi_connection))
        if wrote:
            switch.hit("commit.before")
        commit(dbapi_connection)
        if wrote:
            switch.in_flight = None  # whatever was accepted is recorded now (the record is the only commit after it)
            switch.hit("commit.after")

    def do_rollback(dbapi_connection: Any) -> None:
        changed.discard(id(dbapi_connection))
        rollback(dbapi_connection)

    dialect.do_commit = do_commit  # type: ignore[method-assign]
    dialect.do_rollback = do_rollback  # type: ignore[method-assign]


def _wrap_everywhere(dotted: str, make: Callable[[Any], Any]) -> None:
    """Replace the function ``module.name`` by ``make(original)`` in its module and in every loaded module
    that imported it by name (``from tasks.tick import open_obligations``)."""
    module_name, name = dotted.rsplit(".", 1)
    original = getattr(sys.modules[module_name], name)
    wrapped = make(original)
    for module in list(sys.modules.values()):
        if getattr(module, name, None) is original:
            setattr(module, name, wrapped)


def _install_after_point(point: str, switch: Switch) -> None:
    def make(original: Any) -> Any:
        @functools.wraps(original)
        def after(*args: Any, **kwargs: Any) -> Any:
            result = original(*args, **kwargs)
            if result:  # a step that did something (a count, a row, a list)
                switch.hit(point, repr(result)[:200])
            return result

        return after

    _wrap_everywhere(point.removeprefix("after:"), make)


def _install_mail_points(switch: Switch) -> None:
    """``smtp.before`` / ``smtp.after`` around the real SMTP send, and the in-flight bookkeeping: a Message-ID
    is in flight from the server's 250 until the outbox row's outcome is recorded."""
    def tracked(send: Callable[[Any, Any], Awaitable[None]]) -> Any:
        async def tracked_send(self: Any, message: Any) -> None:
            mid = str(message["Message-ID"])
            switch.hit("smtp.before", mid)
            await send(self, message)
            switch.in_flight = mid
            switch.hit("smtp.after", mid)

        return tracked_send

    # one connection per message, or the batch's connection (which delivery uses)
    SmtpMailer.send = tracked(SmtpMailer.send)  # type: ignore[method-assign]
    SmtpSession.send = tracked(SmtpSession.send)  # type: ignore[method-assign]
    record = notifications.delivery._record

    def tracked_record(*args: Any, **kwargs: Any) -> bool:
        result = record(*args, **kwargs)
        switch.in_flight = None
        return result

    notifications.delivery._record = tracked_record

    # An outcome "sent" is one statement that commits by itself, not through SQLAlchemy's commit: the same
    # points around it (before: not recorded, the message is in flight; after: recorded).
    execute = notifications.delivery._SentRecorder._execute

    def tracked_execute(self: Any, cursor: Any, outbox_id: int, attempts: int) -> bool:
        switch.hit("commit.before")
        result = execute(self, cursor, outbox_id, attempts)
        switch.in_flight = None
        switch.hit("commit.after")
        return result

    notifications.delivery._SentRecorder._execute = tracked_execute  # type: ignore[method-assign]

    # On PostgreSQL that statement is posted without blocking and its result awaited later: before = posted, not
    # yet confirmed (the server may or may not have committed it), after = committed.
    post, confirmed = notifications.delivery._SentRecorder.post, notifications.delivery._SentRecorder.confirmed

    def tracked_post(self: Any, outbox_id: int, attempts: int) -> None:
        switch.hit("commit.before")
        post(self, outbox_id, attempts)

    async def tracked_confirmed(self: Any) -> bool:
        result = await confirmed(self)
        switch.in_flight = None
        switch.hit("commit.after")
        return result

    notifications.delivery._SentRecorder.post = tracked_post  # type: ignore[method-assign]
    notifications.delivery._SentRecorder.confirmed = tracked_confirmed  # type: ignore[method-assign]


def install(engine: Engine, switch: Switch) -> None:
    """Every point is counted (the census); only ``switch.point`` kills."""
    _install_commit_points(engine, switch)
    for points in KILL_POINTS.values():
        for point in points:
            if point.startswith("after:"):
                _install_after_point(point, switch)
    _install_mail_points(switch)


# --- jobs: each resumes whatever a killed predecessor left -----------------------------------------------------


def job_launch(cmd: dict[str, Any], state: Path, switch: Switch) -> None:
    """The batch launch flow's body (flows/launch.py) over six townships, one per chunk; each chunk is the
    ``launch_chunk`` task's body (tasks/launch.py ``launch_many``, one transaction per chunk)."""
    flows.launch.launch_chunk = flows.launch.launch_chunk.fn  # type: ignore[assignment]
    items = asyncio.run(flows.launch.launch_for_townships.fn(DEFINITION, YEAR, LAUNCH_TOWNSHIPS, LAUNCH, LAUNCH_CHUNK))
    failed = [i for i in items if i["status"] not in ("created", "exists")]
    if failed or len(items) != len(LAUNCH_TOWNSHIPS):
        raise SystemExit(f"launch failed: {failed or items}")


def job_tick(cmd: dict[str, Any], state: Path, switch: Switch) -> None:
    """The ``tick`` flow's body (flows/tick.py: four tasks, each its own transaction) at 09:00 of each day,
    resuming at the day a killed predecessor was on (the scheduler ticks the moment it wakes up at)."""
    for name, tick_task in list(flows.tick.TICK_TASKS.items()):
        flows.tick.TICK_TASKS[name] = tick_task.fn
    progress = state / "tick-day"
    done = dt.date.fromisoformat(progress.read_text()) if progress.exists() else None
    for day in TICK_DAYS:
        if done is not None and day <= done:
            continue
        asyncio.run(flows.tick.tick.fn(at(day)))
        _write_synced(progress, day.isoformat())


REVIEW_SCRIPT = ("submit", "return", "submit", "approve", "approve")
"""What each township's Q4 report goes through: submitted, returned by the township's secretary, submitted
again as round 2, approved by the secretary, approved by the county reviewer (final: the deadline is met)."""


def _next_step(sub: Submission) -> int | None:
    if sub.status == "draft":
        return 0
    if sub.status == "in_review" and sub.current_level == 0:
        return 1 if sub.returns == 0 else 3
    if sub.status == "returned":
        return 2
    if sub.status == "in_review" and sub.current_level == 1:
        return 4
    return None


def _act(engine: Engine, sid: int, step: int, version: int) -> None:
    """One decision in one transaction, as one HTTP request does (api/routes/submissions.py)."""
    with session_scope(engine) as s:
        sub = s.get(Submission, sid)
        assert sub is not None
        township = s.get(OrgUnit, sub.township_id)
        assert township is not None
        code = township.code.lower()
        who = {0: f"{code}-liaison", 1: f"{code}-secretary", 2: f"{code}-liaison", 3: f"{code}-secretary",
               4: "county-reviewer"}[step]
        principal = as_user(s, who)
        now = REVIEW_LAUNCH + dt.timedelta(hours=1, minutes=10 * step)
        if REVIEW_SCRIPT[step] == "submit":
            tasks.review.submit_submission(s, principal, now, sid, version)
        else:
            comment = "成效写得太笼统，请列出具体数字" if REVIEW_SCRIPT[step] == "return" else None
            tasks.review.decide(s, principal, now, sid, decision=REVIEW_SCRIPT[step], comment=comment, version=version)


def job_review(cmd: dict[str, Any], state: Path, switch: Switch) -> None:
    """A review client that journals each decision before sending it. After a crash it first repeats the
    decision it had no answer for, blindly, with the version it sent (as a client retrying a request): that
    must be refused (409) if it committed and succeed if it did not. Then it reads the state and goes on."""
    engine = get_engine()
    journal = state / "review-journal.jsonl"
    entries = [json.loads(line) for line in journal.read_text().splitlines()] if journal.exists() else []
    if entries and entries[-1]["kind"] == "attempt":
        last = entries[-1]
        switch.replaying = True
        try:
            _act(engine, last["sid"], last["step"], last["version"])
            _append_synced(journal, {"kind": "replay", "outcome": "applied", **_ids(last)})
        except Conflict:
            _append_synced(journal, {"kind": "replay", "outcome": "refused", **_ids(last)})
        switch.replaying = False
    for sid in json.loads((state / "review-sids.json").read_text()):
        while True:
            with Session(engine) as s:
                sub = s.get(Submission, sid)
                assert sub is not None
                step, version = _next_step(sub), sub.version
            if step is None:
                break
            attempt = {"sid": sid, "step": step, "version": version}
            _append_synced(journal, {"kind": "attempt", **attempt})
            _act(engine, sid, step, version)
            _append_synced(journal, {"kind": "done", **attempt})


def _ids(entry: dict[str, Any]) -> dict[str, Any]:
    return {k: entry[k] for k in ("sid", "step", "version")}


def job_deliver(cmd: dict[str, Any], state: Path, switch: Switch) -> None:
    """``deliver_pending`` over real SMTP until the outbox has nothing due. Each restart comes one lease
    later on the virtual clock, as a real restart would find a dead deliverer's claims expired."""
    now = DELIVERY_START + dt.timedelta(seconds=(DELIVERY_LEASE + 1) * int(cmd["cycle"]))
    mailer = SmtpMailer("127.0.0.1", int(cmd["smtp_port"]), timeout=10)
    while True:
        stats = asyncio.run(deliver_pending(get_engine(), mailer, now, holder=f"child-{os.getpid()}",
                                            batch=DELIVERY_BATCH, lease_seconds=DELIVERY_LEASE))
        if stats.retried or stats.dead or stats.skipped:
            raise SystemExit(f"delivery trouble: {stats}")
        if stats == DeliveryStats():
            return


JOBS: dict[str, Callable[[dict[str, Any], Path, Switch], None]] = {
    "launch": job_launch, "tick": job_tick, "review": job_review, "deliver": job_deliver,
}


def _write_synced(path: Path, text: str) -> None:
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _append_synced(path: Path, entry: dict[str, Any]) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(entry) + "\n")
        f.flush()
        os.fsync(f.fileno())


# --- entry points --------------------------------------------------------------------------------------------


def run(cmd: dict[str, Any]) -> None:
    """Run the job of ``cmd`` in this process, with its kill point armed."""
    state = Path(cmd["state"])
    os.environ["DUBAN_DATABASE_URL"] = cmd["db"]
    get_settings.cache_clear()
    reset_engines()
    switch = Switch(state, cmd.get("point"), int(cmd.get("nth") or 0))
    install(get_engine(), switch)
    JOBS[cmd["job"]](cmd, state, switch)
    switch.save_census()


def _forked(cmd: dict[str, Any]) -> int:
    log = Path(cmd["state"]) / f"child-{cmd.get('cycle', 0)}.log"
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    started, cpu = time.monotonic(), time.process_time()
    try:
        run(cmd)
        print(f"completed in {time.monotonic() - started:.2f} s ({time.process_time() - cpu:.2f} s CPU)", flush=True)
        return 0
    except SystemExit as exc:
        print(exc, flush=True)
        return 3
    except BaseException:  # noqa: BLE001 - reported through the log and the exit code
        traceback.print_exc()
        return 1


def warm_up() -> None:
    """What every child would otherwise do first, none of it touching the database: the definitions, the
    mail and document templates, the PDF typesetter and its Chinese font, the ORM mappers."""
    from sqlalchemy.orm import configure_mappers

    from domain.definitions import DOCUMENT_KINDS
    from notifications import documents
    from notifications.render import MAIL_TEMPLATES, _templates
    from tasks.registry import get_definitions

    configure_mappers()
    get_definitions()
    for name in MAIL_TEMPLATES:
        _templates(name)
    for kind in [*DOCUMENT_KINDS, "_official.html"]:
        documents.environment.get_template(kind if kind.endswith(".html") else f"{kind}.txt")
    documents._pdf(title="督办单", addressee="青石镇党委", body=["正文"], issuer="县委组织部",
                   issued_on=LAUNCH.date(), doc_number="清组督〔2025〕1号")


def serve() -> None:
    """Fork a child per command line on stdin; answer how it ended."""
    warm_up()
    for line in sys.stdin:
        cmd = json.loads(line)
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                code = _forked(cmd)
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        answer = {"signal": os.WTERMSIG(status)} if os.WIFSIGNALED(status) else {"exit": os.WEXITSTATUS(status)}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve()
    elif sys.argv[1] == "run":
        run(json.loads(sys.argv[2]))
    else:
        raise SystemExit(f"usage: {sys.argv[0]} serve | run '<command>'")
