"""The mail outbox for administrators: what waits, what failed for good, and retrying it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlmodel import col, select

from api.deps import ClockDep, CurrentPrincipal, SessionDep
from api.routes.problems import READ, problems
from api.types import DbId, DbOffset
from models import OutboxMessage
from notifications.delivery import STATUSES, outbox_summary, retry_dead

router = APIRouter(prefix="/api/v1/outbox", tags=["outbox"], responses=READ)


def _public(m: OutboxMessage) -> dict[str, Any]:
    return {
        "id": m.id, "to": m.to_addr, "subject": m.subject, "status": m.status, "attempts": m.attempts,
        "last_error": m.last_error, "next_attempt_at": m.next_attempt_at, "created_at": m.created_at,
        "sent_at": m.sent_at, "message_id": m.message_id,
    }


@router.get("", summary="Outbox messages by status (dead letters: status=dead), with counts")
def list_outbox(
    session: SessionDep, principal: CurrentPrincipal,
    status: Annotated[str | None, Query(pattern="^(" + "|".join(STATUSES) + ")$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[DbOffset, Query()] = 0,
) -> dict[str, Any]:
    principal.require_role("admin")
    stmt = select(OutboxMessage)
    if status:
        stmt = stmt.where(OutboxMessage.status == status)
    rows = session.exec(stmt.order_by(col(OutboxMessage.id).desc()).limit(limit).offset(offset)).all()
    return {"counts": outbox_summary(session), "items": [_public(m) for m in rows]}


@router.post("/{outbox_id}/retry", summary="Send a dead-lettered message again", responses=problems(409))
def retry(outbox_id: DbId, session: SessionDep, principal: CurrentPrincipal, clock: ClockDep) -> dict[str, Any]:
    principal.require_role("admin")
    message = retry_dead(session, outbox_id, clock.now())
    session.commit()
    return _public(message)
