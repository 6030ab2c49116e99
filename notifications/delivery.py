"""Delivery of the mail outbox: claim, send, record — never lost, duplicated only by a crash.

SMTP cannot give exactly-once: a process may die after the server's 250 and before our commit. So:

1. **claim** (one short transaction): rows that are ``pending`` and due, or ``sending`` with an expired
   lease (their sender died), are switched to ``sending`` with ``lease_until = now + lease`` by a
   conditional UPDATE each; a row whose UPDATE matched nothing was taken by another deliverer;
2. **send** outside any transaction;
3. **record** (one short transaction per message): ``sent``; or back to ``pending`` with a back-off;
   or ``dead``. The UPDATE is fenced on ``status = 'sending' AND lease_until = <our lease>``, so a
   deliverer whose lease ran out (and whose row was reclaimed) cannot overwrite the newer outcome.

A message is therefore re-sent only if its deliverer died (or stalled past its lease) between the
server's acceptance and the commit; it keeps its Message-ID, so receivers can drop the copy. If a batch
takes longer than half the lease (measured on the monotonic clock), the rest is released unsent rather
than risk a reclaim while sending.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import anyio.to_thread
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.engine import Engine
from sqlmodel import Session

from core.settings import get_settings
from domain.errors import InvalidTransition, NotFound
from models.review import OfficialDocument, OutboxMessage
from notifications.mailer import DeliveryFailure, Mailer, PermanentFailure, TemporaryFailure, build_email

log = logging.getLogger(__name__)

STATUSES = ("pending", "sending", "sent", "dead")
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
        and_(_c.status == "pending", or_(_c.next_attempt_at.is_(None), _c.next_attempt_at <= now)),
        and_(_c.status == "sending", _c.lease_until < now),  # a crashed (or stalled) sender
    )


def _claim(engine: Engine, now: dt.datetime, lease_until: dt.datetime, batch: int) -> tuple[list[OutboxMessage], int]:
    """Claim up to ``batch`` due messages; returns them and how many were taken by someone else."""
    condition = _claimable(now)
    with engine.begin() as conn:
        ids = list(conn.execute(select(_c.id).where(condition).order_by(_c.id).limit(batch)).scalars())
        claimed: list[int] = []
        for outbox_id in ids:
            result = conn.execute(
                update(_outbox).where(_c.id == outbox_id, condition).values(status="sending", lease_until=lease_until)
            )
            if result.rowcount == 1:
                claimed.append(outbox_id)
        rows = (
            conn.execute(select(_outbox).where(_c.id.in_(claimed)).order_by(_c.id)).mappings().all() if claimed else []
        )
    return [OutboxMessage(**dict(row)) for row in rows], len(ids) - len(claimed)


def _attachments(engine: Engine, messages: list[OutboxMessage]) -> dict[int, list[tuple[str, bytes]]]:
    """The official documents the claimed messages carry, as (filename, PDF) per document id."""
    wanted = {m.document_id for m in messages if m.document_id}
    if not wanted:
        return {}
    with engine.begin() as conn:
        rows = conn.execute(select(_doc.c.id, _doc.c.doc_number, _doc.c.title, _doc.c.pdf).where(_doc.c.id.in_(wanted))).all()
    return {row.id: [(f"{row.doc_number} {row.title}.pdf", bytes(row.pdf))] for row in rows}


def _record(engine: Engine, outbox_id: int, lease_until: dt.datetime, values: dict[str, Any]) -> bool:
    """Write an outcome if we still hold the row's lease; False when it was lost (reclaimed)."""
    with engine.begin() as conn:
        result = conn.execute(
            update(_outbox)
            .where(_c.id == outbox_id, _c.status == "sending", _c.lease_until == lease_until)
            .values(**values)
        )
        return bool(result.rowcount == 1)


def _release(engine: Engine, ids: list[int], lease_until: dt.datetime) -> int:
    """Give unsent claims back (status pending, attempts unchanged)."""
    if not ids:
        return 0
    with engine.begin() as conn:
        result = conn.execute(
            update(_outbox)
            .where(_c.id.in_(ids), _c.status == "sending", _c.lease_until == lease_until)
            .values(status="pending", lease_until=None)
        )
        return int(result.rowcount)


