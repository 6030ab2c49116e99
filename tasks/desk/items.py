"""Assigning items (交办) to townships and signing for them (签收): each recipient's deadlines are obligations in
the desk's container campaigns (see ``tasks.desk``), so the tick serves them like any campaign's."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from core.clock import china_date
from domain import desk as rules
from domain.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from domain.review import may_submit
from domain.vocabulary import CampaignStatus, ItemFeedback, ObligationStatus, StageStatus
from models import Campaign, Obligation, OrgUnit, Stage
from models.desk import AssignedItem, ItemIn, ItemRecipient
from tasks import tick, triggers
from tasks.accounts import Principal
from tasks.audit import append_event, jsonable
from tasks.calendar import load_work_calendar
from tasks.desk.settings import ACK_RULE, CLOSING_RULES, FEEDBACK_RULE, ITEMS, SIGNING, desk_settings, item_number
from tasks.registry import get_definition
from tasks.scope import in_scope, visible


def desk_event(session: Session, principal: Principal, action: str, subject_type: str, subject_id: int,
           township_id: int | None, before: dict[str, Any] | None, after: dict[str, Any], now: dt.datetime) -> None:
    append_event(session, actor_id=principal.user.id, actor=principal.user.username, action=action,
                 subject_type=subject_type, subject_id=subject_id, township_id=township_id, before=jsonable(before),
                 after=jsonable(after), now=now)


def container(session: Session, definition_key: str, township_id: int, year: int, now: dt.datetime) -> Campaign:
    """The township's container campaign of a desk definition for ``year``, created on first use with its one
    stage (the unique key of campaigns makes a concurrent creation fail, not duplicate)."""
    found = session.exec(select(Campaign).where(Campaign.definition_key == definition_key,
                                                Campaign.township_id == township_id, Campaign.year == year)).first()
    if found is not None:
        return found
    definition = get_definition(definition_key)
    campaign = Campaign(definition_key=definition_key, definition_version=definition.version, township_id=township_id,
                        year=year, status=CampaignStatus.ACTIVE, launched_at=now, calendar_warnings=[])
    session.add(campaign)
    session.flush()
    for seq, spec in enumerate(definition.stages, start=1):
        session.add(Stage(campaign_id=campaign.id or 0, key=spec.key, name=spec.name, seq=seq,
                          opens_on=spec.opens.resolve(year), closes_on=spec.closes.resolve(year),
                          status=StageStatus.OPEN))
    session.flush()
    return campaign


def _recipients(session: Session, body: ItemIn) -> list[OrgUnit]:
    """The townships named (every township with ``all_townships`` or none named); unknown codes are a 422."""
    stmt = select(OrgUnit).where(OrgUnit.kind == "township").order_by(col(OrgUnit.code))
    if body.all_townships or not body.townships:
        return list(session.exec(stmt))
    wanted = list(dict.fromkeys(body.townships))
    found = {u.code: u for u in session.exec(stmt.where(col(OrgUnit.code).in_(wanted)))}
    unknown = [code for code in wanted if code not in found]
    if unknown:
        raise ValidationFailed(f"以下编码不是乡镇：{'、'.join(unknown)}；交办对象只能是乡镇",
                               errors=[{"field": "townships", "message": f"unknown: {', '.join(unknown)}"}])
    return [found[code] for code in wanted]


def _check_deadline(body: ItemIn, today: dt.date) -> None:
    if (body.due_on is None) == (body.due_workdays is None):
        raise ValidationFailed("请填写办理期限：一个具体日期（due_on），或签收后的工作日数（due_workdays），二选一",
                               errors=[{"field": "due_on", "message": "exactly one of due_on, due_workdays"}])
    if body.due_on is not None and body.due_on <= today:
        raise ValidationFailed(f"办理期限{body.due_on.isoformat()}须晚于今天（{today.isoformat()}）",
                               errors=[{"field": "due_on", "message": "not after today"}])


def _obligation(campaign: Campaign, stage_id: int | None, key: str, rule: str, kind: str, title: str, period: str,
                township_id: int, opens_on: dt.date, due_on: dt.date) -> Obligation:
    return Obligation(campaign_id=campaign.id or 0, stage_id=stage_id, key=key, rule_key=rule, kind=kind,
                      title=title[:200], subject_id=township_id, period=period, opens_on=opens_on,
                      nominal_due_on=due_on, due_on=due_on, policy="keep", status=ObligationStatus.SCHEDULED)


def _stage_id(session: Session, campaign: Campaign) -> int | None:
    return session.exec(select(Stage.id).where(Stage.campaign_id == campaign.id)).first()


def _write_recipient(session: Session, item: AssignedItem, township: OrgUnit, today: dt.date, ack_due: dt.date,
                     due_on: dt.date, now: dt.datetime) -> ItemRecipient:
    """One recipient: its sign-for deadline, its 办结报告 deadline and its periodic feedback deadlines."""
    period = item_number(item.year, item.seq)
    signing = container(session, SIGNING, township.id or 0, item.year, now)
    items = container(session, ITEMS, township.id or 0, item.year, now)
    ack = _obligation(signing, _stage_id(session, signing), f"item:{item.id}:ack", ACK_RULE, "checkpoint",
                      f"签收：{item.title}", period, township.id or 0, today, ack_due)
    closing = _obligation(items, _stage_id(session, items), f"item:{item.id}", CLOSING_RULES[item.review], "deliverable",
                          item.title, period, township.id or 0, today, due_on)
    session.add_all([ack, closing])
    for day in rules.feedback_dates(ItemFeedback(item.feedback), today, due_on):
        session.add(_obligation(items, closing.stage_id, f"item:{item.id}:feedback:{day.isoformat()}", FEEDBACK_RULE,
                                "deliverable", f"进展反馈：{item.title}", period, township.id or 0, today, day))
    session.flush()
    recipient = ItemRecipient(item_id=item.id or 0, township_id=township.id or 0, obligation_id=closing.id or 0,
                              ack_obligation_id=ack.id or 0)
    session.add(recipient)
    return recipient


def check_item(session: Session, body: ItemIn, today: dt.date) -> list[OrgUnit]:
    """An item's deadline and townships as the rules want them (422 in Chinese otherwise); its townships."""
    _check_deadline(body, today)
    return _recipients(session, body)


