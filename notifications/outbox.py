"""The mail outbox writer: a mail is written in the same transaction as the change that causes it.

Delivery happens later (a worker reads ``status == "pending"`` rows). ``key`` names the cause — what
happened, to which thing, in which round, for which recipient — so writing the same mail twice (a retry,
a replayed request) leaves one row: the writer looks first, and the unique index on ``outbox.key`` is
the final guard against a concurrent writer.

``enqueue_mail`` writes one mail through the ORM; ``enqueue_mails`` writes many (the tick's reminders)
with one lookup of the existing keys and one multi-row ``INSERT … ON CONFLICT (key) DO NOTHING`` per
chunk, so a concurrent writer of the same key is skipped rather than failing the transaction.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import String, bindparam, insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from core.db import DriverStatement, one_of
from core.settings import get_settings
from domain.channels import personal_channels, wants_robot
from domain.vocabulary import Channel, OutboxStatus
from models.accounts import User
from models.review import OutboxMessage
from notifications.fanout import channel_rows, load_directory
from notifications.render import render_batch, render_mail

MESSAGE_ID_DOMAIN = "duban.local"
_KEY_MAX = 255
_CHUNK = 500  # keys per lookup and rows per INSERT (well below every driver's parameter limit)

_outbox = OutboxMessage.__table__  # type: ignore[attr-defined]


def base_url() -> str:
    """The absolute root of the web UI for links in mail, without a trailing slash."""
    return get_settings().effective_base_url.rstrip("/")


def absolute_url(path: str) -> str:
    """``base_url()`` joined with an absolute path such as ``/submissions/12``."""
    return f"{base_url()}/{path.lstrip('/')}"


def message_id_for(key: str) -> str:
    """A stable RFC 5322 Message-ID derived from the outbox key (the same cause, the same id)."""
    return f"<{hashlib.sha256(key.encode('utf-8')).hexdigest()[:32]}@{MESSAGE_ID_DOMAIN}>"


def _check(key: str, now: dt.datetime) -> None:
    if not key or len(key) > _KEY_MAX:
        raise ValueError(f"outbox key must be 1–{_KEY_MAX} characters")
    if now.tzinfo is None:
        raise ValueError("enqueue_mail needs an aware datetime")


_KEY_TAKEN = select(OutboxMessage.__table__.c.id).where(OutboxMessage.__table__.c.key == bindparam("key"))  # type: ignore[attr-defined]


def _existing(session: Session, key: str) -> OutboxMessage | None:
    for obj in session.new:  # added in this session but not flushed yet (autoflush may be off)
        if isinstance(obj, OutboxMessage) and obj.key == key:
            return obj
    # The flushed rows and everyone else's, by the unique key: one prebuilt statement on the session's
    # connection (the message itself is loaded only when the key is taken, i.e. on a re-run).
    taken = session.connection().execute(_KEY_TAKEN, {"key": key}).scalar()
    return session.get(OutboxMessage, taken) if taken is not None else None


def enqueue_mail(
    session: Session,
    *,
    key: str,
    to: User,
    template: str,
    context: dict[str, Any],
    now: dt.datetime,
) -> OutboxMessage | None:
    """Add a pending mail to the session (no commit) and return it, with its rows on the recipient's other
    channels (:mod:`notifications.fanout`).

    Returns ``None`` and writes no mail when ``to`` is inactive, has no email address or has chosen not to
    receive mail. Returns the existing message when one with ``key`` is already there. ``recipient_name``
    defaults to ``to.display_name``; see :mod:`notifications.render` for the other template variables.
    """
    _check(key, now)
    if not to.active:
        return None
    directory = load_directory(session, [to], robots=wants_robot(template))
    pref = directory.prefs.get(to.id or 0)
    address = (to.email or "").strip()
    mailed = bool(address) and Channel.EMAIL in personal_channels(template, pref.channels if pref else None)
    existing = _existing(session, key) if mailed else None
    if existing is not None:
        return existing
    mail = render_mail(template, {"recipient_name": to.display_name, **context})
    for row in channel_rows(directory, to, key, template, mail.subject, mail.text, str(context.get("link", "")), now):
        if _existing(session, row["key"]) is None:
            session.add(OutboxMessage(message_id=message_id_for(row["key"]), **row))
    if not mailed:
        return None
    message = OutboxMessage(
        key=key,
        message_id=message_id_for(key),
        to_addr=address,
        to_user_id=to.id,
        subject=mail.subject[:300],
        body_text=mail.text,
        body_html=mail.html,
        status=OutboxStatus.PENDING,
        created_at=now,
    )
    session.add(message)
    return message


@dataclass(frozen=True)
class MailRequest:
    """One mail for :func:`enqueue_mails`: what :func:`enqueue_mail` takes, less the session and time.

    Requests whose contexts differ only in what their template merely prints (the recipient's name; for some
    templates more: :data:`notifications.render.PRINTED_ONLY`) share one rendering.
    """

    key: str
    to: User
    template: str
    context: dict[str, Any]


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    return (items[i:i + size] for i in range(0, len(items), size))


def _ids_of(session: Session, keys: Sequence[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for chunk in _chunks(keys):
        rows = session.execute(select(_outbox.c.key, _outbox.c.id).where(one_of(session, _outbox.c.key, chunk, String())))
        found.update({key: outbox_id for key, outbox_id in rows})
    return found


def _insert_pipelined(conn: Connection, statement: Any, rows: list[dict[str, Any]],
                      written: dict[str, int]) -> list[dict[str, Any]]:
    """On PostgreSQL: the rows with the same columns as one short ``INSERT`` each, sent through psycopg's
    ``executemany`` in a pipeline (one round trip for all), their ids read back; fills ``written`` and returns the
    rows left for the multi-row path (those whose columns leave out a Python-side default).

    A multi-row ``INSERT`` of 500 mails is 5,500 placeholders that SQLAlchemy renders and psycopg parses again on
    every chunk: for the tick's 2,910 reminders that was most of the time of writing them."""
    left: list[dict[str, Any]] = []
    by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        by_columns.setdefault(tuple(row), []).append(row)
    for columns, group in by_columns.items():
        driver = DriverStatement(conn, statement, columns)
        if not driver.complete:
            left.extend(group)
            continue
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.executemany(driver.sql, [driver.args(driver.values(row)) for row in group], returning=True)
            while True:
                written.update({key: outbox_id for key, outbox_id in cursor.fetchall()})
                if not cursor.nextset():
                    break
        finally:
            cursor.close()
    return left


