"""Delivery of the mail outbox: claim, send, record — never lost, duplicated only by a crash.

SMTP cannot give exactly-once: a process may die after the server's 250 and before our commit. So:

1. **claim** (one short transaction): rows that are ``pending`` and due, or ``sending`` with an expired
   lease (their sender died), are switched to ``sending`` with ``lease_until = now + lease`` by one
   conditional UPDATE … RETURNING for the batch; a row it did not match was taken by another deliverer;
2. **send** outside any transaction (over one SMTP connection for the whole batch when the mailer offers
   a session: :class:`notifications.mailer.SessionMailer`);
3. **record** (one short transaction per message, committed before the next message is sent; it
   runs while the next message is being built): ``sent``; or back to ``pending`` with a back-off; or
   ``dead``. The UPDATE is fenced on ``status = 'sending' AND lease_until = <our lease>``, so a
   deliverer whose lease ran out (and whose row was reclaimed) cannot overwrite the newer outcome.
   Outcomes are not batched: a batch of unrecorded successes would all be sent again after a crash.

A message is therefore re-sent only if its deliverer died (or stalled past its lease) between the
server's acceptance and the commit — or, on PostgreSQL, if the database server itself crashed within
moments of that commit (on PostgreSQL each step is one autocommitted statement with
``synchronous_commit = off``); it keeps its
Message-ID, so receivers can drop the copy.

Rows on other channels (SMS, group robots: ``notifications.channels``) go through the same claim, send
and record, with the same back-off and dead letters; a deliverer claims only the channels it has a sender
for. If a batch
takes longer than half the lease (measured on the monotonic clock), the rest is released unsent rather
than risk a reclaim while sending.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import re
import sqlite3
import time
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from enum import Enum
from typing import Any

import anyio.to_thread
import psycopg.errors
from psycopg import generators, pq, waiting
from sqlalchemy import and_, bindparam, func, or_, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session

from core.clock import CHINA_TZ
from core.db import DriverStatement
from core.settings import get_settings
from domain.channels import DEFAULT_QUIET, after_quiet_hours
from domain.errors import InvalidTransition, NotFound
from domain.vocabulary import Channel, OutboxStatus
from models.channels import ChannelRobot
from models.review import OfficialDocument, OutboxMessage
from notifications.channels import ChannelSender, RobotTarget, default_senders, unseal
from notifications.mailer import (
    DeliveryFailure,
    Mailer,
    PermanentFailure,
    SessionMailer,
    TemporaryFailure,
    build_email,
)

log = logging.getLogger(__name__)

STATUSES = tuple(status.value for status in OutboxStatus)  # the outbox API filters by these
MAX_ATTEMPTS = 10
BACKOFF = (
    dt.timedelta(seconds=30),
    dt.timedelta(minutes=2),
    dt.timedelta(minutes=10),
    dt.timedelta(minutes=30),
    dt.timedelta(hours=2),
)
BACKOFF_CAP = dt.timedelta(hours=6)
_ERROR_MAX = 1000

_monotonic = time.monotonic  # real elapsed time of a batch (tests replace it)

_outbox = OutboxMessage.__table__  # type: ignore[attr-defined]
_c = _outbox.c
_doc = OfficialDocument.__table__  # type: ignore[attr-defined]
_robot = ChannelRobot.__table__  # type: ignore[attr-defined]


@dataclass
class DeliveryStats:
    sent: int = 0
    retried: int = 0  # temporary failure, back to pending with a later next_attempt_at
    dead: int = 0  # permanent failure, too many attempts, or a message that cannot be built
    skipped: int = 0  # taken by another deliverer, released unsent, or lease lost before recording


def backoff(attempts: int) -> dt.timedelta:
    """The wait after the ``attempts``-th failed attempt: 30 s, 2 min, 10 min, 30 min, 2 h, then 6 h."""
    if attempts < 1:
        raise ValueError("attempts starts at 1")
    return BACKOFF[attempts - 1] if attempts <= len(BACKOFF) else BACKOFF_CAP


def _require_aware(now: dt.datetime) -> None:
    if now.tzinfo is None:
        raise ValueError("delivery needs an aware datetime")


def _claimable(now: dt.datetime) -> Any:
    return or_(
        and_(_c.status == OutboxStatus.PENDING, or_(_c.next_attempt_at.is_(None), _c.next_attempt_at <= now)),
        and_(_c.status == OutboxStatus.SENDING, _c.lease_until < now),  # a crashed (or stalled) sender
    )


def _claim(conn: Connection, now: dt.datetime, lease_until: dt.datetime,
           batch: int, channels: frozenset[str] = frozenset({Channel.EMAIL})) -> tuple[list[OutboxMessage], int]:
    """Claim up to ``batch`` due messages; returns them and how many were taken by someone else.

    One conditional UPDATE for the batch: a row another deliverer claimed (or sent) since the SELECT
    no longer matches the condition, so it is not ours (PostgreSQL re-checks a row it waited for).
    """
    condition = and_(_claimable(now), _c.channel.in_(sorted(channels)))
    with conn.begin():
        ids = list(conn.execute(select(_c.id).where(condition).order_by(_c.id).limit(batch)).scalars())
        if not ids:
            return [], 0
        claim = (update(_outbox).where(_c.id.in_(ids), condition)
                 .values(status=OutboxStatus.SENDING, lease_until=lease_until).returning(*_outbox.c))
        # Loaded by the ORM (which fills each object's state directly) rather than built with OutboxMessage(**row),
        # whose attribute-by-attribute instrumentation cost ≈0.3 ms a row, more than the UPDATE itself; the
        # session only reads, inside the claim's transaction, and lets its objects go detached and loaded.
        with OrmSession(bind=conn, autoflush=False) as session:
            rows = list(session.execute(select(OutboxMessage).from_statement(claim)).scalars())
            session.expunge_all()
    claimed = sorted(rows, key=lambda m: m.id or 0)
    return claimed, len(ids) - len(claimed)


def _attachments(conn: Connection, messages: list[OutboxMessage]) -> dict[int, list[tuple[str, bytes]]]:
    """The official documents the claimed messages carry, as (filename, PDF) per document id."""
    wanted = {m.document_id for m in messages if m.document_id}
    if not wanted:
        return {}
    with conn.begin():
        rows = conn.execute(select(_doc.c.id, _doc.c.doc_number, _doc.c.title, _doc.c.pdf).where(_doc.c.id.in_(wanted))).all()
    return {row.id: [(f"{row.doc_number} {row.title}.pdf", bytes(row.pdf))] for row in rows}


def _robots(conn: Connection, messages: list[OutboxMessage]) -> dict[str, RobotTarget]:
    """The active robots the claimed messages go to, unsealed, by ``robot:{id}``."""
    wanted = {int(m.to_addr.split(":", 1)[1]) for m in messages
              if m.channel not in (Channel.EMAIL, Channel.SMS) and m.to_addr.startswith("robot:")}
    if not wanted:
        return {}
    with conn.begin():
        rows = conn.execute(select(_robot.c.id, _robot.c.channel, _robot.c.webhook_sealed, _robot.c.secret_sealed)
                            .where(_robot.c.id.in_(wanted), _robot.c.active.is_(True))).all()
    targets: dict[str, RobotTarget] = {}
    for row in rows:
        try:
            secret = unseal(row.secret_sealed) if row.secret_sealed else None
            targets[f"robot:{row.id}"] = RobotTarget(row.channel, unseal(row.webhook_sealed), secret)
        except PermanentFailure:
            log.warning("robot %s: its webhook or secret cannot be decrypted", row.id)
    return targets


def _record(conn: Connection, outbox_id: int, lease_until: dt.datetime, values: dict[str, Any]) -> bool:
    """Write an outcome if we still hold the row's lease; False when it was lost (reclaimed)."""
    with conn.begin():
        result = conn.execute(
            update(_outbox)
            .where(_c.id == outbox_id, _c.status == OutboxStatus.SENDING, _c.lease_until == lease_until)
            .values(**values)
        )
        return bool(result.rowcount == 1)


