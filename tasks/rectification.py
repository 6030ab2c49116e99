"""Acceptance (验收) and closing (销号) of rectified villages, audited and version-checked."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from typing import Any

from sqlmodel import Session

from core.clock import china_date
from domain import rectification as rules
from domain.errors import PermissionDenied, ValidationFailed
from models import Campaign, VillageRectification
from tasks import triggers
from tasks.accounts import Principal
from tasks.locking import Audit, require_version, save_versioned
from tasks.registry import get_definition
from tasks.scope import visible_campaign

WHAT = "整顿村记录"  # how a stale-version answer names a rectification


def _state(row: VillageRectification) -> rules.RectificationState:
    return rules.RectificationState(
        status=row.status, failed_acceptances=row.failed_acceptances, relapses=row.relapses,
        accepted_on=row.accepted_on, consolidation_ends_on=row.consolidation_ends_on, closed_on=row.closed_on,
    )


def load(session: Session, principal: Principal, rectification_id: int) -> tuple[VillageRectification, Campaign]:
    """The rectification and its campaign if the caller may see its township; 404 otherwise (never 403)."""
    row = session.get(VillageRectification, rectification_id)
    campaign = visible_campaign(session, principal, row, f"没有编号为 {rectification_id} 的整顿村记录")
    assert row is not None  # its campaign was found
    return row, campaign


def transition(session: Session, principal: Principal, now: dt.datetime, rectification_id: int, *, action: str,
               version: int | None, comment: str | None = None) -> VillageRectification:
    """apply (the township) | accept | fail | close | relapse (the county)."""
    row, campaign = load(session, principal, rectification_id)
    expected = require_version(row, version, what=WHAT)
    today = china_date(now)
    actor = principal.user
    state = _state(row)
    if action == "apply":
        if not (actor.role == "submitter" and actor.org_unit_id == campaign.township_id):
            raise PermissionDenied("只有本乡镇的填报人员可以申请验收")
        new = rules.apply_for_acceptance(state)
    else:
        if not (actor.role == "admin" or (actor.role == "reviewer" and actor.level == "county")):
            raise PermissionDenied("验收、销号和认定反复回潮由县委组织部负责")
        if action in ("accept", "fail"):
            days = get_definition(campaign.definition_key).consolidation_days or 365
            new = rules.inspect(state, action == "accept", today, days)
        elif action == "close":
            new = rules.close_out(state, today)
        elif action == "relapse":
            new = rules.relapse(state, comment or "")
        else:
            raise ValidationFailed("action 只能是 apply、accept、fail、close 或 relapse", errors=[{"field": "action", "message": "unknown"}])
    values: dict[str, Any] = asdict(new)
    save_versioned(session, row, expected, values | {"note": (comment or "").strip() or row.note}, what=WHAT,
                   audit=Audit(principal, f"rectification.{action}", "rectification", campaign.township_id,
                               asdict(state), values | {"comment": (comment or "").strip() or None}, now))
    if action == "apply":
        triggers.measures_overdue.resolve(session, now, row.id or 0)
    elif action == "relapse":
        triggers.fire(session, triggers.Relapsed(principal, campaign, get_definition(campaign.definition_key), now,
                                                 rectification=row, comment=comment or ""))
    return row