def assign(session: Session, principal: Principal, now: dt.datetime, body: ItemIn) -> AssignedItem:
    """Assign an item to its townships (administrators): the item, numbered per year, and per township its
    deadlines, opened at once (the request mails go out in this transaction)."""
    principal.require_role("admin")
    today = china_date(now)
    townships = check_item(session, body, today)
    settings = desk_settings()
    calendar = load_work_calendar(session)
    ack_workdays = settings.ack_workdays if body.ack_workdays is None else body.ack_workdays
    ack_due = calendar.add_workdays(today, ack_workdays)
    due_on = body.due_on or calendar.add_workdays(ack_due, body.due_workdays or 0)
    seq = int(session.exec(select(func.max(AssignedItem.seq)).where(AssignedItem.year == today.year)).one() or 0) + 1
    item = AssignedItem(
        year=today.year, seq=seq, title=body.title, source=body.source, document_number=body.document_number,
        requirement=body.requirement, due_on=body.due_on, due_workdays=body.due_workdays, feedback=body.feedback,
        review=body.review, ack_workdays=ack_workdays,
        max_extensions=settings.max_extensions if body.max_extensions is None else body.max_extensions,
        created_by=principal.user.id or 0, created_at=now)
    session.add(item)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise Conflict("另一份交办事项刚刚占用了同一编号，请重新提交") from None
    for township in townships:
        _write_recipient(session, item, township, today, ack_due, due_on, now)
    session.flush()
    desk_event(session, principal, "desk.assign", "assigned_item", item.id or 0, None, None, {
        "number": item_number(item.year, item.seq), "title": item.title, "source": item.source,
        "townships": [t.code for t in townships], "ack_due_on": ack_due, "due_on": due_on, "feedback": item.feedback,
        "review": item.review}, now)
    for definition_key in (SIGNING, ITEMS):
        for township in townships:
            tick.open_obligations(session, now, container(session, definition_key, township.id or 0, item.year, now).id)
    return item


