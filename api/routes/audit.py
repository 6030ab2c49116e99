"""The audit trail, for administrators."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.deps import CurrentPrincipal, SessionDep
from api.routes.problems import READ
from api.types import DB_INT_MAX, DbOffset
from domain.errors import ValidationFailed
from tasks.audit import events_for, verify_chain

router = APIRouter(prefix="/api/v1/audit", tags=["audit"], responses=READ)


@router.get("", summary="Audit events, optionally for one subject such as submission:12")
def list_audit(
    session: SessionDep, principal: CurrentPrincipal,
    subject: Annotated[str | None, Query(max_length=64, description="TYPE:ID, e.g. submission:12")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    offset: Annotated[DbOffset, Query()] = 0,
) -> dict[str, Any]:
    principal.require_role("admin")
    subject_type = subject_id = None
    if subject is not None:
        match = re.fullmatch(r"([a-z_]+):(\d+)", subject)
        if not match or int(match.group(2)) > DB_INT_MAX:
            raise ValidationFailed(f"subject 应为 类型:编号（编号不超过 {DB_INT_MAX}），例如 submission:12", errors=[{"field": "subject", "message": "TYPE:ID"}])
        subject_type, subject_id = match.group(1), int(match.group(2))
    events = events_for(session, subject_type, subject_id, limit, offset)
    return {"items": [
        {"seq": e.seq, "at": e.at, "actor": e.actor, "action": e.action, "subject": f"{e.subject_type}:{e.subject_id}",
         "before": e.before, "after": e.after, "hash": e.hash}
        for e in events
    ]}


@router.get("/verify", summary="Check the hash chain of the whole audit trail")
def verify(session: SessionDep, principal: CurrentPrincipal) -> dict[str, Any]:
    principal.require_role("admin")
    result = verify_chain(session)
    return {"ok": result.ok, "checked": result.checked, "first_bad_seq": result.first_bad_seq, "reason": result.reason}