class _SentRecorder:
    """The outcome "sent" of one batch's messages, each one UPDATE sent straight to the driver and committed by
    itself (SQLite's and PostgreSQL's connections are in autocommit here: one statement is its own transaction).

    The same UPDATE as :func:`_record` writes for a sent message, fenced the same way; it is compiled once per
    batch by SQLAlchemy (its bind processors turn the times into what the columns store) and then run without
    SQLAlchemy's per-statement work, which cost more than the write itself (≈1 ms against ≈0.1 ms on SQLite,
    ≈2 ms against ≈0.4 ms on PostgreSQL, measured under load) and, in a worker thread, held the interpreter
    lock while the event loop was talking to the SMTP server.
    """

    def __init__(self, conn: Connection, lease_until: dt.datetime, now: dt.datetime) -> None:
        statement = (
            update(_outbox)
            .where(_c.id == bindparam("outbox_id"), _c.status == OutboxStatus.SENDING, _c.lease_until == lease_until)
            .values(status=OutboxStatus.SENT, sent_at=now, last_error=None, attempts=bindparam("attempts"),
                    lease_until=None)
        )
        self._statement = DriverStatement(conn, statement)
        self._sql = self._statement.sql
        self._params = self._statement.values({"outbox_id": 0, "attempts": 0})  # the constants, as stored
        self._conn = conn
        driver: Any = conn.connection.driver_connection
        self._driver = driver
        self._pg: tuple[bytes, list[str]] | None = None  # the statement with $n placeholders, and their names
        self._busy_ms: int | None = None  # SQLite's busy timeout on this connection, restored after each write
        if conn.dialect.name == "sqlite":
            cursor = driver.cursor()
            try:
                self._busy_ms = int(cursor.execute("PRAGMA busy_timeout").fetchone()[0])
            finally:
                cursor.close()

    @property
    def usable(self) -> bool:
        """Whether a statement on the driver's connection now commits by itself (else :func:`_record` writes)."""
        if self._conn.dialect.name == "sqlite":
            return self._driver.isolation_level is None and not self._driver.in_transaction
        return self._conn.dialect.name == "postgresql" and bool(self._driver.autocommit)

    def _args(self, outbox_id: int, attempts: int) -> Any:
        return self._statement.args(dict(self._params, outbox_id=outbox_id, attempts=attempts))

    def _execute(self, cursor: Any, outbox_id: int, attempts: int) -> bool:
        """The one statement, which commits by itself (the write every outcome "sent" goes through)."""
        cursor.execute(self._sql, self._args(outbox_id, attempts))
        return bool(cursor.rowcount == 1)

    def __call__(self, outbox_id: int, attempts: int) -> bool:
        cursor = self._driver.cursor()
        try:
            return self._execute(cursor, outbox_id, attempts)
        finally:
            cursor.close()

    @property
    def pipelined(self) -> bool:
        """Whether the write can go out without blocking (PostgreSQL through psycopg): :meth:`post` it now, await
        :meth:`confirmed` later."""
        return self._conn.dialect.name == "postgresql" and hasattr(self._driver, "pgconn") and self.usable

    def post(self, outbox_id: int, attempts: int) -> None:
        """Put the write on the wire without waiting for it (libpq's non-blocking protocol, the one psycopg's async
        connections use): the server runs it while the caller builds the next message, and no worker thread
        is needed. :meth:`confirmed` must be awaited before anything else uses the connection."""
        if self._pg is None:
            names: list[str] = []

            def number(match: re.Match[str]) -> str:
                names.append(match.group(1))
                return f"${len(names)}"

            self._pg = (re.sub(r"%\((\w+)\)s", number, self._sql).encode(), names)
            prepared = self._driver.pgconn.prepare(_PREPARED, self._pg[0])  # once per connection: parsed once
            if prepared.status != pq.ExecStatus.COMMAND_OK and prepared.error_field(pq.DiagnosticField.SQLSTATE) != b"42P05":
                raise psycopg.errors.error_from_result(prepared, encoding=self._driver.info.encoding)
        sql, names = self._pg
        params = self._args(outbox_id, attempts)
        pgconn = self._driver.pgconn
        pgconn.send_query_prepared(_PREPARED, [_pg_text(params[name]) for name in names])
        pgconn.flush()  # a short statement goes out at once; ``confirmed`` flushes whatever is left

    async def confirmed(self) -> bool:
        """The outcome of :meth:`post`, once the server has committed it (or the error it raised)."""
        pgconn = self._driver.pgconn
        results = await waiting.wait_async(generators.execute(pgconn), pgconn.socket, interval=_WAIT_S)
        for result in results:
            if result.status != pq.ExecStatus.COMMAND_OK:
                raise psycopg.errors.error_from_result(result, encoding=self._driver.info.encoding)
        return len(results) == 1 and int(results[0].command_tuples or 0) == 1

    def at_once(self, outbox_id: int, attempts: int) -> bool | None:
        """On SQLite, the write done on the calling thread when the database is free this instant (``None``: not
        tried, or another writer holds the lock — then the caller writes from a worker thread, which waits the
        busy timeout). A local write takes ≈0.1 ms, less than handing it to a thread; waiting for a lock there
        would stall the event loop, so the busy timeout is 0 for this one statement."""
        if self._busy_ms is None:
            return None
        cursor = self._driver.cursor()
        try:
            cursor.execute("PRAGMA busy_timeout = 0")
            try:
                return self._execute(cursor, outbox_id, attempts)
            except sqlite3.OperationalError as exc:
                if "locked" in str(exc) or "busy" in str(exc):
                    return None
                raise
        finally:
            cursor.execute(f"PRAGMA busy_timeout = {self._busy_ms}")
            cursor.close()


