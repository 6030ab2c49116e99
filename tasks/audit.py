"""The tamper-evident audit trail: a hash chain over ``audit_events``.

Every event links to the one before it: ``hash = sha256(prev_hash + canonical JSON of the event)``, where
the canonical JSON covers ``seq, at, actor_id, actor, action, subject_type, subject_id, township_id, before,
after``. Editing, deleting or reordering an event breaks the chain at that event, and ``verify_chain`` names
the first broken link. (Removing events from the *end* of the chain cannot be told from a shorter history
without an external anchor, e.g. the last hash published elsewhere.)

Appends are serialised so the chain stays linear: on PostgreSQL by a transaction-scoped advisory lock, on
SQLite by the ``BEGIN IMMEDIATE`` that ``core.db.make_engine`` issues for every transaction. The unique
constraint on ``seq`` is the last line of defence: a racing append fails instead of forking the chain.

The last link is read once per transaction: under either lock no other writer can append until the transaction
ends, so a transaction that appends several events (a save and a submit, a decision and its consequences) reads
the newest link for the first and chains the rest on from its memory (:func:`core.db.transaction_memo`, emptied
when a transaction or savepoint ends), so an event that was rolled back is never linked to.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import enum
import hashlib
import json
import math
import uuid
from collections.abc import Iterator, Mapping, Sequence
from operator import itemgetter
from typing import Any

from sqlalchemy import Text, cast, text
from sqlalchemy import select as sa_select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from core.bulk import insert_rows
from core.db import transaction_memo
from models import AuditEvent

__all__ = [
    "ADVISORY_LOCK_KEY",
    "GENESIS_HASH",
    "SYSTEM",
    "SYSTEM_ACTOR",
    "TICK",
    "AuditActor",
    "VerifyResult",
    "EventSpec",
    "append_event",
    "append_events",
    "canonical_json",
    "chain_head",
    "cli_actor",
    "event_hash",
    "events_for",
    "jsonable",
    "record",
    "verify_chain",
]

_MAX_LEN = {"actor": 100, "action": 64, "subject_type": 32}

GENESIS_HASH = "0" * 64
"""``prev_hash`` of the first event."""

SYSTEM_ACTOR = "system:tick"
"""``actor`` of the events the system itself causes (a tick's step, a report sent back on a trigger's finding)."""


@dataclasses.dataclass(frozen=True)
class AuditActor:
    """Who an event is recorded for: a person (their user id and username) or the system (``id`` None)."""

    id: int | None
    name: str


TICK = AuditActor(None, SYSTEM_ACTOR)
"""The tick and the scheduler's own actions."""

SYSTEM = AuditActor(None, "system")
"""Writes made by duban itself outside the tick (seeding the demo county, a simulation, a benchmark)."""


def cli_actor(os_user: str) -> AuditActor:
    """A command run from a terminal: ``system:cli:<OS user>`` (the caller reads the OS user)."""
    return AuditActor(None, f"system:cli:{os_user}"[:_MAX_LEN["actor"]])

ADVISORY_LOCK_KEY = 727274
"""PostgreSQL advisory lock serialising appends (held until the appending transaction ends)."""


# --------------------------------------------------------------------------------------------------------------
# Canonical form
# --------------------------------------------------------------------------------------------------------------