def _insert_new(session: Session, rows: list[dict[str, Any]]) -> dict[str, int]:
    """Insert ``rows``, skipping any whose key a concurrent writer has taken; returns key → id of those written."""
    conn = session.connection()
    dialect = conn.dialect.name
    written: dict[str, int] = {}
    if dialect in ("sqlite", "postgresql"):
        make = sqlite.insert if dialect == "sqlite" else postgresql.insert
        statement = make(_outbox).on_conflict_do_nothing(index_elements=["key"]).returning(_outbox.c.key, _outbox.c.id)
        if dialect == "postgresql":
            rows = _insert_pipelined(conn, statement, rows, written)
        for chunk in _chunks(rows):
            written.update({key: outbox_id for key, outbox_id in conn.execute(statement, list(chunk))})
        return written
    statement = insert(_outbox).returning(_outbox.c.key, _outbox.c.id)  # any other database: row by row
    for row in rows:
        try:
            with session.begin_nested():
                written.update({key: outbox_id for key, outbox_id in session.connection().execute(statement, row)})
        except IntegrityError:
            continue
    return written


def enqueue_mails(session: Session, requests: Iterable[MailRequest], *, now: dt.datetime) -> dict[str, int | None]:
    """Write many pending mails in the session's transaction (no commit); returns the outbox id per key.

    The same rules as :func:`enqueue_mail`, for a batch: a key already in the outbox keeps its row
    (its id is returned), a recipient that is inactive or has no address gets ``None`` and no mail row
    (an active one's rows on other channels are written), and of repeated keys in ``requests`` the first wins. The rows are written with Core statements, not
    ORM objects: load them (``session.get``) when you need them.
    """
    if now.tzinfo is None:
        raise ValueError("enqueue_mail needs an aware datetime")
    result: dict[str, int | None] = {}
    wanted: dict[str, MailRequest] = {}
    for request in requests:
        _check(request.key, now)
        if request.key in result or request.key in wanted:
            continue
        if not request.to.active:
            result[request.key] = None
        else:
            wanted[request.key] = request
    if not wanted:
        return result
    if any(isinstance(obj, OutboxMessage) for obj in session.new):
        session.flush()  # mails added through the ORM in this session must be seen by the lookup
    existing = _ids_of(session, list(wanted))
    result.update(existing)
    todo = [r for key, r in wanted.items() if key not in existing]
    # One rendering per template and group of contexts that differ only in what the template merely prints
    # (the recipient's name, a reminder's title and units: ``render_batch``); the rest is filled in per mail.
    groups: dict[str, list[MailRequest]] = {}
    for request in todo:
        groups.setdefault(request.template, []).append(request)
    rows: list[dict[str, Any]] = []
    extra: dict[str, dict[str, Any]] = {}  # rows on other channels, by key (one per cause and robot)
    directory = load_directory(session, [r.to for r in todo], robots=any(wants_robot(t) for t in groups))
    for template, members in groups.items():
        mails = render_batch(template, [{"recipient_name": m.to.display_name, **m.context} for m in members])
        for request, mail in zip(members, mails, strict=True):
            for row in channel_rows(directory, request.to, request.key, template, mail.subject, mail.text,
                                    str(request.context.get("link", "")), now):
                extra.setdefault(row["key"], row | {"message_id": message_id_for(row["key"])})
            pref = directory.prefs.get(request.to.id or 0)
            mailed = Channel.EMAIL in personal_channels(template, pref.channels if pref else None)
            if not mailed or not (request.to.email or "").strip():
                result[request.key] = None  # no address, or the recipient reads this kind elsewhere
                continue
            rows.append({
                "key": request.key, "message_id": message_id_for(request.key), "channel": Channel.EMAIL,
                "to_addr": (request.to.email or "").strip(),
                "to_user_id": request.to.id, "subject": mail.subject[:300], "body_text": mail.text,
                "body_html": mail.html, "status": OutboxStatus.PENDING, "attempts": 0, "created_at": now,
            })
    written = _insert_new(session, rows) if rows else {}
    if extra:
        _insert_new(session, list(extra.values()))
    result.update(written)
    lost = [row["key"] for row in rows if row["key"] not in written]
    if lost:  # written meanwhile by a concurrent transaction that has committed: use its rows
        result.update(_ids_of(session, lost))
    return result
