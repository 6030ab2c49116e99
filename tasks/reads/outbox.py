"""The mail outbox as the administrators see it: messages by status, newest first, with counts."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from models import OutboxMessage
from notifications.delivery import outbox_summary
from tasks.accounts import Principal
from tasks.reads import where_given


def message_public(m: OutboxMessage) -> dict[str, Any]:
    return {
        "id": m.id, "channel": m.channel, "to": m.to_addr, "subject": m.subject, "status": m.status, "attempts": m.attempts,
        "last_error": m.last_error, "next_attempt_at": m.next_attempt_at, "created_at": m.created_at,
        "sent_at": m.sent_at, "message_id": m.message_id,
    }


def list_outbox(session: Session, principal: Principal, *, status: str | None = None, limit: int = 100,
                offset: int = 0) -> dict[str, Any]:
    """Messages (of one status, if given) newest first and the count per status; administrators only."""
    principal.require_role("admin")
    stmt = where_given(select(OutboxMessage), (OutboxMessage.status, status or None))
    rows = session.exec(stmt.order_by(col(OutboxMessage.id).desc()).limit(limit).offset(offset)).all()
    return {"counts": outbox_summary(session), "items": [message_public(m) for m in rows]}