def _truncate(text: str) -> str:
    return text if len(text) <= _ERROR_MAX else text[: _ERROR_MAX - 1] + "…"


def _sender() -> tuple[str, str]:
    settings = get_settings()
    return settings.organisation_name, str(getattr(settings, "mail_from", "duban@localhost"))


async def _attempt(
    mailer: Mailer, msg: OutboxMessage, sender_name: str, sender_addr: str, holder: str,
    attachments: list[tuple[str, bytes]] | None = None,
) -> tuple[str, str]:
    """Try to send one message: ``("sent", "")``, ``("retried", reason)`` or ``("dead", reason)``."""
    try:
        message: EmailMessage = build_email(msg, sender_name, sender_addr, attachments)
    except Exception as exc:  # a bad address or bad data: sending again would not help
        return "dead", f"cannot build the message: {exc}"
    try:
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


async def deliver_pending(
    engine: Engine,
    mailer: Mailer,
    now: dt.datetime,
    *,
    holder: str,
    batch: int = 50,
    lease_seconds: int = 120,
) -> DeliveryStats:
    """Deliver up to ``batch`` due messages of the outbox through ``mailer``; see the module docstring.

    ``holder`` names this deliverer in the log. Database work runs in worker threads so the event
    loop is never blocked; every step is its own short transaction and no transaction is open while a
    message is being sent. Safe to run concurrently from several tasks, threads or processes.
    """
    _require_aware(now)
    if batch < 1 or lease_seconds < 1:
        raise ValueError("batch and lease_seconds must be positive")
    stats = DeliveryStats()
    lease_until = now + dt.timedelta(seconds=lease_seconds)
    started = _monotonic()
    claimed, taken = await anyio.to_thread.run_sync(_claim, engine, now, lease_until, batch)
    stats.skipped += taken
    if not claimed:
        return stats
    log.info("%s claimed %d outbox message(s)", holder, len(claimed))
    sender_name, sender_addr = _sender()
    documents = await anyio.to_thread.run_sync(_attachments, engine, claimed)

    for index, msg in enumerate(claimed):
        assert msg.id is not None
        if _monotonic() - started > lease_seconds / 2:
            rest = [m.id for m in claimed[index:] if m.id is not None]
            released = await anyio.to_thread.run_sync(_release, engine, rest, lease_until)
            log.warning("%s: half the lease used; released %d unsent message(s)", holder, released)
            stats.skipped += len(rest)
            break
        outcome, reason = await _attempt(mailer, msg, sender_name, sender_addr, holder,
                                         documents.get(msg.document_id or 0, []))
        attempts = msg.attempts + 1
        values: dict[str, Any] = {"attempts": attempts, "lease_until": None}
        if outcome == "sent":
            values.update(status="sent", sent_at=now, last_error=None)
        elif outcome == "retried" and attempts >= MAX_ATTEMPTS:
            outcome = "dead"
            values.update(status="dead", last_error=_truncate(f"gave up after {attempts} attempts: {reason}"))
        elif outcome == "retried":
            values.update(status="pending", next_attempt_at=now + backoff(attempts), last_error=_truncate(reason))
        else:
            values.update(status="dead", last_error=_truncate(reason))
        if await anyio.to_thread.run_sync(_record, engine, msg.id, lease_until, values):
            setattr(stats, outcome, getattr(stats, outcome) + 1)
            if outcome != "sent":
                log.warning("%s: outbox message %s %s: %s", holder, msg.id, outcome, values["last_error"])
        else:
            stats.skipped += 1
            log.warning("%s: lost the lease of outbox message %s before recording %s", holder, msg.id, outcome)
    return stats


def retry_dead(session: Session, outbox_id: int, now: dt.datetime) -> OutboxMessage:
    """Admin action: put a dead message back in the queue, due at ``now`` (attempts are kept).

    No commit. Raises :class:`NotFound` for an unknown id and :class:`InvalidTransition` unless dead.
    """
    _require_aware(now)
    message = session.get(OutboxMessage, outbox_id)
    if message is None:
        raise NotFound(f"邮件 {outbox_id} 不存在")
    if message.status != "dead":
        raise InvalidTransition(f"邮件 {outbox_id} 的状态为 {message.status}，只有发送失败（dead）的邮件可以重发")
    message.status = "pending"
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
