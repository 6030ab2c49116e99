"""The mail outbox for administrators: what waits, what failed for good, and retrying it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.deps import ClockDep, CurrentPrincipal, SessionDep
from api.routes.problems import READ, problems
from api.types import DbId, DbOffset
from notifications.delivery import STATUSES, retry_dead
from tasks.reads import outbox as reads

router = APIRouter(prefix="/api/v1/outbox", tags=["outbox"], responses=READ)


@router.get("", summary="Outbox messages by status (dead letters: status=dead), with counts")
def list_outbox(
    session: SessionDep, principal: CurrentPrincipal,
    status: Annotated[str | None, Query(pattern="^(" + "|".join(STATUSES) + ")$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[DbOffset, Query()] = 0,
) -> dict[str, Any]:
    return reads.list_outbox(session, principal, status=status, limit=limit, offset=offset)


@router.post("/{outbox_id}/retry", summary="Send a dead-lettered message again", responses=problems(409))
def retry(outbox_id: DbId, session: SessionDep, principal: CurrentPrincipal, clock: ClockDep) -> dict[str, Any]:
    principal.require_role("admin")
    message = retry_dead(session, outbox_id, clock.now())
    session.commit()
    return reads.message_public(message)
