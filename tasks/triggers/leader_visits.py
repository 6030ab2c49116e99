"""县领导到点不足 (003 §三(一) "县领导每半年到挂钩联系点不少于3次"): after each half-year, every county leader with
fewer visits to their contact village than the definition's ``stationing.leader_min_visits`` is escalated to the
县委基层办 — mailed to the county's administrators and county reviewers, not to the township.

Time-based: the tick's first run on or after 1 July checks the first half-year, on or after 1 January the second
half of the year before. The step is recorded on the cadres-in-villages campaign of the leader's township for
that year (no campaign launched: no step), keyed ``leader_visits:<leader code>:<year>H<half>`` so that a re-run
tick records and mails nothing twice."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from core.clock import china_date
from domain.calendar import WorkCalendar
from domain.triggers import LEADER_VISITS
from domain.vocabulary import CampaignStatus
from domain.work_records import HalfYear, last_ended_half_year, leader_visits_key, too_few_visits, visits_reason
from models import Campaign, Escalation, Leader, LeaderLevel, LeaderVisit, User
from notifications.outbox import absolute_url, enqueue_mail
from tasks import escalation
from tasks.registry import all_versions, definition_of
from tasks.triggers.base import TimeTrigger, register

_CAMPAIGNS = (  # built once: the tick asks every day
    select(Campaign).where(col(Campaign.definition_key).in_(bindparam("keys", expanding=True)),
                           Campaign.year == bindparam("year"), col(Campaign.status) != CampaignStatus.CANCELLED)
    .order_by(col(Campaign.id))
)


def _campaigns(session: Session, year: int) -> dict[int, Campaign]:
    """The year's campaigns of the definitions that enable the trigger, by township (not cancelled)."""
    keys = [d.key for d in all_versions()
            if d.stationing is not None and d.escalation.triggers.of(LEADER_VISITS).enabled]
    if not keys:
        return {}
    return {c.township_id: c for c in session.exec(_CAMPAIGNS, params={"keys": keys, "year": year})}


def visits_by_leader(session: Session, period: HalfYear, leader_ids: Sequence[int]) -> dict[int, int]:
    """How many visits each leader recorded in ``period``."""
    if not leader_ids:
        return {}
    rows = session.exec(select(LeaderVisit.leader_id, func.count()).where(
        col(LeaderVisit.leader_id).in_(leader_ids), col(LeaderVisit.visited_on) >= period.first_day,
        col(LeaderVisit.visited_on) <= period.last_day).group_by(col(LeaderVisit.leader_id)))
    return {leader_id: int(n) for leader_id, n in rows}


def climb(session: Session, now: dt.datetime, calendar: WorkCalendar) -> int:
    """Escalate the county leaders below the minimum in the half-year that ended last; the steps recorded."""
    period = last_ended_half_year(china_date(now))
    campaigns = _campaigns(session, period.year)
    if not campaigns:
        return 0
    leaders = list(session.exec(select(Leader).where(Leader.level == LeaderLevel.COUNTY,
                                                     col(Leader.township_id).in_(campaigns)).order_by(col(Leader.code))))
    keys = {leader_visits_key(p.code, period): p for p in leaders}
    done = set(session.exec(select(Escalation.key).where(col(Escalation.key).in_(keys))))
    leaders = [p for key, p in keys.items() if key not in done]
    counts = visits_by_leader(session, period, [p.id or 0 for p in leaders])
    units = escalation.units_by_id(session, {p.township_id for p in leaders} | {p.village_id for p in leaders})
    users = escalation.active_users(session)
    recorded = 0
    for leader in leaders:
        campaign = campaigns[leader.township_id]
        definition = definition_of(campaign)
        minimum = definition.stationing.leader_min_visits if definition.stationing else 0
        visits = counts.get(leader.id or 0, 0)
        if not too_few_visits(visits, minimum):
            continue
        step = escalation.Step(
            campaign=campaign, township=units[leader.township_id], trigger=LEADER_VISITS.key, level=1,
            key=leader_visits_key(leader.code, period), item_title=f"{leader.name}到挂钩联系点情况（{period.label}）",
            subject=units[leader.village_id], due_on=period.last_day, period=period.label,
            reason=visits_reason(leader.post, leader.name, period, visits, minimum),
            evidence={"leader": leader.code, "half_year": period.code, "visits": visits, "minimum": minimum})
        try:
            with session.begin_nested():  # a concurrent tick recorded it first: nothing to add
                esc = escalation.record_step(session, definition, step, now, calendar=calendar, users=users,
                                             notify=False)
                _mail_county(session, step, esc, users, now)
        except IntegrityError:
            continue
        recorded += 1
    return recorded


def _mail_county(session: Session, step: escalation.Step, esc: Escalation, users: Sequence[User],
                 now: dt.datetime) -> None:
    """Mail the step to the 县委基层办: the county's administrators and county reviewers (003 §三(一) concerns the
    county's own leaders, so the township is not told)."""
    township = step.township.name
    context: dict[str, Any] = {
        "title": step.item_title, "township": township, "subject_unit": step.subject.name if step.subject else township,
        "period": step.period, "due_date": esc.due_on, "today": china_date(now), "days_late": None,
        "level": esc.level, "level_name": esc.level_name, "next_level_name": None, "trigger": esc.trigger,
        "trigger_label": LEADER_VISITS.label, "reason": esc.reason, "findings": [], "new_due_on": esc.new_due_on,
        "document_number": None, "case_opened": False, "confirmed": False, "awaiting_check": False,
        "link": absolute_url(LEADER_VISITS.link),
    }
    for user in users:
        if user.role == "admin" or (user.role == "reviewer" and user.level == "county"):
            enqueue_mail(session, key=f"escalation:{step.key}:{user.id}", to=user, template=LEADER_VISITS.mail_template,
                         context=context, now=now)


TRIGGER = register(TimeTrigger(LEADER_VISITS, climb))
