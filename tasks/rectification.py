"""Acceptance (验收) and closing (销号) of rectified villages, and the county's changes to the approved list (a
village added, or one still rectifying taken off), audited and version-checked. A change to the list is
followed at once by what the villages owe (``tasks.village_list.follow``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from typing import Any

from sqlmodel import Session, col, select

from core.clock import china_date
from domain import rectification as rules
from domain.errors import Conflict, PermissionDenied, ValidationFailed
from domain.vocabulary import RectificationStatus
from models import Campaign, OrgUnit, Stage, VillageRectification
from tasks import review, triggers, village_list
from tasks.accounts import Principal
from tasks.audit import append_event
from tasks.locking import Audit, require_version, save_versioned
from tasks.registry import definition_of
from tasks.scope import visible, visible_campaign

WHAT = "整顿村记录"  # how a stale-version answer names a rectification


def _state(row: VillageRectification) -> rules.RectificationState:
    return rules.RectificationState(
        status=row.status, failed_acceptances=row.failed_acceptances, relapses=row.relapses,
        accepted_on=row.accepted_on, consolidation_ends_on=row.consolidation_ends_on, closed_on=row.closed_on,
        listed_on=row.listed_on, removed_on=row.removed_on,
    )


def load(session: Session, principal: Principal, rectification_id: int) -> tuple[VillageRectification, Campaign]:
    """The rectification and its campaign if the caller may see its township; 404 otherwise (never 403)."""
    row = session.get(VillageRectification, rectification_id)
    campaign = visible_campaign(session, principal, row, f"没有编号为 {rectification_id} 的整顿村记录")
    assert row is not None  # its campaign was found
    return row, campaign


def transition(session: Session, principal: Principal, now: dt.datetime, rectification_id: int, *, action: str,
               version: int | None, comment: str | None = None) -> VillageRectification:
    """apply (the township) | accept | fail | close | relapse | remove (the county)."""
    row, campaign = load(session, principal, rectification_id)
    expected = require_version(row, version, what=WHAT)
    if action == "apply":
        if not (principal.user.role == "submitter" and principal.user.org_unit_id == campaign.township_id):
            raise PermissionDenied("只有本乡镇的填报人员可以申请验收")
    elif action == "remove":
        _county_admin(principal)
    elif not (principal.user.role == "admin" or (principal.user.role == "reviewer" and principal.user.level == "county")):
        raise PermissionDenied("验收、销号和认定反复回潮由县委组织部负责")
    state = _state(row)
    new = _next(state, action, china_date(now), campaign, comment or "")
    values: dict[str, Any] = asdict(new)
    save_versioned(session, row, expected, values | {"note": (comment or "").strip() or row.note}, what=WHAT,
                   audit=Audit(principal, f"rectification.{action}", "rectification", campaign.township_id,
                               asdict(state), values | {"comment": (comment or "").strip() or None}, now))
    if action == "apply":
        triggers.measures_overdue.resolve(session, now, row.id or 0)
    elif action == "relapse":
        triggers.fire(session, triggers.Relapsed(principal, campaign, definition_of(campaign), now,
                                                 rectification=row, comment=comment or ""))
    elif action == "remove":
        village_list.stop_rectification(session, row, now)
        _follow(session, principal, campaign, now)
    return row


def _county_admin(principal: Principal) -> None:
    if principal.user.role != "admin":
        raise PermissionDenied("整顿村名单的调整由县委组织部负责")


def _next(state: rules.RectificationState, action: str, today: dt.date, campaign: Campaign,
          comment: str) -> rules.RectificationState:
    if action == "apply":
        return rules.apply_for_acceptance(state)
    if action in ("accept", "fail"):
        days = definition_of(campaign).consolidation_days or 365
        return rules.inspect(state, action == "accept", today, days)
    if action == "close":
        return rules.close_out(state, today)
    if action == "relapse":
        return rules.relapse(state, comment)
    if action == "remove":
        return rules.remove(state, comment, today)
    raise ValidationFailed("action 只能是 apply、accept、fail、close、relapse 或 remove",
                           errors=[{"field": "action", "message": "unknown"}])


def add_village(session: Session, principal: Principal, now: dt.datetime, *, campaign_id: int, village: str,
                comment: str) -> VillageRectification:
    """The county adds a village to a campaign's approved list (e.g. a known weak village the township left out,
    found at the county's check, 000 §四(三)); a village it took off comes back on. What the village owes follows."""
    found = session.get(Campaign, campaign_id)
    campaign = visible(principal, found, found.township_id if found else None, f"没有编号为 {campaign_id} 的督办任务")
    _county_admin(principal)
    definition = definition_of(campaign)
    if not village_list.list_form(definition) or not definition.consolidation_days:
        raise ValidationFailed(f"“{definition.name}”没有后进薄弱村名单",
                               errors=[{"field": "campaign_id", "message": "campaign has no village list"}])
    if not village_list.list_approved(session, campaign, definition):
        raise Conflict("本乡镇的后进薄弱村名单尚未经县委组织部审核通过：请在审核名单时退回修改，通过后再调整名单")
    if not comment.strip():
        raise ValidationFailed("请说明列入名单的理由", errors=[{"field": "comment", "message": "required"}])
    unit = session.exec(select(OrgUnit).where(OrgUnit.code == village, OrgUnit.kind == "village",
                                              OrgUnit.parent_id == campaign.township_id)).first()
    if unit is None:
        raise ValidationFailed(f"村编码 {village} 不是本乡镇的村", errors=[{"field": "village", "message": "unknown village"}])
    row = session.exec(select(VillageRectification).where(VillageRectification.campaign_id == campaign.id,
                                                          VillageRectification.village_id == unit.id)).first()
    today = china_date(now)
    if row is None:
        row = VillageRectification(campaign_id=campaign.id or 0, village_id=unit.id or 0, listed_on=today,
                                   status=RectificationStatus.RECTIFYING, note=comment.strip())
        session.add(row)
        session.flush()
        append_event(session, actor_id=principal.user.id, actor=principal.user.username, action="rectification.add",
                     subject_type="rectification", subject_id=row.id or 0, township_id=campaign.township_id, before=None,
                     after={"village": unit.code, "status": row.status, "listed_on": today, "comment": comment.strip()},
                     now=now)
    else:
        state = _state(row)
        values = asdict(rules.relist(state, today))
        save_versioned(session, row, row.version, values | {"note": comment.strip()}, what=WHAT,
                       audit=Audit(principal, "rectification.add", "rectification", campaign.township_id, asdict(state),
                                   values | {"comment": comment.strip()}, now))
    _follow(session, principal, campaign, now)
    return row


def _follow(session: Session, principal: Principal, campaign: Campaign, now: dt.datetime) -> None:
    """What the listed villages owe follows the list; a gate that a removal completed passes."""
    definition = definition_of(campaign)
    village_list.follow(session, campaign, definition, now, (principal.user.id, principal.user.username))
    for stage in session.exec(select(Stage).where(Stage.campaign_id == campaign.id, col(Stage.gate_key).is_not(None))):
        review.pass_stage_if_complete(session, principal, stage, stage.gate_key or "", now)
