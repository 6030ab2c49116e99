"""A township's to-do list: its open deadlines, soonest first, with what each still lacks."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from domain.desk import light
from domain.review import EDITABLE
from domain.vocabulary import heading, period_label
from models import Campaign, Obligation, OrgUnit, Submission
from tasks.accounts import Principal
from tasks.calendar import load_work_calendar
from tasks.desk.settings import desk_settings
from tasks.registry import definition_of
from tasks.scope import scoped

OPEN = ["scheduled", "open", "submitted", "missed"]
WAITING = {"submitted": "等待审核", "in_review": "等待审核", "approved": "无", "rejected": "已不予通过"}


def todos(session: Session, principal: Principal, today: dt.date, *, limit: int = 100,
          missing: bool = False) -> list[dict[str, Any]]:
    """The open obligations of the caller's township (submitters only) that have opened by ``today``,
    soonest due first, each with its material's state; with ``missing``, also what the material still lacks."""
    principal.require_role("submitter")
    township_of = aliased(OrgUnit)
    stmt = scoped(select(Obligation, Campaign, OrgUnit, col(township_of.name))
                  .join(Campaign, col(Obligation.campaign_id) == Campaign.id)
                  .join(OrgUnit, col(Obligation.subject_id) == OrgUnit.id)
                  .join(township_of, col(township_of.id) == Campaign.township_id, isouter=True)
                  .where(col(Obligation.status).in_(OPEN), col(Obligation.opens_on) <= today),
                  principal, Campaign.township_id)
    rows = session.exec(stmt.order_by(col(Obligation.due_on), col(Obligation.id)).limit(limit)).all()
    subs = {s.obligation_id: s for s in session.exec(select(Submission).where(
        col(Submission.obligation_id).in_([o.id for o, _, _, _ in rows])))} if rows else {}
    items = []
    calendar, yellow = load_work_calendar(session), desk_settings().yellow_workdays
    for obligation, campaign, subject, township in rows:
        sub = subs.get(obligation.id)
        colour = light(obligation.status, obligation.due_on, today, calendar, yellow_workdays=yellow)
        items.append({
            "light": colour.value if colour else None, "light_label": colour.label if colour else "",
            "obligation_id": obligation.id, "campaign_id": campaign.id, "title": obligation.title, "kind": obligation.kind,
            "township_name": township, "subject": subject.code, "subject_name": subject.name, "period": obligation.period,
            "period_label": period_label(obligation.period),
            "heading": heading(obligation.title, township, subject.name, obligation.period),
            "due_on": obligation.due_on, "days_left": (obligation.due_on - today).days,
            "status": "open" if obligation.status == "scheduled" else obligation.status,
            "submission_id": sub.id if sub else None, "submission_status": sub.status if sub else None,
        })
    if missing:
        _add_missing(session, items)
    return items


def _add_missing(session: Session, items: list[dict[str, Any]]) -> None:
    """What each to-do still lacks: no material yet, the required fields left empty, or a decision pending."""
    campaigns: dict[int, Campaign | None] = {}
    for item in items:
        sid = item["submission_id"]
        if sid is None:
            item["missing"] = "尚未填报"
            continue
        sub = session.get(Submission, sid)
        if sub is None or sub.status not in EDITABLE:
            item["missing"] = WAITING.get(sub.status if sub else "", "")
            continue
        cid = sub.campaign_id
        if cid not in campaigns:
            campaigns[cid] = session.get(Campaign, cid)
        campaign = campaigns[cid]
        form = definition_of(campaign).form(sub.form_key) if campaign else None
        empty = [f.label for f in form.fields if f.required and sub.data.get(f.key) in (None, "", [])] if form else []
        prefix = ("已退回，待修改后重新提交" if sub.status == "returned" else
                  "尚未填报" if sub.created_by is None else "草稿未提交")
        item["missing"] = prefix + (f"；未填：{'、'.join(empty)}" if empty else "")