def _iso_utc(value: dt.datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("naive datetime in the audit trail; pass an aware datetime")
    return value.astimezone(dt.UTC).isoformat(timespec="microseconds")


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON data that survives a database round trip unchanged.

    Aware datetimes become ISO-8601 UTC strings with microseconds (naive ones keep their wall time), dates and
    times ISO strings, enums their value, decimals and UUIDs strings, tuples and sets lists, mapping keys
    strings. Non-finite floats and other types raise, since they cannot be stored as JSON faithfully.
    """
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"non-finite number {value!r} cannot be stored in the audit trail")
        return value
    if isinstance(value, enum.Enum):
        return jsonable(value.value)
    if isinstance(value, dt.datetime):  # before dt.date: a datetime is a date
        if value.tzinfo is None:
            return value.isoformat(timespec="microseconds")
        return _iso_utc(value)
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            name = jsonable(key)
            if not isinstance(name, str):
                name = json.dumps(name, ensure_ascii=False)
            if name in out:
                raise ValueError(f"duplicate key {name!r} after conversion to JSON")
            out[name] = jsonable(item)
        return out
    if isinstance(value, set | frozenset):
        items = [jsonable(v) for v in value]
        return sorted(items, key=lambda v: json.dumps(v, sort_keys=True, ensure_ascii=False))
    if isinstance(value, Sequence) and not isinstance(value, bytes | bytearray | memoryview):
        return [jsonable(v) for v in value]
    model_dump = getattr(value, "model_dump", None)  # pydantic / SQLModel objects
    if callable(model_dump):
        return jsonable(model_dump(mode="json"))
    raise TypeError(f"{type(value).__name__} is not JSON-safe for the audit trail")


def canonical_json(
    *,
    seq: int,
    at: dt.datetime,
    actor_id: int | None,
    actor: str,
    action: str,
    subject_type: str,
    subject_id: int,
    township_id: int | None,
    before: Any,
    after: Any,
) -> str:
    """The exact text that is hashed for one event."""
    payload = {
        "seq": seq,
        "at": _iso_utc(at),
        "actor_id": actor_id,
        "actor": actor,
        "action": action,
        "subject_type": subject_type,
        "subject_id": subject_id,
        "township_id": township_id,
        "before": before,
        "after": after,
    }
    return json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def event_hash(prev_hash: str, canonical: str) -> str:
    return hashlib.sha256((prev_hash + canonical).encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------------------------------------------
# Appending
# --------------------------------------------------------------------------------------------------------------


_LAST_LINK = "audit_last_link"  # in the transaction's memo: (seq, hash) of the newest link it appended


def _locked_last_link(session: Session) -> tuple[int, str]:
    """``(seq, hash)`` of the newest link, with the append lock held until the transaction ends: taken and read
    for the transaction's first append, from the session's memory for the next ones."""
    known: tuple[int, str] | None = transaction_memo(session).get(_LAST_LINK)
    if known is not None:
        return known
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"SELECT pg_advisory_xact_lock({ADVISORY_LOCK_KEY})"))
    # SQLite: the engine opens every transaction with BEGIN IMMEDIATE, so this transaction already holds the
    # database's write lock and reads the newest committed link.
    return _last_link(session)


def chain_head(session: Session) -> tuple[int, str]:
    """``(seq, hash)`` of the newest event this session sees (``(0, GENESIS_HASH)`` before the first): a marker of
    every change. Each change appends its event in its own transaction and appends are serialised until that
    transaction ends, so the head moves with every committed change and in commit order; figures derived from the
    data stay current for as long as the head they were derived under (read before the data) is the head."""
    return _last_link(session)


_NEWEST_EVENT = sa_select(col(AuditEvent.seq), col(AuditEvent.hash)).order_by(col(AuditEvent.seq).desc()).limit(1)
"""Built once: every page that remembers figures under the chain's head reads it."""


def _last_link(session: Session) -> tuple[int, str]:
    """``(seq, hash)`` of the newest event, including ones added to this session but not flushed yet."""
    row = session.execute(_NEWEST_EVENT).first()
    last = (int(row[0]), str(row[1])) if row is not None else (0, GENESIS_HASH)
    for obj in session.new:  # pending events, in case autoflush is off
        if isinstance(obj, AuditEvent) and obj.seq > last[0]:
            last = (obj.seq, obj.hash)
    return last


def append_event(
    session: Session,
    *,
    actor_id: int | None,
    actor: str,
    action: str,
    subject_type: str,
    subject_id: int,
    township_id: int | None,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    now: dt.datetime,
) -> AuditEvent:
    """Add the next link of the chain to ``session`` (the caller commits, together with the change it records).

    ``before``/``after`` are passed through :func:`jsonable`; ``now`` must be timezone-aware.
    """
    fields = _fields(EventSpec(actor_id, actor, action, subject_type, subject_id, township_id, before, after))
    if now.tzinfo is None:
        raise ValueError("now must be a timezone-aware datetime")
    fields["at"] = now.astimezone(dt.UTC)
    last_seq, prev_hash = _locked_last_link(session)
    seq = last_seq + 1
    event = AuditEvent(**fields, seq=seq, prev_hash=prev_hash,
                       hash=event_hash(prev_hash, canonical_json(seq=seq, **fields)))
    session.add(event)
    transaction_memo(session)[_LAST_LINK] = (seq, event.hash)
    return event


@dataclasses.dataclass(frozen=True)
class EventSpec:
    """One event for :func:`append_events`: what :func:`append_event` takes besides the session and ``now``."""

    actor_id: int | None
    actor: str
    action: str
    subject_type: str
    subject_id: int
    township_id: int | None = None
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None


def _fields(spec: EventSpec) -> dict[str, Any]:
    """The event's columns but its place in the chain (``seq``, ``prev_hash``, ``hash``) and ``at``, checked."""
    for name, value in (("actor", spec.actor), ("action", spec.action), ("subject_type", spec.subject_type)):
        if len(value) > _MAX_LEN[name]:
            raise ValueError(f"{name} is longer than {_MAX_LEN[name]} characters")
    before_json = jsonable(spec.before)
    after_json = jsonable(spec.after)
    for name, value in (("before", before_json), ("after", after_json)):
        if value is not None and not isinstance(value, dict):
            raise TypeError(f"{name} must be a mapping or None")
    return {"actor_id": spec.actor_id, "actor": spec.actor, "action": spec.action,
            "subject_type": spec.subject_type, "subject_id": spec.subject_id, "township_id": spec.township_id,
            "before": before_json, "after": after_json}


def _unlinked(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in ("seq", "prev_hash", "hash")}


_EVENT_COLUMNS = ("seq", "at", "actor_id", "actor", "action", "subject_type", "subject_id", "township_id", "before",
                  "after", "prev_hash", "hash")


def append_events(session: Session, specs: Sequence[EventSpec], *, now: dt.datetime) -> int:
    """Append ``specs`` as consecutive links of the chain in one bulk insert on the session's connection (the
    caller commits, together with the changes they record): what :func:`append_event` does for each, with one
    lock and one look at the last link for all. Returns the ``seq`` of the last one (0 when ``specs`` is empty).
    """
    if not specs:
        return 0
    rows = [_fields(spec) for spec in specs]
    if now.tzinfo is None:
        raise ValueError("now must be a timezone-aware datetime")
    at = now.astimezone(dt.UTC)
    session.flush()  # events added one by one before these come first in the chain
    seq, prev_hash = _locked_last_link(session)
    for row in rows:
        seq += 1
        row["at"], row["seq"], row["prev_hash"] = at, seq, prev_hash
        prev_hash = event_hash(prev_hash, canonical_json(seq=seq, **_unlinked(row)))
        row["hash"] = prev_hash
    insert_rows(session.connection(), AuditEvent.__table__, _EVENT_COLUMNS,  # type: ignore[attr-defined]
                list(map(itemgetter(*_EVENT_COLUMNS), rows)))
    transaction_memo(session)[_LAST_LINK] = (seq, prev_hash)
    return seq


def record(session: Session, by: AuditActor, action: str, subject: tuple[str, int], *, now: dt.datetime,
           township_id: int | None = None, before: dict[str, Any] | None = None,
           after: dict[str, Any] | None = None) -> AuditEvent:
    """:func:`append_event` for an :class:`AuditActor` and a ``(subject_type, subject_id)``."""
    return append_event(session, actor_id=by.id, actor=by.name, action=action, subject_type=subject[0],
                        subject_id=subject[1], township_id=township_id, before=before, after=after, now=now)


# --------------------------------------------------------------------------------------------------------------
# Verifying
# --------------------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class VerifyResult:
    """``checked`` counts the events found intact (all of them when ``ok``, those before the break otherwise)."""

    ok: bool
    checked: int
    first_bad_seq: int | None = None
    reason: str | None = None


_COLUMNS = (
    col(AuditEvent.seq),
    col(AuditEvent.at),
    col(AuditEvent.actor_id),
    col(AuditEvent.actor),
    col(AuditEvent.action),
    col(AuditEvent.subject_type),
    col(AuditEvent.subject_id),
    col(AuditEvent.township_id),
    # Read the JSON as text and parse it here, so a hand-edited value that is not JSON is reported, not raised.
    cast(col(AuditEvent.before), Text).label("before"),
    cast(col(AuditEvent.after), Text).label("after"),
    col(AuditEvent.prev_hash),
    col(AuditEvent.hash),
)


def _batches(session: Session, batch_size: int) -> Iterator[Sequence[Any]]:
    """Events in seq order, ``batch_size`` at a time (keyset paging on seq).

    Inside a transaction the caller already opened, the pages are read in it. Otherwise each page is read in
    its own short transaction, so that on SQLite (where every transaction is BEGIN IMMEDIATE) a long
    verification never holds the write lock for more than one page.
    """
    bind = session.get_bind()
    own_transactions = isinstance(bind, Engine) and not session.in_transaction()
    last_seq: int | None = None
    while True:
        stmt = sa_select(*_COLUMNS).order_by(col(AuditEvent.seq)).limit(batch_size)
        if last_seq is not None:
            stmt = stmt.where(col(AuditEvent.seq) > last_seq)
        if own_transactions:
            assert isinstance(bind, Engine)
            with bind.connect() as conn:
                rows: Sequence[Any] = conn.execute(stmt).all()
        else:
            rows = session.execute(stmt).all()
        if not rows:
            return
        yield rows
        if len(rows) < batch_size:
            return
        last_seq = rows[-1].seq


def _load_json(raw: str | None) -> Any:
    return None if raw is None else json.loads(raw)


def _recomputed_hash(row: Any) -> str | None:
    """The hash the row's content implies, or None when the content cannot even be read."""
    try:
        canonical = canonical_json(
            seq=row.seq,
            at=row.at,
            actor_id=row.actor_id,
            actor=row.actor,
            action=row.action,
            subject_type=row.subject_type,
            subject_id=row.subject_id,
            township_id=row.township_id,
            before=_load_json(row.before),
            after=_load_json(row.after),
        )
    except (ValueError, TypeError):
        return None
    return event_hash(row.prev_hash, canonical)


def _missing(first: int, last: int) -> str:
    if first == 1:
        return (
            f"events 1–{last} are missing: the head of the chain was truncated"
            f" / 审计链开头的第1至{last}条记录缺失（被截断）"
        )
    if first == last:
        return f"event {first} is missing (deleted) / 第{first}条审计记录缺失（被删除）"
    return f"events {first}–{last} are missing (deleted) / 第{first}至{last}条审计记录缺失（被删除）"


def verify_chain(session: Session, *, batch_size: int = 1000) -> VerifyResult:
    """Walk the chain in seq order and report the first broken link.

    Detects an edited event (its hash no longer matches its content), deleted events (a gap in seq, or a
    ``prev_hash`` that is not the previous event's hash), reordered events and a truncated head. An empty
    trail is intact.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    expected_seq = 1
    prev_hash = GENESIS_HASH
    checked = 0

    def bad(seq: int, reason: str) -> VerifyResult:
        return VerifyResult(ok=False, checked=checked, first_bad_seq=seq, reason=reason)

    for rows in _batches(session, batch_size):
        for row in rows:
            seq = int(row.seq)
            if seq > expected_seq:
                return bad(expected_seq, _missing(expected_seq, seq - 1))
            if seq < expected_seq:  # only possible without the unique constraint on seq
                return bad(seq, f"event {seq} appears more than once / 第{seq}条审计记录重复")
            content_ok = _recomputed_hash(row) == row.hash
            link_ok = row.prev_hash == prev_hash
            if not content_ok and not link_ok:
                return bad(
                    seq,
                    f"event {seq} is out of order or was altered (its prev_hash does not link to the previous event"
                    f" and its hash does not match) / 第{seq}条审计记录顺序被调换或被篡改",
                )
            if not link_ok:
                if seq == 1:
                    return bad(
                        1,
                        "event 1 does not start from the genesis hash: earlier events were removed"
                        " / 第1条审计记录不是审计链的起点（之前的记录被删除）",
                    )
                return bad(
                    seq,
                    f"event {seq} does not link to event {seq - 1} (prev_hash mismatch): event {seq - 1} was"
                    f" replaced, or events were deleted or reordered"
                    f" / 第{seq}条审计记录与第{seq - 1}条不衔接（前一条被替换，或有记录被删除、调换）",
                )
            if not content_ok:
                return bad(seq, f"event {seq} was edited (hash mismatch) / 第{seq}条审计记录被修改")
            prev_hash = row.hash
            expected_seq += 1
            checked += 1
    return VerifyResult(ok=True, checked=checked)


# --------------------------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------------------------


def events_for(
    session: Session,
    subject_type: str | None,
    subject_id: int | None,
    limit: int = 100,
    offset: int = 0,
) -> list[AuditEvent]:
    """Events in seq order, optionally only those about one subject type and/or subject id."""
    if limit < 0 or offset < 0:
        raise ValueError("limit and offset must not be negative")
    stmt = select(AuditEvent)
    if subject_type is not None:
        stmt = stmt.where(col(AuditEvent.subject_type) == subject_type)
    if subject_id is not None:
        stmt = stmt.where(col(AuditEvent.subject_id) == subject_id)
    stmt = stmt.order_by(col(AuditEvent.seq)).offset(offset).limit(limit)
    return list(session.exec(stmt).all())
