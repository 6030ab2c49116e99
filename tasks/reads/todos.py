"""A township's to-do list: its open deadlines, soonest first, with what each still lacks."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select as columns
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
    # the columns the list shows, not entities: the API's list is read on every visit of the township's liaisons
    stmt: Any = scoped(columns(col(Obligation.id), col(Obligation.campaign_id), col(Obligation.title), col(Obligation.kind),
                         col(Obligation.period), col(Obligation.due_on), col(Obligation.status), col(OrgUnit.code),
                         col(OrgUnit.name), col(township_of.name).label("township"))
                  .join(Campaign, col(Obligation.campaign_id) == Campaign.id)
                  .join(OrgUnit, col(Obligation.subject_id) == OrgUnit.id)
                  .join(township_of, col(township_of.id) == Campaign.township_id, isouter=True)
                  .where(col(Obligation.status).in_(OPEN), col(Obligation.opens_on) <= today),
                  principal, Campaign.township_id)
    rows = session.execute(stmt.order_by(col(Obligation.due_on), col(Obligation.id)).limit(limit)).all()
    subs = _submissions(session, [row[0] for row in rows], entities=missing) if rows else {}
    items = []
    calendar, yellow = load_work_calendar(session), desk_settings().yellow_workdays
    for ob_id, campaign_id, title, kind, period, due_on, status, subject_code, subject_name, township in rows:
        sub = subs.get(ob_id)
        colour = light(status, due_on, today, calendar, yellow_workdays=yellow)
        items.append({
            "light": colour.value if colour else None, "light_label": colour.label if colour else "",
            "obligation_id": ob_id, "campaign_id": campaign_id, "title": title, "kind": kind,
            "township_name": township, "subject": subject_code, "subject_name": subject_name, "period": period,
            "period_label": period_label(period),
            "heading": heading(title, township, subject_name, period),
            "due_on": due_on, "days_left": (due_on - today).days,
            "status": "open" if status == "scheduled" else status,
            "submission_id": sub[0] if sub else None, "submission_status": sub[1] if sub else None,
        })
    if missing:
        _add_missing(session, items)
    return items


def _submissions(session: Session, obligation_ids: list[int], *, entities: bool) -> dict[int, tuple[Any, Any]]:
    """(id, status) of the material of each deadline; with ``entities`` the submissions are loaded whole as well
    (into the session, for :func:`_add_missing`)."""
    if entities:
        return {s.obligation_id or 0: (s.id, s.status)
                for s in session.exec(select(Submission).where(col(Submission.obligation_id).in_(obligation_ids)))}
    return {ob_id: (sub_id, status) for ob_id, sub_id, status in session.execute(
        columns(col(Submission.obligation_id), col(Submission.id), col(Submission.status))
        .where(col(Submission.obligation_id).in_(obligation_ids)))}


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
