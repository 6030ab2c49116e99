"""A campaign as a county clerk reads it: its stages on the official calendar (today marked, holidays shaded), then
its deadlines grouped by stage and by village, the open ones first, each with its submissions, the reminders sent
for it and its escalations (issue 17: the campaign page)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from sqlmodel import Session, col, select

from domain.timeline import campaign_timeline
from domain.vocabulary import ObligationStatus, period_label
from models import CampaignPublic, Escalation, ObligationPublic, ReminderLog, Submission
from tasks.accounts import Principal
from tasks.calendar import load_work_calendar
from tasks.reads.campaigns import get_campaign

NEEDS_ACTION = (ObligationStatus.OPEN, ObligationStatus.MISSED, ObligationStatus.SUBMITTED)
"""What a clerk looks at first: windows open now, deadlines missed, material waiting for review."""
NOT_YET = (ObligationStatus.SCHEDULED,)


def _rank(status: str) -> int:
    return 0 if status in NEEDS_ACTION else 1 if status in NOT_YET else 2


def _links(session: Session, ids: list[int]) -> tuple[dict[int, list[Any]], dict[int, list[Any]], dict[int, list[Any]]]:
    """Submissions, reminders (one per day, the opening request apart) and escalations of the deadlines ``ids``."""
    subs: dict[int, list[Any]] = defaultdict(list)
    reminders: dict[int, list[Any]] = defaultdict(list)
    escalations: dict[int, list[Any]] = defaultdict(list)
    if not ids:
        return subs, reminders, escalations
    for sub in session.exec(select(Submission).where(col(Submission.obligation_id).in_(ids)).order_by(col(Submission.id))):
        subs[sub.obligation_id or 0].append(sub)
    seen: set[tuple[int, dt.date, bool]] = set()
    for log in session.exec(select(ReminderLog).where(col(ReminderLog.obligation_id).in_(ids))
                            .order_by(col(ReminderLog.remind_on))):
        key = (log.obligation_id, log.remind_on, log.offset < 0)
        if key not in seen:
            seen.add(key)
            reminders[log.obligation_id].append(log)
    for esc in session.exec(select(Escalation).where(col(Escalation.obligation_id).in_(ids)).order_by(col(Escalation.id))):
        escalations[esc.obligation_id or 0].append(esc)
    return subs, reminders, escalations


def _row(o: ObligationPublic, subs: list[Any], reminders: list[Any], escalations: list[Any]) -> dict[str, Any]:
    return {"o": o, "period": period_label(o.period), "submissions": subs, "reminders": reminders,
            "escalations": escalations, "needs_action": o.status in NEEDS_ACTION}


def _groups(campaign: CampaignPublic, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Stage by stage (deadlines outside any stage last), then village by village (the township first), the
    deadlines needing action first and then by due date; a village with something to do comes first."""
    by_stage: dict[str | None, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        by_stage[row["o"].stage][row["o"].subject].append(row)
    stages = [(s.key, s.name, s.status) for s in campaign.stages] + [(None, "其他截止事项", None)]
    out = []
    for key, name, status in stages:
        subjects = by_stage.get(key)
        if not subjects:
            continue
        villages = []
        for code, items in subjects.items():
            items.sort(key=lambda r: (_rank(r["o"].status), r["o"].due_on, r["o"].key))
            villages.append({"code": code, "name": items[0]["o"].subject_name, "rows": items,
                             "open": sum(1 for r in items if r["needs_action"])})
        villages.sort(key=lambda v: (v["open"] == 0, v["code"] != campaign.township, v["code"]))
        out.append({"key": key, "name": name, "status": status, "villages": villages,
                    "open": sum(v["open"] for v in villages), "total": sum(len(v["rows"]) for v in villages)})
    return out


def campaign_overview(session: Session, principal: Principal, campaign_id: int, today: dt.date) -> dict[str, Any]:
    """The campaign page's model: the campaign, its timeline and its grouped deadlines; 404 outside scope."""
    campaign = get_campaign(session, principal, campaign_id)
    subs, reminders, escalations = _links(session, [o.id for o in campaign.obligations])
    rows = [_row(o, subs[o.id], reminders[o.id], escalations[o.id]) for o in campaign.obligations]
    timeline = campaign_timeline([(s.opens_on, s.closes_on) for s in campaign.stages], load_work_calendar(session),
                                 today) if campaign.stages else None
    return {"c": campaign, "timeline": timeline, "groups": _groups(campaign, rows),
            "open": sum(1 for r in rows if r["needs_action"]), "today": today}
