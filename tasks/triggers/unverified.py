"""不经调查核实，随意上报 (000 §四(三)): a report whose "已逐村调查核实" answer (the trigger's ``field``) is not
yes, or which a county reviewer, after checking, marks unverified (``mark_unverified``). The escalation
waits for the county's check before a case opens.

Event-based: fired when a report is submitted (``Submitted``, from ``tasks.review.submit_submission``),
and by its own action ``mark_unverified`` (``POST /api/v1/submissions/{id}/unverified``).
"""

from __future__ import annotations

import datetime as dt

from sqlmodel import Session, select

from domain.definitions import Definition
from domain.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from domain.triggers import UNVERIFIED
from models import Campaign, Escalation, OrgUnit, Submission
from tasks import escalation
from tasks.accounts import Principal
from tasks.triggers.base import EventTrigger, register
from tasks.triggers.events import Submitted


def fire(session: Session, event: Submitted) -> Escalation | None:
    """A report submitted without its verification answer being yes opens an escalation."""
    sub, spec = event.submission, event.definition.escalation.triggers.of(UNVERIFIED)
    form = event.definition.form(sub.form_key)
    field = next((f for f in form.fields if f.key == spec.field), None) if spec.field else None
    if field is None or sub.data.get(field.key) is True:
        return None
    township = session.get(OrgUnit, sub.township_id)
    if township is None:
        return None
    return escalation.open_for_submission(
        session, event.principal, event.definition, event.campaign, township, sub, UNVERIFIED.key, event.now,
        reason=f"“{sub.title}”（第{sub.round}轮）报送时未确认“{field.label}”，属不经调查核实上报",
        evidence={"round": sub.round, "field": field.key, "findings": [f"“{field.label}”未确认"]})


def mark_unverified(session: Session, principal: Principal, now: dt.datetime, sub: Submission, definition: Definition,
                    campaign: Campaign, comment: str) -> Escalation:
    """A county reviewer, after checking, marks a report as not verified (不经调查核实，随意上报)."""
    if not (principal.user.role == "admin" or (principal.user.role == "reviewer" and principal.user.level == "county")):
        raise PermissionDenied("只有县委组织部可以认定报告未经调查核实")
    if principal.user.id is not None and principal.user.id in (sub.submitted_by, sub.created_by):
        raise PermissionDenied("不能认定自己报送的材料")
    if sub.status in ("draft", "withdrawn"):
        raise Conflict("草稿或已撤回的材料不能认定为未经核实")
    if not definition.escalation.triggers.of(UNVERIFIED).enabled:
        raise Conflict(f"“{definition.name}”未启用“未经调查核实”升级")
    if not comment.strip():
        raise ValidationFailed("请说明核查发现的问题", errors=[{"field": "comment", "message": "required"}])
    if session.exec(select(Escalation.id).where(Escalation.key == UNVERIFIED.step_key(sub.id or 0, sub.round))).first() is not None:
        raise Conflict(f"“{sub.title}”第{sub.round}轮已被认定为未经调查核实")
    township = session.get(OrgUnit, sub.township_id)
    if township is None:
        raise NotFound("乡镇不存在")
    return escalation.open_for_submission(
        session, principal, definition, campaign, township, sub, UNVERIFIED.key, now,
        reason=f"经县委组织部检查核实，“{sub.title}”（第{sub.round}轮）未经调查核实、随意上报：{comment.strip()}",
        evidence={"round": sub.round, "findings": [comment.strip()], "marked_by": principal.user.username})


TRIGGER = register(EventTrigger(UNVERIFIED, Submitted, fire))
