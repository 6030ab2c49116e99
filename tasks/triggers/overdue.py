"""逾期未报 (004 §一.3): a deadline passed with nothing submitted climbs the ladder level by level on working
days, until the report arrives.

Time-based: the tick climbs every missed obligation to the level its lateness requires.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam
from sqlmodel import Session, col, select

from core.clock import china_date
from domain import escalation as rules
from domain.calendar import WorkCalendar
from domain.definitions import Definition
from domain.triggers import OVERDUE
from domain.vocabulary import period_label, zh_date
from models import Campaign, Escalation, Obligation, OrgUnit, User
from tasks import escalation
from tasks.registry import all_versions, definition_of
from tasks.triggers.base import TimeTrigger, register


@dataclass(frozen=True)
class Missed:
    """A missed obligation below the ladder level its lateness requires."""

    obligation: Obligation
    campaign: Campaign
    subject: OrgUnit
    definition: Definition
    target: int


def climb(session: Session, now: dt.datetime, calendar: WorkCalendar) -> int:
    """Move every missed obligation up its ladder to the level its lateness requires.

    All levels reached are recorded (after downtime several at once), but only the highest produces
    its document and mails (never a burst of stale ones). Returns the number of levels recorded.
    """
    today = china_date(now)
    missed = _missed(session, today, calendar)
    if not missed:
        return 0
    towns = escalation.units_by_id(session, {x.campaign.township_id for x in missed})
    users = escalation.active_users(session)
    return escalation.climb_each(session, missed, lambda x: _climb_obligation(
        session, x, towns[x.campaign.township_id], today, now, calendar, users))


_MISSED = (  # built once: the tick asks every day (an obligation at the top of every ladder has nothing left to climb)
    select(Obligation, Campaign, OrgUnit)
    .join(Campaign, col(Obligation.campaign_id) == Campaign.id)
    .join(OrgUnit, col(Obligation.subject_id) == OrgUnit.id)
    .where(col(Obligation.status) == "missed", col(Campaign.status) == "active",
           col(Obligation.escalation_level) < bindparam("top"))
)


def _missed(session: Session, today: dt.date, calendar: WorkCalendar) -> list[Missed]:
    """The missed obligations below the level their lateness requires, with that level."""
    top = max((len(d.escalation.ladder) for d in all_versions()), default=0)
    rows = session.exec(_MISSED, params={"top": top}).all()
    missed = []
    for ob, campaign, subject in rows:
        definition = definition_of(campaign)
        if not definition.escalation.triggers.of(OVERDUE).enabled:
            continue
        target = rules.trigger_level_reached(definition.escalation, OVERDUE.key, ob.due_on, calendar, today)
        if ob.escalation_level < target:
            missed.append(Missed(ob, campaign, subject, definition, target))
    return missed


def _climb_obligation(session: Session, x: Missed, township: OrgUnit, today: dt.date, now: dt.datetime,
                      calendar: WorkCalendar, users: Sequence[User]) -> int:
    ob, subject, ladder = x.obligation, x.subject, x.definition.escalation.ladder
    days_late = (today - ob.due_on).days
    history = list(session.exec(select(Escalation).where(Escalation.obligation_id == ob.id, Escalation.trigger == OVERDUE.key)
                                .order_by(col(Escalation.level))))

    def step(level: int) -> escalation.Step:
        ob.escalation_level = level  # the obligation carries the level it reached
        return escalation.Step(
            campaign=x.campaign, township=township, trigger=OVERDUE.key, level=level, key=OVERDUE.step_key(ob.id or 0, level),
            item_title=ob.title, subject=subject, obligation=ob, due_on=ob.due_on, period=ob.period,
            reason=f"“{ob.title}”（{subject.name}，{period_label(ob.period)}）应于{zh_date(ob.due_on)}前报送，"
                   f"逾期{days_late}天仍未报送，升级为{ladder[level - 1].name}",
            evidence={"due_on": ob.due_on, "days_late": days_late, "checked_on": today},
        )

    climbed = escalation.climb_levels(session, x.definition, OVERDUE.key, ob.escalation_level, x.target, step, history,
                                      now, calendar=calendar, users=users)
    escalation.mark_escalated(session, [Escalation.obligation_id == ob.id, Escalation.trigger == OVERDUE.key],
                              ob.escalation_level)
    ob.version += 1
    session.add(ob)
    return climbed


def resolve(session: Session, now: dt.datetime, obligation_id: int) -> int:
    """The report arrived: the obligation's climb stops, recording how late it came."""
    return escalation.resolve(session, now, trigger=OVERDUE.key, what="报送", obligation_id=obligation_id)


TRIGGER = register(TimeTrigger(OVERDUE, climb))