_PREPARED = b"duban_outbox_sent"  # the prepared outcome "sent" on a delivery's PostgreSQL connection
_WAIT_S = 0.1  # how often a wait for the server wakes up meanwhile (psycopg's own; 0 would spin)


def _pg_text(value: Any) -> bytes | None:
    """A parameter in PostgreSQL's text format (the statement casts each one to its column's type)."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.isoformat().encode()
    return str(value.value if isinstance(value, Enum) else value).encode()


def _release(conn: Connection, ids: list[int], lease_until: dt.datetime) -> int:
    """Give unsent claims back (status pending, attempts unchanged)."""
    if not ids:
        return 0
    with conn.begin():
        result = conn.execute(
            update(_outbox)
            .where(_c.id.in_(ids), _c.status == OutboxStatus.SENDING, _c.lease_until == lease_until)
            .values(status=OutboxStatus.PENDING, lease_until=None)
        )
        return int(result.rowcount)


def _truncate(text: str) -> str:
    return text if len(text) <= _ERROR_MAX else text[: _ERROR_MAX - 1] + "…"


def _sender() -> tuple[str, str]:
    settings = get_settings()
    return settings.organisation_name, str(getattr(settings, "mail_from", "duban@localhost"))


def _build(msg: OutboxMessage, sender_name: str, sender_addr: str,
           attachments: list[tuple[str, bytes]]) -> EmailMessage | str:
    """The MIME message, or why it cannot be built (a bad address or bad data: sending again would not help)."""
    try:
        return build_email(msg, sender_name, sender_addr, attachments)
    except Exception as exc:
        return f"cannot build the message: {exc}"


@dataclass(frozen=True)
class _Other:
    """A claimed row on a channel besides mail, with its sender and (for a robot) its webhook."""

    sender: ChannelSender
    target: RobotTarget | None


async def _send(mailer: Mailer, msg: OutboxMessage, message: EmailMessage | _Other, holder: str) -> tuple[str, str]:
    """Try to send one message: ``("sent", "")``, ``("retried", reason)`` or ``("dead", reason)``."""
    try:
        if isinstance(message, _Other):
            await message.sender.deliver(msg, message.target)
        else:
            await mailer.send(message)
    except PermanentFailure as exc:
        return "dead", exc.reason
    except TemporaryFailure as exc:
        return "retried", exc.reason
    except Exception as exc:  # anything unexpected from the transport: retried, so it is never lost
        log.exception("%s: unexpected error sending outbox message %s", holder, msg.id)
        reason = exc.reason if isinstance(exc, DeliveryFailure) else f"{type(exc).__name__}: {exc}"
        return "retried", reason
    return "sent", ""


def _outcome_values(outcome: str, reason: str, attempts: int, now: dt.datetime,
                    channel: str = Channel.EMAIL) -> tuple[str, dict[str, Any]]:
    values: dict[str, Any] = {"attempts": attempts, "lease_until": None}
    if outcome == "sent":
        values.update(status=OutboxStatus.SENT, sent_at=now, last_error=None)
    elif outcome == "retried" and attempts >= MAX_ATTEMPTS:
        outcome = "dead"
        values.update(status=OutboxStatus.DEAD, last_error=_truncate(f"gave up after {attempts} attempts: {reason}"))
    elif outcome == "retried":
        due = now + backoff(attempts)
        if channel == Channel.SMS:  # a retried SMS does not go out at night either (the default quiet hours)
            due = (after_quiet_hours(due.astimezone(CHINA_TZ), *DEFAULT_QUIET) or due).astimezone(dt.UTC)
        values.update(status=OutboxStatus.PENDING, next_attempt_at=due, last_error=_truncate(reason))
    else:
        values.update(status=OutboxStatus.DEAD, last_error=_truncate(reason))
    return outcome, values


async def deliver_pending(
    engine: Engine,
    mailer: Mailer,
    now: dt.datetime,
    *,
    holder: str,
    batch: int = 50,
    lease_seconds: int = 120,
    channels: Mapping[str, ChannelSender] | None = None,
) -> DeliveryStats:
    """Deliver up to ``batch`` due messages of the outbox through ``mailer``; see the module docstring.

    ``holder`` names this deliverer in the log. Database work runs in worker threads so the event
    loop is never blocked; every step is its own short transaction and no transaction is open while a
    message is being sent. Safe to run concurrently from several tasks, threads or processes.

    ``channels``: the senders of rows on other channels (``None``: those the settings configure); rows on a
    channel without a sender stay pending for a deliverer that has one.
    """
    senders = default_senders() if channels is None else channels
    _require_aware(now)
    if batch < 1 or lease_seconds < 1:
        raise ValueError("batch and lease_seconds must be positive")
    stats = DeliveryStats()
    lease_until = now + dt.timedelta(seconds=lease_seconds)
    started = _monotonic()
    # One connection for the whole batch (each step still its own short transaction): no pool
    # checkout, and on PostgreSQL no pre-ping round trip, per message.
    conn = await anyio.to_thread.run_sync(_connect, engine)
    try:
        await _deliver_claimed(conn, _Transports(mailer, senders), now, holder, batch, lease_seconds, lease_until,
                               started, stats)
    finally:
        await anyio.to_thread.run_sync(_disconnect, conn)
    return stats


def _connect(engine: Engine) -> Connection:
    conn = engine.connect()
    if conn.dialect.name == "postgresql":
        # Every write of a delivery is one statement, atomic by itself (the claim's SELECT only
        # proposes ids: its UPDATE re-checks each row), so autocommit spares the BEGIN and COMMIT
        # round trips. And no wait for the WAL flush (≈2.5 ms a commit here, more than the rest of a
        # message's overhead): a commit is visible at once and survives our process; only a crash
        # of the database server can lose it, and then the message is sent again after its lease —
        # the at-least-once that a crash of ours gives anyway.
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        conn.exec_driver_sql("SET synchronous_commit = off")
        conn.commit()  # ends SQLAlchemy's autobegun transaction, so each step can begin its own
    return conn


def _disconnect(conn: Connection) -> None:
    try:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("RESET synchronous_commit")  # the pool hands the connection on
    except Exception:
        conn.invalidate()
        raise
    finally:
        conn.close()


@dataclass(frozen=True)
class _Transports:
    mailer: Mailer
    senders: Mapping[str, ChannelSender]

    @property
    def channels(self) -> frozenset[str]:
        return frozenset({Channel.EMAIL, *self.senders})


def _prepare(msg: OutboxMessage, transports: _Transports, sender_name: str, sender_addr: str,
             documents: dict[int, list[tuple[str, bytes]]], robots: dict[str, RobotTarget]) -> EmailMessage | _Other | str:
    if msg.channel == Channel.EMAIL:
        return _build(msg, sender_name, sender_addr, documents.get(msg.document_id or 0, []))
    return _Other(transports.senders[msg.channel], robots.get(msg.to_addr))


class _Outcomes:
    """Records a batch's outcomes: "sent" through :class:`_SentRecorder` (on PostgreSQL put on the wire at once and
    awaited without blocking; on SQLite written at once when the database is free, else in a worker thread), the
    others through :func:`_record`; counts them in ``stats``."""

    def __init__(self, conn: Connection, lease_until: dt.datetime, now: dt.datetime, stats: DeliveryStats,
                 holder: str) -> None:
        self.conn, self.lease_until, self.stats, self.holder = conn, lease_until, stats, holder
        self.fast = _SentRecorder(conn, lease_until, now)

    def _write(self, outbox_id: int, outcome: str, values: dict[str, Any]) -> bool:
        if outcome == "sent" and self.fast.usable:
            return self.fast(outbox_id, values["attempts"])
        return _record(self.conn, outbox_id, self.lease_until, values)

    def start(self, outbox_id: int, outcome: str, values: dict[str, Any]) -> asyncio.Future[None]:
        """Begin recording an outcome; the returned future is done when it is durable. On PostgreSQL a "sent" is
        on its way to the server when this returns, so the server writes it while the next message is built."""
        if outcome == "sent" and self.fast.pipelined:
            self.fast.post(outbox_id, values["attempts"])
            return asyncio.ensure_future(self._confirm(outbox_id, outcome, values))
        return asyncio.ensure_future(self.record(outbox_id, outcome, values))

    async def _confirm(self, outbox_id: int, outcome: str, values: dict[str, Any]) -> None:
        self._count(outbox_id, outcome, values, await self.fast.confirmed())

    async def record(self, outbox_id: int, outcome: str, values: dict[str, Any]) -> None:
        done = self.fast.at_once(outbox_id, values["attempts"]) if outcome == "sent" and self.fast.usable else None
        if done is None:
            done = await anyio.to_thread.run_sync(self._write, outbox_id, outcome, values)
        self._count(outbox_id, outcome, values, done)

    def _count(self, outbox_id: int, outcome: str, values: dict[str, Any], done: bool) -> None:
        if done:
            setattr(self.stats, outcome, getattr(self.stats, outcome) + 1)
            if outcome != "sent":
                log.warning("%s: outbox message %s %s: %s", self.holder, outbox_id, outcome, values["last_error"])
        else:
            self.stats.skipped += 1
            log.warning("%s: lost the lease of outbox message %s before recording %s", self.holder, outbox_id, outcome)


async def _deliver_claimed(conn: Connection, transports: _Transports, now: dt.datetime, holder: str, batch: int,
                           lease_seconds: int, lease_until: dt.datetime, started: float, stats: DeliveryStats) -> None:
    mailer = transports.mailer
    claimed, taken = await anyio.to_thread.run_sync(_claim, conn, now, lease_until, batch, transports.channels)
    stats.skipped += taken
    if not claimed:
        return
    log.info("%s claimed %d outbox message(s)", holder, len(claimed))
    sender_name, sender_addr = _sender()
    documents = await anyio.to_thread.run_sync(_attachments, conn, claimed)
    robots = await anyio.to_thread.run_sync(_robots, conn, claimed)

    outcomes = _Outcomes(conn, lease_until, now, stats, holder)

    # One SMTP connection for the whole batch when the mailer can keep one open (QUIT at the end).
    sending: contextlib.AbstractAsyncContextManager[Mailer] = (
        mailer.session() if isinstance(mailer, SessionMailer) else contextlib.nullcontext(mailer))
    # The outcome of one message is written while the next one is built, and is committed before that
    # one goes out: a crash re-sends at most the message in flight.
    recording: asyncio.Future[None] | None = None
    async with sending as sender:
        try:
            for index, msg in enumerate(claimed):
                assert msg.id is not None
                if _monotonic() - started > lease_seconds / 2:
                    if recording is not None:
                        await recording
                        recording = None
                    rest = [m.id for m in claimed[index:] if m.id is not None]
                    released = await anyio.to_thread.run_sync(_release, conn, rest, lease_until)
                    log.warning("%s: half the lease used; released %d unsent message(s)", holder, released)
                    stats.skipped += len(rest)
                    break
                message = _prepare(msg, transports, sender_name, sender_addr, documents, robots)
                if recording is not None:
                    await recording
                    recording = None
                if isinstance(message, str):
                    outcome, reason = "dead", message
                else:
                    outcome, reason = await _send(sender, msg, message, holder)
                outcome, values = _outcome_values(outcome, reason, msg.attempts + 1, now, msg.channel)
                recording = outcomes.start(msg.id, outcome, values)
        finally:
            if recording is not None:
                await recording


def retry_dead(session: Session, outbox_id: int, now: dt.datetime) -> OutboxMessage:
    """Admin action: put a dead message back in the queue, due at ``now`` (attempts are kept).

    No commit. Raises :class:`NotFound` for an unknown id and :class:`InvalidTransition` unless dead.
    """
    _require_aware(now)
    message = session.get(OutboxMessage, outbox_id)
    if message is None:
        raise NotFound(f"邮件 {outbox_id} 不存在")
    if message.status != OutboxStatus.DEAD:
        raise InvalidTransition(f"邮件 {outbox_id} 的状态为“{OutboxStatus.label_of(message.status)}”，只有发送失败（dead）的邮件可以重发")
    message.status = OutboxStatus.PENDING
    message.next_attempt_at = now
    message.lease_until = None
    session.add(message)
    session.flush()
    return message


def outbox_summary(session: Session) -> dict[str, int]:
    """How many messages are in each status (every status present, zero when none)."""
    counts = dict.fromkeys(STATUSES, 0)
    rows = session.execute(select(_c.status, func.count()).group_by(_c.status)).all()
    for status, count in rows:
        counts[str(status)] = int(count)
    return counts
