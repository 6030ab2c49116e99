"""What the desk's pages, ledger, bulletins and scores read: each recipient as a row (its item, its deadline,
its light, how late it closed, its extensions and escalations), and the per-township counts of a period."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from sqlmodel import Session, col, select

from core.clock import china_date
from domain import desk as rules
from domain.calendar import WorkCalendar
from domain.vocabulary import ExtensionStatus, ItemSource, Light, ObligationStatus, RecipientStatus
from models import AccountabilityCase, Escalation, Obligation, OrgUnit, Submission
from models.desk import AssignedItem, ExtensionRequest, ItemRecipient
from tasks.accounts import Principal
from tasks.desk.settings import FEEDBACK_RULE, desk_settings, item_number
from tasks.scope import scoped


def recipient_status(recipient: ItemRecipient, closing: Obligation, today: dt.date) -> RecipientStatus:
    if closing.status == ObligationStatus.MET:
        return RecipientStatus.CLOSED
    if closing.status == ObligationStatus.LATE:
        return RecipientStatus.CLOSED_LATE
    if closing.status == ObligationStatus.SUBMITTED:
        return RecipientStatus.SUBMITTED
    if closing.due_on < today:
        return RecipientStatus.OVERDUE
    return RecipientStatus.SIGNED if recipient.acknowledged_at else RecipientStatus.UNSIGNED


def feedback_behind(session: Session, item_ids: list[int], today: dt.date) -> set[tuple[int, int]]:
    """(item, township) pairs with a periodic feedback past its date and not in (its obligation missed)."""
    if not item_ids:
        return set()
    wanted = set(item_ids)
    rows = session.exec(select(Obligation.key, Obligation.subject_id).where(
        col(Obligation.status) == ObligationStatus.MISSED, col(Obligation.rule_key) == FEEDBACK_RULE))
    return {(int(key.split(":")[1]), subject) for key, subject in rows if int(key.split(":")[1]) in wanted}


def recipient_rows(session: Session, principal: Principal, today: dt.date, calendar: WorkCalendar, *,
                   item_id: int | None = None, township: str | None = None, light: str | None = None,
                   year: int | None = None) -> list[dict[str, Any]]:
    """Every recipient the caller may see (of one item, township or year), newest item first, with its light."""
    stmt = scoped(select(ItemRecipient, AssignedItem, Obligation, OrgUnit)
                  .join(AssignedItem, col(ItemRecipient.item_id) == AssignedItem.id)
                  .join(Obligation, col(ItemRecipient.obligation_id) == Obligation.id)
                  .join(OrgUnit, col(ItemRecipient.township_id) == OrgUnit.id), principal, ItemRecipient.township_id)
    if item_id is not None:
        stmt = stmt.where(ItemRecipient.item_id == item_id)
    if township:
        stmt = stmt.where(OrgUnit.code == township)
    if year is not None:
        stmt = stmt.where(AssignedItem.year == year)
    rows = session.exec(stmt.order_by(col(AssignedItem.id).desc(), col(OrgUnit.code))).all()
    behind = feedback_behind(session, list({i.id or 0 for _, i, _, _ in rows}), today)
    extensions = _extensions(session, [r.id or 0 for r, _, _, _ in rows])
    levels = _levels(session, [o.id or 0 for _, _, o, _ in rows])
    subs = {s.obligation_id: s for s in session.exec(select(Submission).where(
        col(Submission.obligation_id).in_([o.id for _, _, o, _ in rows])))} if rows else {}
    yellow = desk_settings().yellow_workdays
    out = []
    for recipient, item, closing, unit in rows:
        colour = rules.light(closing.status, closing.due_on, today, calendar, yellow_workdays=yellow,
                             feedback_behind=(item.id, unit.id) in behind)
        if light and (colour.value if colour else "") != light:
            continue
        out.append(_row(recipient, item, closing, unit, today, colour, extensions.get(recipient.id or 0, []),
                        levels.get(closing.id or 0, 0), subs.get(closing.id)))
    return out


def _row(recipient: ItemRecipient, item: AssignedItem, closing: Obligation, unit: OrgUnit, today: dt.date,
         colour: Light | None, extensions: list[ExtensionRequest], level: int, sub: Submission | None) -> dict[str, Any]:
    status = recipient_status(recipient, closing, today)
    granted = [e for e in extensions if e.status == ExtensionStatus.APPROVED]
    return {
        "recipient_id": recipient.id, "item_id": item.id, "number": item_number(item.year, item.seq),
        "title": item.title, "source": item.source, "source_label": ItemSource.label_of(item.source),
        "township": unit.code, "township_name": unit.name, "assigned_at": item.created_at,
        "acknowledged_at": recipient.acknowledged_at, "original_due_on": closing.nominal_due_on,
        "due_on": closing.due_on, "status": status.value, "status_label": status.label,
        "light": colour.value if colour else None, "light_label": colour.label if colour else "",
        "closed_on": closing.met_on, "days_late": rules.days_late(closing.due_on, closing.met_on),
        "extensions": len(granted), "escalation_level": level, "obligation_id": closing.id,
        "ack_obligation_id": recipient.ack_obligation_id,
        "submission_id": sub.id if sub else None, "submission_status": sub.status if sub else None,
        "version": recipient.version,
        "extension_requests": [extension_dict(e) for e in extensions],
    }


def extension_dict(e: ExtensionRequest) -> dict[str, Any]:
    return {"id": e.id, "status": e.status, "status_label": ExtensionStatus.label_of(e.status),
            "original_due_on": e.original_due_on, "proposed_on": e.proposed_on, "reason": e.reason,
            "progress": e.progress, "requested_at": e.requested_at, "decide_by": e.decide_by,
            "decided_by": e.decided_by, "decided_at": e.decided_at, "comment": e.comment, "version": e.version}


def _extensions(session: Session, recipient_ids: list[int]) -> dict[int, list[ExtensionRequest]]:
    out: dict[int, list[ExtensionRequest]] = defaultdict(list)
    if recipient_ids:
        for e in session.exec(select(ExtensionRequest).where(col(ExtensionRequest.recipient_id).in_(recipient_ids))
                              .order_by(col(ExtensionRequest.id))):
            out[e.recipient_id].append(e)
    return out


def _levels(session: Session, obligation_ids: list[int]) -> dict[int, int]:
    out: dict[int, int] = {}
    if obligation_ids:
        for esc in session.exec(select(Escalation).where(col(Escalation.obligation_id).in_(obligation_ids))):
            out[esc.obligation_id or 0] = max(out.get(esc.obligation_id or 0, 0), esc.level)
    return out


def township_records(session: Session, start: dt.date, end: dt.date) -> dict[int, rules.TownshipRecord]:
    """Per township, the items assigned by ``end`` in ``end``'s year as they stood at ``end``: on time, late,
    open, overdue; extensions granted, escalation levels reached (sign-for and 办结) and cases in the period."""
    counts: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    rows = session.exec(select(ItemRecipient, AssignedItem, Obligation)
                        .join(AssignedItem, col(ItemRecipient.item_id) == AssignedItem.id)
                        .join(Obligation, col(ItemRecipient.obligation_id) == Obligation.id)
                        .where(AssignedItem.year == end.year)).all()
    for recipient, item, closing in rows:
        if china_date(item.created_at) > end:
            continue
        c = counts[recipient.township_id]
        c["assigned"] += 1
        done = closing.met_on is not None and closing.met_on <= end
        if done and closing.status == ObligationStatus.MET:
            c["on_time"] += 1
        elif done:
            c["late"] += 1
        else:
            c["open"] += 1
            c["overdue"] += int(closing.due_on < end)
        for ext in session.exec(select(ExtensionRequest).where(ExtensionRequest.recipient_id == recipient.id,
                                                               ExtensionRequest.status == ExtensionStatus.APPROVED)):
            c["extensions"] += int(ext.decided_at is not None and start <= china_date(ext.decided_at) <= end)
        for esc in session.exec(select(Escalation).where(col(Escalation.obligation_id).in_(
                [recipient.obligation_id, recipient.ack_obligation_id]))):
            c["levels"] += int(start <= china_date(esc.created_at) <= end)
            c["cases"] += sum(1 for opened in session.exec(select(AccountabilityCase.created_at).where(
                AccountabilityCase.escalation_id == esc.id)) if start <= china_date(opened) <= end)
    return {tid: rules.TownshipRecord(**c) for tid, c in counts.items()}