def load_recipient(session: Session, principal: Principal, recipient_id: int) -> ItemRecipient:
    """A recipient the caller may see (404 otherwise, the same for one of another township)."""
    recipient = session.get(ItemRecipient, recipient_id)
    return visible(principal, recipient, recipient.township_id if recipient else None,
                   f"没有编号为 {recipient_id} 的交办对象")


def load_item(session: Session, principal: Principal, item_id: int) -> AssignedItem:
    """An item the caller may see: the county sees all, a township those it received."""
    item = session.get(AssignedItem, item_id)
    if item is not None and principal.townships is not None:
        mine = session.exec(select(ItemRecipient.id).where(ItemRecipient.item_id == item_id,
                                                           in_scope(principal, ItemRecipient.township_id))).first()
        item = item if mine else None
    if item is None:
        raise NotFound(f"没有编号为 {item_id} 的交办事项")
    return item


def mark_signed(session: Session, ack: Obligation, now: dt.datetime) -> None:
    """A sign-for deadline is met (or late: its climb stops and records how late)."""
    today = china_date(now)
    ack.status = ObligationStatus.MET if today <= ack.due_on else ObligationStatus.LATE
    ack.met_on, ack.version = today, ack.version + 1
    session.add(ack)
    triggers.overdue.resolve(session, now, ack.id or 0)


def acknowledge(session: Session, principal: Principal, now: dt.datetime, recipient_id: int) -> ItemRecipient:
    """签收: the township's submitter signs for the item; the time is kept, the sign-for deadline is met (or
    late: its climb stops), and a deadline counted from signing is set from today."""
    recipient = load_recipient(session, principal, recipient_id)
    if not may_submit(principal.actor, recipient.township_id):
        raise PermissionDenied("只有本乡镇的填报人员可以签收交办事项")
    if recipient.acknowledged_at is not None:
        raise Conflict(f"该事项已于{china_date(recipient.acknowledged_at).isoformat()}签收，无需重复签收")
    today = china_date(now)
    recipient.acknowledged_at, recipient.acknowledged_by = now, principal.user.id
    recipient.version += 1
    session.add(recipient)
    ack = session.get(Obligation, recipient.ack_obligation_id)
    assert ack is not None
    mark_signed(session, ack, now)
    item = session.get(AssignedItem, recipient.item_id)
    closing = session.get(Obligation, recipient.obligation_id)
    assert item is not None and closing is not None
    if item.due_workdays and closing.status in (ObligationStatus.SCHEDULED, ObligationStatus.OPEN):
        closing.due_on = closing.nominal_due_on = load_work_calendar(session).add_workdays(today, item.due_workdays)
        closing.version += 1
        session.add(closing)
    desk_event(session, principal, "desk.acknowledge", "item_recipient", recipient.id or 0, recipient.township_id, None,
           {"item_id": item.id, "acknowledged_at": now, "on_time": ack.status == ObligationStatus.MET,
            "due_on": closing.due_on}, now)
    return recipient


def attach_source(session: Session, principal: Principal, now: dt.datetime, item_id: int, *, filename: str,
                  content_type: str, content: bytes) -> AssignedItem:
    """The item's source document (the 批示, minutes or notice it comes from), replacing any before; administrators.
    The caller has checked the file's type and size as for any attachment."""
    item = load_item(session, principal, item_id)
    principal.require_role("admin")
    before = {"attachment": item.attachment_name}
    item.attachment_name, item.attachment_type, item.attachment = filename, content_type, content
    item.version += 1
    session.add(item)
    desk_event(session, principal, "desk.attach", "assigned_item", item.id or 0, None, before,
               {"attachment": filename, "size": len(content)}, now)
    return item
