"""整改措施逾期 (004 §一.3 工作进展缓慢、整顿措施不力): a village still rectifying after the time limit of its
approved 一村一策 plan climbs the ladder like an overdue report, until it applies for acceptance. It opens at the
level its settings name: the weak-village definition opens it at the interview of the township's main leader,
as 004 §一.3 says (直接约谈乡镇党委主要负责同志), without 催办 or 督办 first.

Time-based: the tick climbs every such village to the level its delay requires.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, func
from sqlmodel import Session, col, select

from core.clock import china_date
from domain import escalation as rules
from domain.calendar import WorkCalendar
from domain.definitions import Definition
from domain.triggers import MEASURES_OVERDUE, MeasuresOverdueSpec
from domain.vocabulary import zh_date
from models import Campaign, Escalation, OrgUnit, Submission, User, VillageRectification
from tasks import escalation
from tasks.registry import all_versions, definition_of
from tasks.triggers.base import TimeTrigger, register


@dataclass(frozen=True)
class Late:
    """A village past its plan's time limit, and the ladder level the delay requires."""

    rectification: VillageRectification
    campaign: Campaign
    definition: Definition
    plan: Submission
    limit: dt.date
    target: int


def climb(session: Session, now: dt.datetime, calendar: WorkCalendar) -> int:
    """Move every village past its plan's time limit up the ladder; only the highest level reached is
    mailed and documented. Returns the number of levels recorded."""
    today = china_date(now)
    late = _late(session, today, calendar)
    if not late:
        return 0
    units = escalation.units_by_id(session, {x.campaign.township_id for x in late} | {x.rectification.village_id for x in late})
    users = escalation.active_users(session)
    return escalation.climb_each(session, late, lambda x: _climb_village(session, x, units, today, now, calendar, users))


_RECTIFYING = (  # built once: the tick asks every day
    select(VillageRectification, Campaign)
    .join(Campaign, col(VillageRectification.campaign_id) == Campaign.id)
    .where(col(VillageRectification.status) == "rectifying", col(Campaign.status) == "active",
           col(Campaign.definition_key).in_(bindparam("keys", expanding=True)))
)


def _late(session: Session, today: dt.date, calendar: WorkCalendar) -> list[Late]:
    """The rectifying villages of campaigns with the trigger on, below the level their delay requires."""
    keys = list({d.key for d in all_versions() if d.escalation.triggers.of(MEASURES_OVERDUE).enabled})
    if not keys:
        return []
    rows = session.exec(_RECTIFYING, params={"keys": keys}).all()
    if not rows:
        return []
    plans = _approved_plans(session, rows)
    reached = _levels_reached(session, [r.id or 0 for r, _ in rows])
    late = []
    for rect, campaign in rows:
        definition = definition_of(campaign)
        spec = definition.escalation.triggers.of(MEASURES_OVERDUE)
        if not spec.enabled:  # a version of the definition without the trigger
            continue
        plan = plans.get((campaign.id or 0, rect.village_id))
        limit = _time_limit(plan, spec) if plan is not None else None
        if plan is None or limit is None:
            continue
        target = rules.trigger_level_reached(definition.escalation, MEASURES_OVERDUE.key, limit, calendar, today)
        if reached.get(rect.id or 0, 0) < target:
            late.append(Late(rect, campaign, definition, plan, limit, target))
    return late


def _approved_plans(session: Session,
                    rows: Sequence[tuple[VillageRectification, Campaign]]) -> dict[tuple[int, int], Submission]:
    """Each village's latest approved plan, by (campaign, village)."""
    campaign_ids = {c.id for _, c in rows}
    plan_forms = {definition_of(c).escalation.triggers.of(MEASURES_OVERDUE).plan_form for _, c in rows}
    plans: dict[tuple[int, int], Submission] = {}
    for sub in session.exec(select(Submission).where(col(Submission.campaign_id).in_(campaign_ids),
                                                     col(Submission.form_key).in_(plan_forms),
                                                     col(Submission.status) == "approved")
                            .order_by(col(Submission.id))):
        plans[(sub.campaign_id, sub.subject_id)] = sub
    return plans


def _levels_reached(session: Session, rectification_ids: list[int]) -> dict[int, int]:
    """The highest level recorded so far, by rectification."""
    return {rect_id or 0: int(highest) for rect_id, highest in session.exec(
        select(Escalation.rectification_id, func.max(Escalation.level))
        .where(col(Escalation.trigger) == MEASURES_OVERDUE.key, col(Escalation.rectification_id).in_(rectification_ids))
        .group_by(col(Escalation.rectification_id)))}


def _time_limit(plan: Submission, spec: MeasuresOverdueSpec) -> dt.date | None:
    """The plan's time limit (整改时限), when it is its definition's plan form and names a date."""
    if plan.form_key != spec.plan_form:
        return None
    try:
        return dt.date.fromisoformat(str(plan.data.get(spec.time_limit_field)))
    except ValueError:
        return None


def _climb_village(session: Session, x: Late, units: dict[int, OrgUnit], today: dt.date, now: dt.datetime,
                   calendar: WorkCalendar, users: Sequence[User]) -> int:
    rect, plan, limit = x.rectification, x.plan, x.limit
    village = units[rect.village_id]
    history = list(session.exec(select(Escalation).where(
        Escalation.rectification_id == rect.id, Escalation.trigger == MEASURES_OVERDUE.key).order_by(col(Escalation.level))))
    current = max((h.level for h in history), default=0)
    days = (today - limit).days
    measures = str(plan.data.get("measures") or "")[:200]
    opening = x.definition.escalation.level_index(MEASURES_OVERDUE.key)

    def step(level: int) -> escalation.Step:
        name = x.definition.escalation.ladder[level - 1].name
        return escalation.Step(
            campaign=x.campaign, township=units[x.campaign.township_id], trigger=MEASURES_OVERDUE.key, level=level,
            key=MEASURES_OVERDUE.step_key(rect.id or 0, level), item_title=f"{village.name}整顿措施落实",
            subject=village, submission_id=plan.id, rectification_id=rect.id, due_on=limit,
            period=f"整改时限{zh_date(limit)}",
            reason=f"{village.name}“一村一策”整改时限为{zh_date(limit)}，已超过{days}天仍在整顿中、未申请验收，"
                   f"工作进展缓慢、整顿措施不力，{'直接' if level == opening > 1 else '升级为'}{name}",
            evidence={"plan_submission_id": plan.id, "time_limit": limit, "days_over": days,
                      "measures": measures, "rectification_status": rect.status},
        )

    climbed = escalation.climb_levels(session, x.definition, MEASURES_OVERDUE.key, current, x.target, step, history, now,
                                      calendar=calendar, users=users)
    escalation.mark_escalated(session, [Escalation.rectification_id == rect.id, Escalation.trigger == MEASURES_OVERDUE.key],
                              max(current, x.target))
    return climbed


def resolve(session: Session, now: dt.datetime, rectification_id: int) -> int:
    """The village applied for acceptance: its climb stops, recording how late the measures came."""
    return escalation.resolve(session, now, trigger=MEASURES_OVERDUE.key, what="申请验收", rectification_id=rectification_id)


TRIGGER = register(TimeTrigger(MEASURES_OVERDUE, climb))
