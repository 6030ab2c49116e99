"""Anchors of the audit chain: its head (seq and hash) published where database access cannot rewrite it.

The hash chain (:mod:`tasks.audit`) shows any edit, deletion or reordering *inside* the trail, but not events
removed from its end. An anchor closes that gap: the head is appended as one JSON line to a file outside the
database's directory and mailed to the administrators; :func:`verify_anchors` then proves that every anchored
event is still there with the hash it had.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select as sa_select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from domain.errors import ValidationFailed
from models import AuditEvent, User
from notifications.outbox import absolute_url, enqueue_mail
from tasks.audit import GENESIS_HASH, AuditActor, record

__all__ = ["Anchor", "AnchorCheck", "append_anchor", "chain_head", "database_dir", "read_anchors", "verify_anchors"]


@dataclass(frozen=True)
class Anchor:
    seq: int
    hash: str
    at: str


@dataclass(frozen=True)
class AnchorCheck:
    """``checked`` anchors were found intact; otherwise ``reason`` names the first that is not."""

    ok: bool
    checked: int
    reason: str | None = None


def database_dir(engine: Engine) -> Path | None:
    """The SQLite database's directory (None on a server database), where an anchor file must not be."""
    url = engine.url
    return Path(url.database).parent if url.get_backend_name() == "sqlite" and url.database else None


def chain_head(session: Session) -> tuple[int, str]:
    """``(seq, hash)`` of the newest event (``(0, GENESIS_HASH)`` for an empty trail)."""
    row = session.execute(
        sa_select(col(AuditEvent.seq), col(AuditEvent.hash)).order_by(col(AuditEvent.seq).desc()).limit(1)
    ).first()
    return (int(row[0]), str(row[1])) if row is not None else (0, GENESIS_HASH)


def _outside(file: Path, database_dir: Path | None) -> None:
    if database_dir is not None and file.resolve().is_relative_to(database_dir.resolve()):
        raise ValidationFailed(f"锚点文件 {file} 在数据库所在目录中：请设置 DUBAN_AUDIT_ANCHOR_FILE 为该目录以外的位置",
                               errors=[{"field": "audit_anchor_file", "message": "inside the database directory"}])


def append_anchor(session: Session, file: Path, now: dt.datetime, *, by: AuditActor,
                  database_dir: Path | None = None) -> Anchor:
    """Append the chain's head to ``file`` (one JSON line), queue it to every active administrator with an
    address and record the anchoring as the next event of the trail, by ``by`` (the caller commits, which sends
    the mail through the outbox). The anchor names the head *before* that event: the event itself is covered by
    the next anchor."""
    _outside(file, database_dir)
    seq, head = chain_head(session)
    anchor = Anchor(seq=seq, hash=head, at=now.astimezone(dt.UTC).isoformat(timespec="seconds"))
    file.parent.mkdir(parents=True, exist_ok=True)
    with file.open("a", encoding="utf-8") as out:
        out.write(json.dumps({"seq": anchor.seq, "hash": anchor.hash, "at": anchor.at}) + "\n")
    for admin in session.exec(select(User).where(User.role == "admin", col(User.active).is_(True))):
        enqueue_mail(session, key=f"audit-anchor:{seq}:{head[:16]}:{admin.id}", to=admin, template="audit_anchor",
                     context={"title": "审计链锚点", "seq": seq, "hash": head, "anchored_at": now.date(),
                              "anchor_file": str(file), "link": absolute_url("/api/v1/audit/verify")}, now=now)
    record(session, by, "audit.anchor", ("audit_event", seq), now=now,
           after={"seq": seq, "hash": head, "file": str(file)})
    return anchor


def read_anchors(file: Path) -> list[Anchor]:
    """The anchors of ``file`` in the order written; a line that is not an anchor is refused with its number."""
    anchors = []
    for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            anchors.append(Anchor(seq=int(data["seq"]), hash=str(data["hash"]), at=str(data.get("at", ""))))
        except (ValueError, KeyError, TypeError):
            raise ValidationFailed(f"{file.name} 第{number}行不是锚点记录（应为 JSON：seq、hash、at）") from None
    return anchors


def verify_anchors(session: Session, anchors: list[Anchor]) -> AnchorCheck:
    """Every anchored event must still be in the trail with its anchored hash: a missing one means events were
    removed from the end since that anchor (or the trail was rewritten)."""
    hashes = dict(session.execute(
        sa_select(col(AuditEvent.seq), col(AuditEvent.hash)).where(col(AuditEvent.seq).in_({a.seq for a in anchors}))
    ).tuples().all())
    head, _ = chain_head(session)
    for checked, anchor in enumerate(anchors):
        if anchor.seq == 0:
            continue
        found = hashes.get(anchor.seq)
        if found is None:
            return AnchorCheck(False, checked,
                               f"anchor of {anchor.at} names event {anchor.seq} but the trail ends at {head}: events"
                               f" {head + 1}–{anchor.seq} or more were removed from its end"
                               f" / 锚点（{anchor.at}）记录了第{anchor.seq}条，审计链只到第{head}条：末尾的记录被删除")
        if found != anchor.hash:
            return AnchorCheck(False, checked,
                               f"event {anchor.seq} no longer has the hash anchored on {anchor.at}: the trail was"
                               f" rewritten / 第{anchor.seq}条审计记录的哈希值与锚点（{anchor.at}）不符：审计链被改写")
    return AnchorCheck(True, len(anchors))
